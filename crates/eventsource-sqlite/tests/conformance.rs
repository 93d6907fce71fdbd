//! The event store conformance suite on SQLite: one fresh database file per
//! test, removed with its folder afterwards.

use std::sync::Arc;

use eventsource::testing::StoreFixture;
use eventsource_sqlite::SqliteEventStore;

struct SqliteFile {
    store: Arc<SqliteEventStore>,
    _folder: tempfile::TempDir,
}

#[async_trait::async_trait]
impl StoreFixture for SqliteFile {
    type Store = SqliteEventStore;

    async fn setup() -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", folder.path().join("events.db").display());
        let store = SqliteEventStore::open(&url).await.expect("a fresh SQLite store");
        Self {
            store: Arc::new(store),
            _folder: folder,
        }
    }

    fn store(&self) -> Arc<SqliteEventStore> {
        Arc::clone(&self.store)
    }
}

eventsource::event_store_conformance!(SqliteFile);

mod in_memory_database {
    use super::*;

    struct SqliteMemory(Arc<SqliteEventStore>);

    #[async_trait::async_trait]
    impl StoreFixture for SqliteMemory {
        type Store = SqliteEventStore;

        async fn setup() -> Self {
            Self(Arc::new(
                SqliteEventStore::open("sqlite::memory:")
                    .await
                    .expect("an in-memory database"),
            ))
        }

        fn store(&self) -> Arc<SqliteEventStore> {
            Arc::clone(&self.0)
        }
    }

    eventsource::event_store_conformance!(SqliteMemory);
}

mod projection_store {
    use eventsource::testing::ProjectionStoreFixture;
    use eventsource_sqlite::SqliteProjectionStore;

    use super::*;

    struct SqliteProjections {
        store: Arc<SqliteProjectionStore>,
        _folder: tempfile::TempDir,
    }

    #[async_trait::async_trait]
    impl ProjectionStoreFixture for SqliteProjections {
        type Store = SqliteProjectionStore;

        async fn setup() -> Self {
            let events = SqliteFile::setup().await;
            Self {
                store: Arc::new(SqliteProjectionStore::new(&events.store)),
                _folder: events._folder,
            }
        }

        fn store(&self) -> Arc<SqliteProjectionStore> {
            Arc::clone(&self.store)
        }
    }

    eventsource::projection_store_conformance!(SqliteProjections);
}

mod snapshot_store {
    use eventsource::SnapshotStore;
    use eventsource_sqlite::SqliteSnapshotStore;

    use super::*;

    async fn fresh() -> (Arc<dyn SnapshotStore>, SqliteFile) {
        let events = SqliteFile::setup().await;
        (Arc::new(SqliteSnapshotStore::new(&events.store)), events)
    }

    eventsource::snapshot_store_conformance!(fresh());
}
