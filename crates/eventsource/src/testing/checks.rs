//! The checks of the conformance suite, one public function per guarantee.
//! Each takes a fresh, empty store.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use serde_json::{json, Value};
use uuid::Uuid;

use super::fixtures::{at, event_for, payload_event, stream_of};
use crate::event::{JsonObject, StoredEvent};
use crate::store::{
    EventFilter, EventStore, ExpectedVersion, ReadAllOptions, StoreError, StreamId, StreamWrite, TenantFilter,
};
use crate::tenant::TenantId;

type Store = Arc<dyn EventStore>;

async fn feed(store: &Store, options: ReadAllOptions) -> Vec<StoredEvent> {
    store
        .read_all(options)
        .try_collect()
        .await
        .expect("the feed reads")
}

async fn all_events(store: &Store) -> Vec<StoredEvent> {
    feed(store, ReadAllOptions::default()).await
}

async fn append_new(store: &Store, events: Vec<crate::event::RawEvent>) -> Vec<u64> {
    store
        .append(ExpectedVersion::NoStream, events)
        .await
        .expect("appending a new stream succeeds")
        .positions
}

fn write(expected: ExpectedVersion, events: Vec<crate::event::RawEvent>) -> StreamWrite {
    StreamWrite { expected, events }
}

/// All events of one call are stored, or none: a multi-stream append whose
/// last stream conflicts stores nothing of the earlier streams.
pub async fn an_append_is_atomic_across_streams(store: Store) {
    let existing = stream_of("Order", 1, None);
    append_new(&store, existing.clone()).await;
    let fresh = stream_of("Order", 3, None);
    let stale = vec![event_for(existing[0].envelope.aggregate_id, "Order", 2, None)];

    let result = store
        .append_streams(&[
            write(ExpectedVersion::NoStream, fresh.clone()),
            write(ExpectedVersion::Exact(0), {
                let mut stale = stale.clone();
                stale[0].envelope.aggregate_version = 1;
                stale
            }),
        ])
        .await;
    assert!(
        matches!(result, Err(StoreError::Concurrency { actual: 1, .. })),
        "{result:?}"
    );
    assert_eq!(store.stream_version(&StreamId::of(&fresh[0])).await.unwrap(), 0);
    assert_eq!(all_events(&store).await.len(), 1);

    let result = store
        .append_streams(&[
            write(ExpectedVersion::NoStream, fresh.clone()),
            write(ExpectedVersion::Exact(1), stale),
        ])
        .await
        .expect("both expectations hold");
    assert_eq!(result.positions.len(), 4);
    assert!(result.positions.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(all_events(&store).await.len(), 5);
}

/// A conflict names the expectation and the actual version, and the stream
/// is unchanged afterwards.
pub async fn a_conflicting_append_writes_nothing(store: Store) {
    let events = stream_of("Order", 2, None);
    let stream = StreamId::of(&events[0]);
    append_new(&store, events).await;

    let late = vec![event_for(stream.aggregate_id, "Order", 2, None)];
    match store.append(ExpectedVersion::Exact(1), late.clone()).await {
        Err(StoreError::Concurrency {
            stream: conflicted,
            expected,
            actual,
        }) => {
            assert_eq!(conflicted, stream);
            assert_eq!(expected, ExpectedVersion::Exact(1));
            assert_eq!(actual, 2);
        }
        other => panic!("expected a concurrency conflict, got {other:?}"),
    }
    let message = store
        .append(ExpectedVersion::Exact(1), late.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("version 1") && message.contains("actual version 2"),
        "{message}"
    );
    assert_eq!(store.stream_version(&stream).await.unwrap(), 2);
    assert!(!store.event_exists(late[0].envelope.event_id).await.unwrap());
}

/// Sixteen writers append to one stream at the same expected version:
/// exactly one wins, the others get a conflict naming version 1.
pub async fn exactly_one_of_many_racing_writers_wins(store: Store) {
    let first = stream_of("Order", 1, None);
    let stream = StreamId::of(&first[0]);
    append_new(&store, first).await;

    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let events = vec![
                event_for(stream.aggregate_id, "Order", 2, None),
                event_for(stream.aggregate_id, "Order", 3, None),
            ];
            tokio::spawn(async move {
                barrier.wait().await;
                store.append(ExpectedVersion::Exact(1), events).await
            })
        })
        .collect();

    let (mut wins, mut conflicts) = (0, 0);
    for writer in writers {
        match writer.await.expect("writer task") {
            Ok(_) => wins += 1,
            Err(StoreError::Concurrency { expected, actual, .. }) => {
                assert_eq!(expected, ExpectedVersion::Exact(1));
                assert!(actual >= 1, "actual version {actual}");
                conflicts += 1;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((wins, conflicts), (1, 15));
    let versions: Vec<u64> = store
        .read_stream(&stream, 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.envelope.aggregate_version)
        .collect();
    assert_eq!(versions, [1, 2, 3]);
}

/// Versions start at 1 and are contiguous; the store never accepts a gap,
/// a repeat or a renumbering.
pub async fn versions_start_at_one_and_stay_contiguous(store: Store) {
    let id = Uuid::new_v4();
    let starts_at_two = vec![event_for(id, "Order", 2, None)];
    assert!(matches!(
        store
            .append(ExpectedVersion::NoStream, starts_at_two.clone())
            .await,
        Err(StoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        store.append(ExpectedVersion::Any, starts_at_two).await,
        Err(StoreError::Concurrency { actual: 0, .. })
    ));
    let zero = vec![event_for(id, "Order", 0, None)];
    assert!(store.append(ExpectedVersion::Any, zero).await.is_err());

    let gap = vec![event_for(id, "Order", 1, None), event_for(id, "Order", 3, None)];
    assert!(matches!(
        store.append(ExpectedVersion::Any, gap).await,
        Err(StoreError::InvalidArgument(_))
    ));
    assert_eq!(all_events(&store).await.len(), 0);

    store
        .append(ExpectedVersion::Any, vec![event_for(id, "Order", 1, None)])
        .await
        .unwrap();
    store
        .append(ExpectedVersion::Any, vec![event_for(id, "Order", 2, None)])
        .await
        .unwrap();
    let repeat = vec![event_for(id, "Order", 2, None)];
    assert!(matches!(
        store.append(ExpectedVersion::Any, repeat).await,
        Err(StoreError::Concurrency { actual: 2, .. })
    ));
    let versions: Vec<u64> = store
        .read_stream(&StreamId::new(id, "Order"), 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.envelope.aggregate_version)
        .collect();
    assert_eq!(versions, [1, 2]);
}

/// Any, NoStream, StreamExists and Exact each admit exactly what they say.
pub async fn the_expected_version_kinds_mean_what_they_say(store: Store) {
    let id = Uuid::new_v4();
    let at_version = |v| vec![event_for(id, "Task", v, None)];

    assert!(matches!(
        store.append(ExpectedVersion::StreamExists, at_version(1)).await,
        Err(StoreError::Concurrency {
            expected: ExpectedVersion::StreamExists,
            actual: 0,
            ..
        })
    ));
    store
        .append(ExpectedVersion::NoStream, at_version(1))
        .await
        .unwrap();
    assert!(matches!(
        store.append(ExpectedVersion::NoStream, at_version(1)).await,
        Err(StoreError::Concurrency {
            expected: ExpectedVersion::NoStream,
            actual: 1,
            ..
        })
    ));
    store
        .append(ExpectedVersion::StreamExists, at_version(2))
        .await
        .unwrap();
    store
        .append(ExpectedVersion::Exact(2), at_version(3))
        .await
        .unwrap();
    store.append(ExpectedVersion::Any, at_version(4)).await.unwrap();
    assert_eq!(store.stream_version(&StreamId::new(id, "Task")).await.unwrap(), 4);
    // A stream is (id, type): the same id under another type is another stream.
    store
        .append(ExpectedVersion::NoStream, vec![event_for(id, "Order", 1, None)])
        .await
        .unwrap();
    assert_eq!(
        store.stream_version(&StreamId::new(id, "Order")).await.unwrap(),
        1
    );
}

/// An empty batch is an invalid argument, never a silent success.
pub async fn an_empty_append_is_an_invalid_argument(store: Store) {
    assert!(matches!(
        store.append(ExpectedVersion::Any, Vec::new()).await,
        Err(StoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        store.append_streams(&[]).await,
        Err(StoreError::InvalidArgument(_))
    ));
    assert_eq!(store.current_position().await.unwrap(), None);
}

/// Re-appending a stored event id (even in another stream) rejects the
/// whole batch.
pub async fn a_stored_event_id_is_refused_whole_batch(store: Store) {
    let stored = stream_of("Order", 1, None);
    append_new(&store, stored.clone()).await;

    let mut batch = stream_of("Order", 2, None);
    batch[1].envelope.event_id = stored[0].envelope.event_id;
    match store.append(ExpectedVersion::NoStream, batch.clone()).await {
        Err(StoreError::DuplicateEvent { event_id }) => assert_eq!(event_id, stored[0].envelope.event_id),
        other => panic!("expected a duplicate event error, got {other:?}"),
    }
    assert!(!store.event_exists(batch[0].envelope.event_id).await.unwrap());
    assert_eq!(all_events(&store).await.len(), 1);
}

/// A payload field named like an envelope field is refused: in the flat
/// interchange form it would replace the envelope's value.
pub async fn a_payload_field_named_like_the_envelope_is_refused(store: Store) {
    let mut event = event_for(Uuid::new_v4(), "Order", 1, None);
    event
        .payload
        .insert("tenant_id".into(), json!("6513270e-269e-4d37-b2a7-4de452e6b438"));
    let result = store.append(ExpectedVersion::NoStream, vec![event]).await;
    assert!(
        matches!(&result, Err(StoreError::InvalidArgument(message)) if message.contains("tenant_id")),
        "{result:?}"
    );
    assert_eq!(store.current_position().await.unwrap(), None);
}

/// One event id twice in the same batch is refused before anything is
/// written.
pub async fn an_event_id_twice_in_one_batch_is_refused(store: Store) {
    let mut first = stream_of("Order", 1, None);
    let mut second = stream_of("Order", 1, None);
    second[0].envelope.event_id = first[0].envelope.event_id;
    let result = store
        .append_streams(&[
            write(ExpectedVersion::NoStream, first.split_off(0)),
            write(ExpectedVersion::NoStream, second),
        ])
        .await;
    assert!(
        matches!(result, Err(StoreError::DuplicateEvent { .. })),
        "{result:?}"
    );
    assert_eq!(store.current_position().await.unwrap(), None);
}

/// `read_stream` returns the events after the given version, in order, and
/// nothing of other streams.
pub async fn reading_a_stream_starts_after_the_given_version(store: Store) {
    let events = stream_of("Order", 5, None);
    let stream = StreamId::of(&events[0]);
    append_new(&store, events.clone()).await;
    append_new(&store, stream_of("Order", 2, None)).await;

    let tail = store.read_stream(&stream, 3).await.unwrap();
    let ids: Vec<Uuid> = tail.iter().map(|e| e.event.envelope.event_id).collect();
    assert_eq!(ids, [events[3].envelope.event_id, events[4].envelope.event_id]);
    assert!(store.read_stream(&stream, 5).await.unwrap().is_empty());
    assert!(store
        .read_stream(&StreamId::new(Uuid::new_v4(), "Order"), 0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.read_stream(&stream, 0).await.unwrap()[0].event, events[0]);
}

/// Any tenant, no tenant and this tenant are three different filters; "this
/// tenant" never returns events without a tenant.
pub async fn the_tenant_filter_has_three_distinct_values(store: Store) {
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    append_new(&store, stream_of("Order", 2, Some(acme))).await;
    append_new(&store, stream_of("Order", 3, Some(globex))).await;
    append_new(&store, stream_of("Order", 4, None)).await;

    let tenants_of = |events: Vec<StoredEvent>| -> HashSet<Option<TenantId>> {
        events.iter().map(|e| e.event.envelope.tenant_id).collect()
    };
    let of = |tenant| EventFilter::tenant(tenant).aggregate_type("Order");
    let acme_events = store
        .events_by_type(of(TenantFilter::Tenant(acme)), None)
        .await
        .unwrap();
    assert_eq!(acme_events.len(), 2);
    assert_eq!(tenants_of(acme_events), HashSet::from([Some(acme)]));
    let untenanted = store
        .events_by_type(of(TenantFilter::NoTenant), None)
        .await
        .unwrap();
    assert_eq!(untenanted.len(), 4);
    assert_eq!(tenants_of(untenanted), HashSet::from([None]));
    assert_eq!(
        store
            .events_by_type(of(TenantFilter::Any), None)
            .await
            .unwrap()
            .len(),
        9
    );
    let nobody = TenantFilter::Tenant(TenantId::new_random());
    assert!(store.events_by_type(of(nobody), None).await.unwrap().is_empty());
}

/// Aggregate type, event type and the half-open time range all filter.
pub async fn aggregate_type_event_type_and_time_filters_apply(store: Store) {
    let tenant = TenantId::new_random();
    let day = |d| Utc.with_ymd_and_hms(2026, 2, d, 12, 0, 0).unwrap();
    let order = Uuid::new_v4();
    let orders: Vec<_> = (1..=4)
        .map(|v| at(event_for(order, "Order", v, Some(tenant)), day(v as u32)))
        .collect();
    append_new(&store, orders).await;
    let mut task = stream_of("Task", 1, Some(tenant));
    task[0].envelope.occurred_at = day(2);
    append_new(&store, task).await;

    let window = EventFilter::tenant(TenantFilter::Tenant(tenant))
        .aggregate_type("Order")
        .occurred_between(Some(day(2)), Some(day(4)));
    let versions: Vec<u64> = store
        .events_by_type(window, None)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.envelope.aggregate_version)
        .collect();
    assert_eq!(versions, [2, 3], "from is inclusive, until exclusive");

    let tasks = EventFilter::tenant(TenantFilter::Tenant(tenant)).event_type("TaskChanged");
    assert_eq!(store.events_by_type(tasks, None).await.unwrap().len(), 1);
    let both = EventFilter::all().aggregate_type("Order").aggregate_type("Task");
    assert_eq!(store.count(&both).await.unwrap(), 5);
    let limited = store
        .events_by_type(EventFilter::all().aggregate_type("Order"), Some(3))
        .await
        .unwrap();
    assert_eq!(limited.len(), 3);
}

/// "From position P" is exclusive, positions strictly increase.
pub async fn the_feed_starts_after_the_given_position(store: Store) {
    append_new(&store, stream_of("Order", 3, None)).await;
    append_new(&store, stream_of("Order", 3, None)).await;
    let everything = all_events(&store).await;
    assert_eq!(everything.len(), 6);
    assert!(everything.windows(2).all(|w| w[0].position < w[1].position));

    let after_third = feed(
        &store,
        ReadAllOptions {
            after: Some(everything[2].position),
            ..ReadAllOptions::default()
        },
    )
    .await;
    assert_eq!(after_third, everything[3..]);
    let after_last = ReadAllOptions {
        after: Some(everything[5].position),
        ..ReadAllOptions::default()
    };
    assert!(feed(&store, after_last).await.is_empty());
    assert_eq!(
        store.current_position().await.unwrap(),
        Some(everything[5].position)
    );
}

/// The limit counts matching events, not rows scanned.
pub async fn the_feed_limit_applies_after_filtering(store: Store) {
    let tenant = TenantId::new_random();
    for _ in 0..5 {
        append_new(&store, stream_of("Order", 2, None)).await;
        append_new(&store, stream_of("Order", 1, Some(tenant))).await;
    }
    let options = ReadAllOptions {
        limit: Some(4),
        filter: EventFilter::tenant(TenantFilter::Tenant(tenant)),
        page_size: 3,
        ..ReadAllOptions::default()
    };
    let events = feed(&store, options).await;
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e.event.envelope.tenant_id == Some(tenant)));
}

/// Pages of one event deliver the same feed as one big page.
pub async fn the_feed_reads_everything_in_small_pages(store: Store) {
    for _ in 0..7 {
        append_new(&store, stream_of("Order", 3, None)).await;
    }
    let small = ReadAllOptions {
        page_size: 1,
        ..ReadAllOptions::default()
    };
    let paged = feed(&store, small).await;
    assert_eq!(paged.len(), 21);
    assert_eq!(paged, all_events(&store).await);
}

/// An empty store has no current position (not 0) and an empty feed.
pub async fn an_empty_store_has_no_current_position(store: Store) {
    assert_eq!(store.current_position().await.unwrap(), None);
    assert!(all_events(&store).await.is_empty());
    assert_eq!(store.count(&EventFilter::all()).await.unwrap(), 0);
    assert!(store.tenant_stats().await.unwrap().is_empty());
}

/// `count`, `event_exists` and `existing_event_ids` agree with the data.
pub async fn counts_and_existence_follow_the_filters(store: Store) {
    let tenant = TenantId::new_random();
    let mine = stream_of("Order", 3, Some(tenant));
    append_new(&store, mine.clone()).await;
    append_new(&store, stream_of("Task", 2, None)).await;

    assert_eq!(store.count(&EventFilter::all()).await.unwrap(), 5);
    assert_eq!(
        store
            .count(&EventFilter::tenant(TenantFilter::Tenant(tenant)))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .count(&EventFilter::tenant(TenantFilter::NoTenant))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .count(&EventFilter::all().aggregate_type("Task"))
            .await
            .unwrap(),
        2
    );

    let unknown = Uuid::new_v4();
    assert!(store.event_exists(mine[0].envelope.event_id).await.unwrap());
    assert!(!store.event_exists(unknown).await.unwrap());
    let asked = [mine[1].envelope.event_id, unknown, mine[2].envelope.event_id];
    let found = store.existing_event_ids(&asked).await.unwrap();
    assert_eq!(
        found,
        HashSet::from([mine[1].envelope.event_id, mine[2].envelope.event_id])
    );
    assert!(store.existing_event_ids(&[]).await.unwrap().is_empty());
}

/// Per-tenant figures: events, distinct aggregates, events per type; the
/// events without a tenant come last.
pub async fn tenant_stats_count_events_and_aggregates_per_tenant(store: Store) {
    let tenant = TenantId::new_random();
    append_new(&store, stream_of("Order", 3, Some(tenant))).await;
    append_new(&store, stream_of("Order", 1, Some(tenant))).await;
    append_new(&store, stream_of("Task", 2, Some(tenant))).await;
    append_new(&store, stream_of("Task", 1, None)).await;

    let stats = store.tenant_stats().await.unwrap();
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[0].tenant_id, Some(tenant));
    assert_eq!((stats[0].events, stats[0].aggregates), (6, 3));
    assert_eq!(
        stats[0].by_aggregate_type,
        [("Order".to_owned(), 4), ("Task".to_owned(), 2)]
    );
    assert_eq!(stats[1].tenant_id, None);
    assert_eq!((stats[1].events, stats[1].aggregates), (1, 1));
}

/// `first_event_tenant` names the tenant of a stream's first event, tells
/// an untenanted first event from a missing stream, and keys by stream.
pub async fn the_first_event_tenant_of_a_stream_is_known(store: Store) {
    let acme = TenantId::new_random();
    let owned = stream_of("Order", 3, Some(acme));
    let untenanted = stream_of("Order", 1, None);
    append_new(&store, owned.clone()).await;
    append_new(&store, untenanted.clone()).await;

    assert_eq!(
        store.first_event_tenant(&StreamId::of(&owned[0])).await.unwrap(),
        Some(Some(acme))
    );
    assert_eq!(
        store
            .first_event_tenant(&StreamId::of(&untenanted[0]))
            .await
            .unwrap(),
        Some(None)
    );
    let same_id_other_type = StreamId::new(owned[0].envelope.aggregate_id, "Task");
    assert_eq!(store.first_event_tenant(&same_id_other_type).await.unwrap(), None);
}

/// `read_stream_of_tenant` reads a stream after a version only when its
/// first event is the tenant's; a missing stream, another tenant's, one
/// without a tenant and the same id under another type all read as nothing.
/// Later events are returned as stored (the caller checks each).
pub async fn reading_a_stream_for_a_tenant_needs_its_first_event(store: Store) {
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    let owned = stream_of("Order", 4, Some(acme));
    let foreign = stream_of("Order", 4, Some(globex));
    let untenanted = stream_of("Order", 2, None);
    let mut mixed = stream_of("Order", 2, Some(acme));
    mixed[1].envelope.tenant_id = Some(globex);
    for events in [&owned, &foreign, &untenanted, &mixed] {
        append_new(&store, events.clone()).await;
    }
    let versions = |events: Vec<StoredEvent>| -> Vec<u64> {
        events
            .iter()
            .map(|e| e.event.envelope.aggregate_version)
            .collect()
    };

    let read = store
        .read_stream_of_tenant(&StreamId::of(&owned[0]), 0, acme)
        .await
        .unwrap();
    assert_eq!(read.iter().map(|e| e.event.clone()).collect::<Vec<_>>(), owned);
    let tail = store
        .read_stream_of_tenant(&StreamId::of(&owned[0]), 2, acme)
        .await
        .unwrap();
    assert_eq!(versions(tail), [3, 4], "only the events after the version");
    assert!(store
        .read_stream_of_tenant(&StreamId::of(&owned[0]), 4, acme)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        versions(
            store
                .read_stream_of_tenant(&StreamId::of(&mixed[0]), 0, acme)
                .await
                .unwrap()
        ),
        [1, 2],
        "a later event of another tenant is returned for the caller to see"
    );

    let nothing = [
        (StreamId::of(&foreign[0]), 0, acme),
        (StreamId::of(&foreign[0]), 2, acme),
        (StreamId::of(&owned[0]), 0, globex),
        (StreamId::of(&untenanted[0]), 0, acme),
        (StreamId::of(&mixed[0]), 1, globex),
        (StreamId::new(owned[0].envelope.aggregate_id, "Task"), 0, acme),
        (StreamId::new(Uuid::new_v4(), "Order"), 0, acme),
    ];
    for (stream, after, tenant) in nothing {
        let read = store.read_stream_of_tenant(&stream, after, tenant).await.unwrap();
        assert!(read.is_empty(), "{stream} after {after} for {tenant}: {read:?}");
    }
}

/// A stream longer than any page a store reads at a time comes back whole
/// and in order, from the start and from versions on either side of a
/// page's end, also when read for its tenant.
pub async fn a_long_stream_reads_whole_from_any_version(store: Store) {
    let acme = TenantId::new_random();
    let events = stream_of("Order", 2_503, Some(acme));
    append_new(&store, events.clone()).await;
    let stream = StreamId::of(&events[0]);
    for after in [0_u64, 1, 999, 1_000, 1_001, 2_000, 2_502, 2_503] {
        let expected: Vec<u64> = (after + 1..=2_503).collect();
        let read = store.read_stream(&stream, after).await.unwrap();
        let versions: Vec<u64> = read.iter().map(|e| e.event.envelope.aggregate_version).collect();
        assert_eq!(versions, expected, "read_stream after {after}");
        let owned = store.read_stream_of_tenant(&stream, after, acme).await.unwrap();
        let versions: Vec<u64> = owned.iter().map(|e| e.event.envelope.aggregate_version).collect();
        assert_eq!(versions, expected, "read_stream_of_tenant after {after}");
    }
    let whole = store.read_stream(&stream, 0).await.unwrap();
    assert_eq!(whole.iter().map(|e| e.event.clone()).collect::<Vec<_>>(), events);
}

/// `aggregate_types_of` lists an id's streams, only among what the tenant
/// filter admits.
pub async fn aggregate_types_of_an_id_respect_the_tenant(store: Store) {
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    let id = Uuid::new_v4();
    append_new(&store, vec![event_for(id, "Order", 1, Some(acme))]).await;
    append_new(&store, vec![event_for(id, "Task", 1, Some(globex))]).await;

    let types = |tenant| {
        let store = Arc::clone(&store);
        async move { store.aggregate_types_of(id, tenant).await.unwrap() }
    };
    assert_eq!(types(TenantFilter::Any).await, ["Order", "Task"]);
    assert_eq!(types(TenantFilter::Tenant(acme)).await, ["Order"]);
    assert!(types(TenantFilter::NoTenant).await.is_empty());
    assert!(store
        .aggregate_types_of(Uuid::new_v4(), TenantFilter::Any)
        .await
        .unwrap()
        .is_empty());
}

/// Timestamps come back as stored: UTC, microseconds, including the edges.
pub async fn timestamps_keep_their_microseconds(store: Store) {
    let instants = [
        Utc.with_ymd_and_hms(2026, 3, 30, 7, 45, 50).unwrap() + chrono::Duration::microseconds(532_084),
        Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap() + chrono::Duration::microseconds(999_999),
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::microseconds(1),
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
    ];
    let id = Uuid::new_v4();
    let events: Vec<_> = instants
        .iter()
        .enumerate()
        .map(|(i, instant)| at(event_for(id, "Order", i as u64 + 1, None), *instant))
        .collect();
    append_new(&store, events).await;
    let read: Vec<_> = store
        .read_stream(&StreamId::new(id, "Order"), 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.envelope.occurred_at)
        .collect();
    assert_eq!(read, instants);
}

/// Payloads and envelopes round-trip exactly: unicode, nesting, a large
/// payload, numbers beyond f64 precision, metadata, causality fields.
pub async fn payloads_round_trip_exactly(store: Store) {
    let big_integer: Value = serde_json::from_str("123456789012345678901234567890").unwrap();
    let fine_decimal: Value = serde_json::from_str("0.1000000000000000000000000001").unwrap();
    let payload = json!({
        "text": "Grüße, 世界, emoji 🎉, rtl שלום, combining e\u{301}, quote \" and \\ backslash",
        "nested": {"list": [1, 2.5, null, true, {"deep": ["x"]}], "empty": {}},
        "big_integer": big_integer,
        "fine_decimal": fine_decimal,
        "negative_zero_string": "-0.00",
        "large": "x".repeat(1_000_000),
    });
    let Value::Object(payload) = payload else {
        unreachable!("a json! object literal")
    };
    let tenant = TenantId::new_random();
    let mut event = payload_event(Uuid::new_v4(), "Order", 1, Some(tenant), payload);
    event.envelope.actor_id = Some("user:ünïcode".into());
    event.envelope.causation_id = Some(Uuid::new_v4());
    event.envelope.event_version = 3;
    event.envelope.metadata =
        JsonObject::from_iter([("ip".to_owned(), json!("127.0.0.1")), ("n".to_owned(), json!(7))]);
    append_new(&store, vec![event.clone()]).await;

    let read = store.read_stream(&StreamId::of(&event), 0).await.unwrap();
    assert_eq!(read[0].event, event);
    assert_eq!(
        read[0].event.payload["big_integer"].to_string(),
        "123456789012345678901234567890"
    );
    assert_eq!(
        read[0].event.payload["fine_decimal"].to_string(),
        "0.1000000000000000000000000001"
    );
    let keys: Vec<&String> = read[0].event.payload.keys().collect();
    assert_eq!(
        keys,
        event.payload.keys().collect::<Vec<_>>(),
        "payload key order is kept"
    );
    assert_eq!(all_events(&store).await[0].event, event);
}

/// Writers append concurrently while a reader follows the feed in small
/// pages: the reader sees every event exactly once, in position order.
pub async fn a_follower_of_the_feed_never_skips_events_of_concurrent_writers(store: Store) {
    const WRITERS: usize = 6;
    const SAVES: u64 = 40;
    const EVENTS_PER_SAVE: u64 = 3;
    let total = WRITERS as u64 * SAVES * EVENTS_PER_SAVE;

    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..SAVES {
                    append_new(&store, stream_of("Order", EVENTS_PER_SAVE, None)).await;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();

    let reader = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            while (seen.len() as u64) < total && tokio::time::Instant::now() < deadline {
                let options = ReadAllOptions {
                    after: seen.last().map(|e: &StoredEvent| e.position),
                    page_size: 7,
                    ..ReadAllOptions::default()
                };
                let page = feed(&store, options).await;
                if page.is_empty() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                seen.extend(page);
            }
            seen
        })
    };

    for writer in writers {
        writer.await.expect("writer task");
    }
    let seen = reader.await.expect("reader task");
    assert_eq!(seen.len() as u64, total, "the follower missed or repeated events");
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position));
    let distinct: HashSet<Uuid> = seen.iter().map(|e| e.event.envelope.event_id).collect();
    assert_eq!(distinct.len() as u64, total);
    assert_eq!(seen, all_events(&store).await);
}

/// A stream holding events of two tenants belongs to neither: a
/// tenant-aware load refuses it whole rather than replaying a part.
pub async fn a_tenant_aware_load_is_decided_on_the_whole_stream(store: Store) {
    use crate::testing::checks::mixed::{load_as, Counter};

    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    let id = Uuid::new_v4();
    let events = vec![
        event_for(id, Counter::TYPE, 1, Some(acme)),
        event_for(id, Counter::TYPE, 2, Some(globex)),
        event_for(id, Counter::TYPE, 3, Some(acme)),
    ];
    append_new(&store, events).await;
    let owned = stream_of(Counter::TYPE, 2, Some(acme));
    append_new(&store, owned.clone()).await;

    assert_eq!(load_as(&store, acme, id).await, None);
    assert_eq!(load_as(&store, globex, id).await, None);
    assert_eq!(
        load_as(&store, acme, owned[0].envelope.aggregate_id).await,
        Some(2)
    );
    assert_eq!(
        load_as(&store, globex, owned[0].envelope.aggregate_id).await,
        None
    );
}

mod mixed {
    //! A minimal aggregate over the made-up events of the fixtures.
    use serde::{Deserialize, Serialize};
    use uuid::Uuid;

    use super::Store;
    use crate::repository::{RepositoryError, TenantAwareRepository};
    use crate::tenant::{tenant_scope, TenantId};
    use crate::{Aggregate, DomainEvent};

    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Changed {
        pub n: u64,
    }
    impl DomainEvent for Changed {
        const EVENT_TYPE: &'static str = "CounterChanged";
        const AGGREGATE_TYPE: &'static str = "Counter";
    }
    crate::event_set! { pub enum CounterEvent: "Counter" { Changed(Changed) } }

    #[derive(Default)]
    pub struct Counter {
        pub applied: u64,
    }
    impl Counter {
        pub const TYPE: &'static str = "Counter";
    }
    impl Aggregate for Counter {
        type Event = CounterEvent;
        fn apply(&mut self, _: &CounterEvent) {
            self.applied += 1;
        }
    }

    /// Loads as `tenant`: `Some(events applied)` or `None` for not found.
    pub async fn load_as(store: &Store, tenant: TenantId, id: Uuid) -> Option<u64> {
        let repository = TenantAwareRepository::<Counter>::new(std::sync::Arc::clone(store));
        match tenant_scope(tenant, repository.load(id)).await {
            Ok(root) => Some(root.state().applied),
            Err(RepositoryError::NotFound { .. }) => None,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
}
