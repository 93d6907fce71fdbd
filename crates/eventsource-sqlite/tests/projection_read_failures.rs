//! A document that can no longer be read fails only the events that read
//! it.
//!
//! The runner reads a declarative projection's documents for a whole batch
//! in one request; when one of them does not parse (here: JSON nested
//! deeper than serde_json reads back), the batch is applied again one event
//! at a time, so only the events touching that document are parked and the
//! projection goes on, as it does for a projection that reads its
//! documents itself.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventsource::projection::{
    DeclarativeProjection, DocumentKey, Projection, ProjectionError, ProjectionRunner, ProjectionStore,
    ProjectionTx, RetryPolicy, RunnerOptions,
};
use eventsource::{DomainEvent, Envelope, EventStore, ExpectedVersion, RawEvent, StoredEvent};
use eventsource_sqlite::{SqliteEventStore, SqliteProjectionStore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Noted {
    depth: u64,
}
impl DomainEvent for Noted {
    const EVENT_TYPE: &'static str = "Noted";
    const AGGREGATE_TYPE: &'static str = "Note";
}

fn nested(depth: u64) -> Value {
    let mut value = json!(depth);
    for _ in 0..depth {
        value = json!([value]);
    }
    value
}

async fn note(events: &SqliteEventStore, aggregate_id: Uuid, version: u64, depth: u64) {
    let mut envelope = Envelope::new("Noted", aggregate_id, "Note");
    envelope.aggregate_version = version;
    let Value::Object(payload) = json!({ "depth": depth }) else {
        unreachable!()
    };
    let expected = if version == 1 {
        ExpectedVersion::NoStream
    } else {
        ExpectedVersion::Exact(version - 1)
    };
    events
        .append(expected, vec![RawEvent { envelope, payload }])
        .await
        .unwrap();
}

fn options() -> RunnerOptions {
    RunnerOptions {
        batch_size: 1,
        retry: RetryPolicy {
            max_attempts: 1,
            initial_delay: Duration::from_millis(1),
            multiplier: 1.0,
            max_delay: Duration::from_millis(1),
        },
        poll_interval: Duration::from_millis(10),
    }
}

/// The same work, without naming its documents in advance (no prefetch).
struct Undeclared;
#[async_trait]
impl Projection for Undeclared {
    fn name(&self) -> &str {
        "notes"
    }
    async fn apply(&self, event: &StoredEvent, model: &mut dyn ProjectionTx) -> Result<(), ProjectionError> {
        let key = DocumentKey::per_aggregate(&event.event.envelope);
        let _ = model.get(key.tenant_id, &key.key).await?;
        let depth = event.event.payload["depth"].as_u64().unwrap();
        model.put(key.tenant_id, &key.key, &nested(depth)).await?;
        Ok(())
    }
}

async fn run(projection: &dyn Projection) -> (Vec<String>, Option<Value>) {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("events.db").display());
    let events = Arc::new(SqliteEventStore::open(&url).await.unwrap());
    let models = Arc::new(SqliteProjectionStore::new(&events));
    let (poisoned, healthy) = (Uuid::new_v4(), Uuid::new_v4());
    note(&events, poisoned, 1, 200).await; // a document nested 200 deep
    note(&events, poisoned, 2, 1).await; // touches it again
    note(&events, healthy, 1, 1).await; // another document entirely
    let runner =
        ProjectionRunner::new(Arc::clone(&events) as _, Arc::clone(&models) as _).with_options(options());
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(match runner.catch_up(projection, |_, _| {}).await {
            Ok(report) => format!("ok {report:?}"),
            Err(error) => format!("error {error}"),
        });
    }
    let healthy_document = models
        .document("notes", None, &healthy.to_string())
        .await
        .unwrap();
    (outcomes, healthy_document)
}

#[tokio::test]
async fn an_unreadable_document_parks_only_the_events_that_read_it() {
    // Without the batch read, the event that reads the document is parked
    // and the projection goes on.
    let (outcomes, healthy) = run(&Undeclared).await;
    assert!(
        outcomes.iter().all(|outcome| outcome.starts_with("ok")),
        "{outcomes:?}"
    );
    assert_eq!(healthy, Some(json!([1])));

    let declarative = DeclarativeProjection::<Value>::new("notes").on::<Noted>(|event, document| {
        *document = Some(nested(event.payload.depth));
        Ok(())
    });
    let (outcomes, healthy) = run(&declarative).await;
    assert!(
        outcomes.iter().all(|outcome| outcome.starts_with("ok")),
        "{outcomes:?}"
    );
    assert_eq!(
        healthy,
        Some(json!([1])),
        "the later, unrelated event is projected: {outcomes:?}"
    );
}
