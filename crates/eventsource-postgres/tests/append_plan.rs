//! The append statement, the stored-id check and the batched document
//! reads and deletes of projections keep probing indexes as their tables
//! grow.
//!
//! sqlx prepares the append once per connection and PostgreSQL may keep a
//! generic plan for it. A plan made while the table was empty once turned
//! the duplicate-id check into a scan of the whole table on every save (a
//! hundred thousand events took minutes). Here one connection prepares the
//! statement on an empty store and then saves into a table of 20,000
//! events: the table's sequential-scan counter must not move.

mod support;

use eventsource::projection::{Document, DocumentKey, ProjectionStore};
use eventsource::testing::event_for;
use eventsource::{EventStore, ExpectedVersion, TenantId};
use eventsource_postgres::PostgresProjectionStore;
use support::TestDatabase;
use uuid::Uuid;

async fn sequential_scans(database: &TestDatabase) -> i64 {
    sequential_scans_of(database, "events").await
}

async fn sequential_scans_of(database: &TestDatabase, table: &str) -> i64 {
    let pool = database.pool_with(database.options(), 1).await;
    // The counters are sent to the statistics system at the end of each
    // transaction of the writing session, and read here from a snapshot
    // taken fresh for this query.
    sqlx::query_scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = $1")
        .bind(table)
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

#[tokio::test]
async fn stored_id_checks_on_a_grown_table_never_scan_it() {
    let database = TestDatabase::create().await;
    let store = database.store(1).await;
    // The import asks which ids of each batch are stored, from the first
    // batch on, when the table is empty.
    for _ in 0..10 {
        let ids: Vec<Uuid> = (0..1_000).map(|_| Uuid::new_v4()).collect();
        assert!(store.existing_event_ids(&ids).await.unwrap().is_empty());
    }
    save_orders(&store, 200, 100).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let before = sequential_scans(&database).await;

    for _ in 0..100 {
        let ids: Vec<Uuid> = (0..1_000).map(|_| Uuid::new_v4()).collect();
        assert!(store.existing_event_ids(&ids).await.unwrap().is_empty());
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let after = sequential_scans(&database).await;
    assert!(
        after - before < 10,
        "100 checks of 1,000 ids made {} sequential scans of events",
        after - before
    );
}

fn absent_keys(count: usize) -> Vec<DocumentKey> {
    (0..count)
        .map(|i| DocumentKey {
            tenant_id: (i % 2 == 0).then(TenantId::new_random),
            key: Uuid::new_v4().to_string(),
        })
        .collect()
}

#[tokio::test]
async fn batched_document_reads_and_deletes_on_a_grown_table_never_scan_it() {
    let database = TestDatabase::create().await;
    let events = database.store(1).await;
    let models = PostgresProjectionStore::new(&events);
    let mut tx = models.begin("stats").await.unwrap();
    for _ in 0..10 {
        tx.get_many(&absent_keys(200)).await.unwrap();
        tx.delete_many(&absent_keys(200)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = models.begin("stats").await.unwrap();
    let documents: Vec<Document> = (0..20_000)
        .map(|i| Document {
            tenant_id: Some(TenantId::new_random()),
            key: format!("doc-{i}"),
            value: serde_json::json!({"n": i}),
        })
        .collect();
    for chunk in documents.chunks(2_000) {
        tx.put_many(chunk).await.unwrap();
    }
    tx.commit().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let before = sequential_scans_of(&database, "projection_documents").await;

    let mut tx = models.begin("stats").await.unwrap();
    for _ in 0..50 {
        assert!(tx
            .get_many(&absent_keys(200))
            .await
            .unwrap()
            .iter()
            .all(Option::is_none));
        tx.delete_many(&absent_keys(200)).await.unwrap();
    }
    tx.commit().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let after = sequential_scans_of(&database, "projection_documents").await;
    assert!(
        after - before < 10,
        "50 batched reads and deletes made {} sequential scans of projection_documents",
        after - before
    );
}
