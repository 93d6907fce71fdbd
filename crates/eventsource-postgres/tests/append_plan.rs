//! The append statement keeps probing indexes as the table grows.
//!
//! sqlx prepares the append once per connection and PostgreSQL may keep a
//! generic plan for it. A plan made while the table was empty once turned
//! the duplicate-id check into a scan of the whole table on every save (a
//! hundred thousand events took minutes). Here one connection prepares the
//! statement on an empty store and then saves into a table of 20,000
//! events: the table's sequential-scan counter must not move.

mod support;

use eventsource::testing::event_for;
use eventsource::{EventStore, ExpectedVersion};
use support::TestDatabase;
use uuid::Uuid;

async fn sequential_scans(database: &TestDatabase) -> i64 {
    let pool = database.pool_with(database.options(), 1).await;
    // The counters are sent to the statistics system at the end of each
    // transaction of the writing session, and read here from a snapshot
    // taken fresh for this query.
    sqlx::query_scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'events'")
        .fetch_one(&pool)
        .await
        .unwrap()
}

async fn save_orders(store: &impl EventStore, orders: usize, events_each: u64) {
    for _ in 0..orders {
        let id = Uuid::new_v4();
        let events = (1..=events_each)
            .map(|v| event_for(id, "Order", v, None))
            .collect();
        store.append(ExpectedVersion::NoStream, events).await.unwrap();
    }
}

#[tokio::test]
async fn saves_into_a_grown_table_never_scan_it() {
    let database = TestDatabase::create().await;
    let store = database.store(1).await;
    // Prepared (and executed past PostgreSQL's five custom plans) on an
    // empty table.
    save_orders(&store, 10, 1).await;
    save_orders(&store, 200, 100).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let before = sequential_scans(&database).await;

    save_orders(&store, 100, 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let after = sequential_scans(&database).await;
    assert!(
        after - before < 10,
        "100 saves made {} sequential scans of events",
        after - before
    );
}
