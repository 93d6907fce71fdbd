//! A projection whose read model lives in the events' SQLite database counts
//! every event exactly once, however often its runner is aborted mid-batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use eventsource::projection::{
    DeclarativeProjection, DocumentKey, ProjectionRunner, ProjectionStore, RunnerOptions,
};
use eventsource::{
    DomainEvent, Envelope, EventStore, ExpectedVersion, RawEvent, StreamWrite, TenantFilter, TenantId,
};
use eventsource_sqlite::{SqliteEventStore, SqliteProjectionStore};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Counted {
    amount: u64,
}
impl DomainEvent for Counted {
    const EVENT_TYPE: &'static str = "Counted";
    const AGGREGATE_TYPE: &'static str = "Counter";
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Total {
    events: u64,
    amount: u64,
}

fn projection() -> DeclarativeProjection<Total> {
    DeclarativeProjection::<Total>::new("totals")
        .keyed_by(DocumentKey::per_tenant)
        .on::<Counted>(|event, total| {
            let total = total.get_or_insert_with(Total::default);
            total.events += 1;
            total.amount += event.payload.amount;
            Ok(())
        })
}

/// A small deterministic generator, seeded from the clock and printed, so a
/// failing run can be repeated.
struct Random(u64);
impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_the_runner_at_random_points_never_counts_an_event_twice() {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("events.db").display());
    let events = Arc::new(SqliteEventStore::open(&url).await.unwrap());
    let models = Arc::new(SqliteProjectionStore::new(&events));

    let tenants: Vec<TenantId> = (0..5).map(|_| TenantId::new_random()).collect();
    let mut expected: HashMap<TenantId, Total> = HashMap::new();
    let mut writes = Vec::new();
    for i in 0..3_000_u64 {
        let tenant = tenants[(i % 5) as usize];
        let mut envelope = Envelope::new("Counted", Uuid::new_v4(), "Counter");
        envelope.tenant_id = Some(tenant);
        let payload = serde_json::json!({"amount": i});
        let serde_json::Value::Object(payload) = payload else {
            unreachable!("an object literal")
        };
        writes.push(StreamWrite {
            expected: ExpectedVersion::NoStream,
            events: vec![RawEvent { envelope, payload }],
        });
        let total = expected.entry(tenant).or_default();
        total.events += 1;
        total.amount += i;
    }
    for chunk in writes.chunks(500) {
        events.append_streams(chunk).await.unwrap();
    }

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut random = Random(seed);
    let runner = ProjectionRunner::new(Arc::clone(&events) as _, Arc::clone(&models) as _).with_options(
        RunnerOptions {
            batch_size: 64,
            ..RunnerOptions::default()
        },
    );

    // Aborts land anywhere, including inside BEGIN IMMEDIATE: the stores
    // begin on a task of their own so such an abort cannot leave the write
    // lock held on a pooled connection (which once stalled this test).
    let mut aborts = 0;
    loop {
        let position = models
            .checkpoint("totals")
            .await
            .unwrap()
            .map_or(0, |c| c.position);
        if position >= 3_000 {
            break;
        }
        let task = {
            let runner = runner.clone();
            tokio::spawn(async move { runner.run(Arc::new(projection()), std::future::pending()).await })
        };
        tokio::time::sleep(Duration::from_micros(random.next(20_000))).await;
        task.abort();
        let _ = task.await;
        aborts += 1;
        assert!(aborts < 10_000, "the runner made no progress");
    }
    println!("aborted the runner {aborts} times");
    assert!(aborts > 3, "the test must actually interrupt the runner");

    for tenant in &tenants {
        let document = models
            .document("totals", Some(*tenant), &tenant.to_string())
            .await
            .unwrap();
        let total: Total = serde_json::from_value(document.expect("a total per tenant")).unwrap();
        assert_eq!(&total, &expected[tenant], "tenant {tenant}");
    }
    let checkpoint = models.checkpoint("totals").await.unwrap().unwrap();
    assert_eq!(
        checkpoint.events_processed, 3_000,
        "each event processed exactly once"
    );
    assert_eq!(
        models.documents("totals", TenantFilter::Any).await.unwrap().len(),
        5
    );
}
