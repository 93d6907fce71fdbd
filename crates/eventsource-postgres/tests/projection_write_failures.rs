//! A document the database refuses fails only its own event.
//!
//! The runner writes a batch's documents in one statement at its end; when
//! that write fails (here: a key longer than PostgreSQL's primary-key index
//! can hold), the batch is applied again one event at a time, so only the
//! event that wrote the bad document is parked and later events are still
//! projected.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventsource::projection::{
    Projection, ProjectionError, ProjectionRunner, ProjectionStore, ProjectionTx, RetryPolicy, RunnerOptions,
};
use eventsource::testing::event_for;
use eventsource::{EventStore, ExpectedVersion, StoredEvent};
use eventsource_postgres::PostgresProjectionStore;
use serde_json::json;
use support::TestDatabase;
use uuid::Uuid;

/// One document per event, keyed by the event's `n`... except that the
/// event of aggregate `long` writes a key PostgreSQL's primary-key index
/// cannot hold (random text, too long for a btree entry).
struct Keyed {
    long: Uuid,
}

fn random_key(length: usize) -> String {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'!' + (state % 90) as u8)
        })
        .collect()
}

#[async_trait]
impl Projection for Keyed {
    fn name(&self) -> &str {
        "keyed"
    }
    async fn apply(&self, event: &StoredEvent, model: &mut dyn ProjectionTx) -> Result<(), ProjectionError> {
        let envelope = &event.event.envelope;
        let key = if envelope.aggregate_id == self.long {
            random_key(6000)
        } else {
            envelope.aggregate_id.to_string()
        };
        model
            .put(envelope.tenant_id, &key, &json!(event.position))
            .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_index_cannot_hold_parks_its_event_and_the_projection_goes_on() {
    let database = TestDatabase::create().await;
    let events = Arc::new(database.store(4).await);
    let models = Arc::new(PostgresProjectionStore::new(&events));
    let (long, later) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [Uuid::new_v4(), long, later] {
        events
            .append(ExpectedVersion::NoStream, vec![event_for(id, "Order", 1, None)])
            .await
            .unwrap();
    }
    let runner = ProjectionRunner::new(Arc::clone(&events) as _, Arc::clone(&models) as _).with_options(
        RunnerOptions {
            batch_size: 10,
            retry: RetryPolicy {
                max_attempts: 1,
                initial_delay: Duration::from_millis(1),
                multiplier: 1.0,
                max_delay: Duration::from_millis(1),
            },
            poll_interval: Duration::from_millis(10),
        },
    );
    let projection = Keyed { long };
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(match runner.catch_up(&projection, |_, _| {}).await {
            Ok(report) => format!("ok {report:?}"),
            Err(error) => format!("error {error}"),
        });
    }
    let later_document = models.document("keyed", None, &later.to_string()).await.unwrap();
    let letters = models.dead_letters(Some("keyed")).await.unwrap();
    assert!(
        outcomes.iter().all(|outcome| outcome.starts_with("ok")),
        "{outcomes:?}"
    );
    assert_eq!(later_document, Some(json!(3)), "the later event is projected");
    assert!(
        letters.len() == 1 && letters[0].position == 2,
        "only the bad key's event is parked: {letters:?}"
    );
}
