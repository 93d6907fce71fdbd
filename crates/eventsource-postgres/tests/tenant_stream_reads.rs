//! A tenant-aware load of another tenant's stream reads one index entry,
//! whatever the stream's length: the statement's scan of the stream never
//! runs, as `EXPLAIN ANALYZE` of the real statement shows.

mod support;

use eventsource::testing::event_for;
use eventsource::{EventStore, ExpectedVersion, StreamId, TenantId};
use serde_json::Value;
use support::TestDatabase;
use uuid::Uuid;

const LENGTH: u64 = 2_000;

/// `(relation, actual loops, actual rows)` of every plan node that reads
/// the events table, the one-time sub-select included.
fn reads_of_events(node: &Value, found: &mut Vec<(u64, u64)>) {
    if node["Relation Name"] == "events" {
        let number = |field: &str| node[field].as_u64().unwrap_or(0);
        found.push((number("Actual Loops"), number("Actual Rows")));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        reads_of_events(child, found);
    }
}

fn reads(plan: &Value) -> Vec<(u64, u64)> {
    let mut found = Vec::new();
    reads_of_events(&plan[0]["Plan"], &mut found);
    found
}

#[tokio::test]
async fn another_tenants_long_stream_is_never_scanned() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    let id = Uuid::new_v4();
    let events = (1..=LENGTH)
        .map(|v| event_for(id, "Order", v, Some(acme)))
        .collect();
    store.append(ExpectedVersion::NoStream, events).await.unwrap();
    let stream = StreamId::new(id, "Order");
    // The statement as prepared on a pooled connection: plan it generically
    // too, the way PostgreSQL does after a few executions.
    for _ in 0..6 {
        assert!(store
            .read_stream_of_tenant(&stream, 0, globex)
            .await
            .unwrap()
            .is_empty());
    }

    let owned = reads(
        &store
            .explain_read_stream_of_tenant(&stream, 0, acme)
            .await
            .unwrap(),
    );
    assert!(
        owned.contains(&(1, LENGTH)),
        "the owner's read scans the stream once: {owned:?}"
    );

    let foreign = store
        .explain_read_stream_of_tenant(&stream, 0, globex)
        .await
        .unwrap();
    let foreign_reads = reads(&foreign);
    assert_eq!(foreign_reads.len(), 2, "{foreign}");
    assert!(
        foreign_reads.contains(&(1, 1)),
        "the first event is probed once: {foreign_reads:?}"
    );
    assert!(
        foreign_reads.contains(&(0, 0)),
        "the stream's scan never runs: {foreign_reads:?}"
    );

    let mut missing = reads(
        &store
            .explain_read_stream_of_tenant(&StreamId::new(Uuid::new_v4(), "Order"), 0, globex)
            .await
            .unwrap(),
    );
    missing.sort_unstable();
    assert_eq!(missing, [(0, 0), (1, 0)], "a missing stream: the same two steps");
}
