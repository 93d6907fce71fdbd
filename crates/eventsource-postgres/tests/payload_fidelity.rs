//! Payloads, envelopes and instants come back exactly as written, or are
//! refused with a clear error before anything is written.

mod support;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use eventsource::testing::{event_for, payload_event};
use eventsource::{EventStore, ExpectedVersion, JsonObject, RawEvent, ReadAllOptions, StoreError, StreamId};
use eventsource_postgres::PostgresEventStore;
use futures::TryStreamExt;
use serde_json::{json, Value};
use support::TestDatabase;
use uuid::Uuid;

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(object) => object,
        other => panic!("not an object: {other}"),
    }
}

/// Stores `event` as a new stream and reads it back through the stream and
/// through the feed, asserting both equal it exactly, including the JSON
/// text of payload and metadata.
async fn round_trip(store: &PostgresEventStore, event: RawEvent) {
    store
        .append(ExpectedVersion::NoStream, vec![event.clone()])
        .await
        .expect("the event is stored");
    let from_stream = store.read_stream(&StreamId::of(&event), 0).await.unwrap();
    let from_feed: Vec<_> = store
        .read_all(ReadAllOptions::default())
        .try_collect()
        .await
        .unwrap();
    let from_feed = from_feed
        .into_iter()
        .find(|e| e.event.envelope.event_id == event.envelope.event_id)
        .unwrap();
    for read in [&from_stream[0].event, &from_feed.event] {
        assert_eq!(read, &event);
        assert_eq!(
            serde_json::to_string(&read.payload).unwrap(),
            serde_json::to_string(&event.payload).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&read.envelope.metadata).unwrap(),
            serde_json::to_string(&event.envelope.metadata).unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_in_payload_and_metadata_which_jsonb_refuses_are_stored_exactly() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let payload = object(json!({
        "text": "before\u{0}after",
        "key with \u{0} inside": ["\u{0}", {"\u{0}": "\u{0}\u{0}"}],
    }));
    let mut event = payload_event(Uuid::new_v4(), "Order", 1, None, payload);
    event.envelope.metadata = object(json!({"trace": "\u{0}"}));
    round_trip(&store, event.clone()).await;

    // The column holds the escape as written, which `jsonb` would refuse.
    let text: String = sqlx::query_scalar("SELECT payload::text FROM events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(text.contains(r"before\u0000after"), "{text}");
    let as_jsonb = sqlx::query("SELECT payload::jsonb FROM events")
        .execute(store.pool())
        .await;
    assert!(
        as_jsonb.is_err(),
        "jsonb refuses \\u0000, which is why the column is json"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_unicode_and_numbers_beyond_f64_keep_their_exact_text() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let numbers = r#"{
        "integer_beyond_u128": 1234567890123456789012345678901234567890123456789,
        "negative_beyond_i64": -98765432109876543210,
        "pi_to_forty_digits": 3.141592653589793238462643383279502884197,
        "tiny": 1e-400,
        "huge": 1.5E+400,
        "negative_zero": -0.0,
        "trailing_zeros": 2.50000
    }"#;
    let mut payload: JsonObject = serde_json::from_str(numbers).unwrap();
    let texts = [
        ("latin", "Grüße, ça va, Øre, ß"),
        ("cjk", "漢字かなカナ한국어"),
        ("astral", "𝄞 𐍈 𠜎 🧑‍🚀 👩🏽‍💻 🇳🇴"),
        ("right_to_left", "שלום مرحبا"),
        ("combining", "e\u{301} a\u{308}\u{331}"),
        (
            "invisible",
            "zero\u{200B}width\u{FEFF}bom\u{2028}line\u{2029}para",
        ),
        ("controls", "\u{1}\u{8}\t\n\r\u{1F}\u{7F}\u{85}"),
        ("noncharacters", "\u{FFFE}\u{FFFF}\u{10FFFF}"),
        ("escapes", "quote \" backslash \\ slash /"),
    ];
    for (key, text) in texts {
        payload.insert(key.to_owned(), json!(text));
        payload.insert(text.to_owned(), json!(key));
    }
    let mut event = payload_event(Uuid::new_v4(), "Order", 1, None, payload);
    event.envelope.actor_id = Some("🧑‍🚀 astronaut".to_owned());
    round_trip(&store, event.clone()).await;

    let read = &store.read_stream(&StreamId::of(&event), 0).await.unwrap()[0]
        .event
        .payload;
    let digits: Vec<String> = [
        "integer_beyond_u128",
        "pi_to_forty_digits",
        "tiny",
        "negative_zero",
        "trailing_zeros",
    ]
    .iter()
    .map(|key| read[*key].to_string())
    .collect();
    assert_eq!(
        digits,
        [
            "1234567890123456789012345678901234567890123456789",
            "3.141592653589793238462643383279502884197",
            "1e-400",
            "-0.0",
            "2.50000"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_of_multibyte_text_round_trips_in_a_batch() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let id = Uuid::new_v4();
    let events: Vec<RawEvent> = (1..=3)
        .map(|version| {
            let text = "é𝄞漢".repeat(120_000); // 1,080,000 bytes of 2-, 4- and 3-byte characters
            payload_event(
                id,
                "Document",
                version,
                None,
                object(json!({ "body": text, "v": version })),
            )
        })
        .collect();
    store
        .append(ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    let read: Vec<RawEvent> = store
        .read_stream(&StreamId::of(&events[0]), 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(read, events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instants_keep_their_microseconds_across_the_whole_range_and_finer_digits_are_truncated() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let micros =
        |naive: chrono::NaiveDateTime, micros: i64| naive.and_utc() + chrono::Duration::microseconds(micros);
    let date = |y, m, d| {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    };
    let instants: Vec<DateTime<Utc>> = vec![
        micros(date(2026, 3, 30), 27_950_532_084),
        micros(date(1969, 12, 31), 86_399_999_999),
        micros(date(1, 1, 1), 1),
        micros(date(-4000, 6, 15), 123_456),
        micros(date(200_000, 12, 31), 999_999),
    ];
    let id = Uuid::new_v4();
    let events: Vec<RawEvent> = instants
        .iter()
        .enumerate()
        .map(|(i, instant)| {
            let mut event = event_for(id, "Order", i as u64 + 1, None);
            event.envelope.occurred_at = *instant;
            event
        })
        .collect();
    store.append(ExpectedVersion::NoStream, events).await.unwrap();
    let read: Vec<_> = store
        .read_stream(&StreamId::new(id, "Order"), 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.envelope.occurred_at)
        .collect();
    assert_eq!(read, instants);

    // Nanoseconds are not kept: the instant is truncated to its microsecond.
    let mut fine = event_for(Uuid::new_v4(), "Order", 1, None);
    fine.envelope.occurred_at =
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::nanoseconds(123_456_789);
    store
        .append(ExpectedVersion::NoStream, vec![fine.clone()])
        .await
        .unwrap();
    let read = store.read_stream(&StreamId::of(&fine), 0).await.unwrap()[0]
        .event
        .envelope
        .occurred_at;
    assert_eq!(
        read,
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(123_456)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_postgresql_cannot_store_exactly_is_refused_before_anything_is_written() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let fine = || event_for(Uuid::new_v4(), "Order", 1, None);
    let cases: Vec<(&str, RawEvent, &str)> = vec![
        (
            "a NUL in the actor",
            {
                let mut e = fine();
                e.envelope.actor_id = Some("a\0b".into());
                e
            },
            "actor_id",
        ),
        (
            "a NUL in the event type",
            {
                let mut e = fine();
                e.envelope.event_type = "Order\0Changed".into();
                e
            },
            "event_type",
        ),
        (
            "an aggregate type of 256 characters",
            payload_event(Uuid::new_v4(), &"é".repeat(256), 1, None, JsonObject::new()),
            "aggregate_type",
        ),
        (
            "an actor of 256 characters",
            {
                let mut e = fine();
                e.envelope.actor_id = Some("x".repeat(256));
                e
            },
            "actor_id",
        ),
        (
            "a payload version beyond INTEGER",
            {
                let mut e = fine();
                e.envelope.event_version = u32::MAX;
                e
            },
            "event_version",
        ),
        (
            "an instant before 4713 BC",
            {
                let mut e = fine();
                e.envelope.occurred_at = NaiveDate::from_ymd_opt(-5000, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    .and_utc();
                e
            },
            "occurred_at",
        ),
    ];
    for (what, bad, field) in cases {
        // The refused event shares its batch with a good one of another
        // stream: neither is written.
        let writes = [
            eventsource::StreamWrite {
                expected: ExpectedVersion::NoStream,
                events: vec![fine()],
            },
            eventsource::StreamWrite {
                expected: ExpectedVersion::NoStream,
                events: vec![bad.clone()],
            },
        ];
        match store.append_streams(&writes).await {
            Err(StoreError::InvalidArgument(message)) => {
                assert!(message.contains(field), "{what}: {message}");
                assert!(
                    message.contains(&bad.envelope.event_id.to_string()),
                    "{what}: {message}"
                );
                assert!(message.contains("nothing was written"), "{what}: {message}");
            }
            other => panic!("{what}: expected an invalid argument, got {other:?}"),
        }
    }
    let id = Uuid::new_v4();
    let beyond = i32::MAX as u64 + 1;
    let too_far = vec![event_for(id, "Order", beyond, None)];
    let refused = store.append(ExpectedVersion::Exact(beyond - 1), too_far).await;
    assert!(
        matches!(refused, Err(StoreError::InvalidArgument(ref m)) if m.contains("aggregate_version")),
        "{refused:?}"
    );
    assert_eq!(
        store.current_position().await.unwrap(),
        None,
        "nothing was written"
    );
}
