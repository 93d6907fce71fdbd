//! The schema: migrations are idempotent and tenant queries use indexes.

use eventsource::{EventFilter, EventStore, ExpectedVersion};
use eventsource_sqlite::SqliteEventStore;

async fn fresh() -> (SqliteEventStore, tempfile::TempDir) {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", folder.path().join("events.db").display());
    (SqliteEventStore::open(&url).await.unwrap(), folder)
}

#[tokio::test]
async fn migrating_twice_is_harmless_and_keeps_the_events() {
    let (store, folder) = fresh().await;
    let events = eventsource::testing::event_for(uuid::Uuid::new_v4(), "Order", 1, None);
    store
        .append(ExpectedVersion::NoStream, vec![events])
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();

    let url = format!("sqlite://{}", folder.path().join("events.db").display());
    let reopened = SqliteEventStore::open(&url).await.unwrap();
    assert_eq!(reopened.count(&EventFilter::all()).await.unwrap(), 1);
}

#[tokio::test]
async fn the_database_runs_in_wal_mode_with_full_sync_and_a_larger_page_cache() {
    let (store, _folder) = fresh().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous = FULL");
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(cache, -32768, "32 MiB of page cache per connection");
}
