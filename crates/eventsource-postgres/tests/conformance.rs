//! The event store conformance suite, against PostgreSQL: every check on a
//! database of its own.

mod support;

use std::sync::Arc;

use eventsource::testing::StoreFixture;
use eventsource_postgres::PostgresEventStore;
use support::TestDatabase;

/// Enough connections for the suite's sixteen racing writers to race.
const CONNECTIONS: u32 = 16;

struct Postgres {
    store: Arc<PostgresEventStore>,
    // Dropped after the store: the database goes with its connections.
    _database: TestDatabase,
}

#[async_trait::async_trait]
impl StoreFixture for Postgres {
    type Store = PostgresEventStore;

    async fn setup() -> Self {
        let database = TestDatabase::create().await;
        let store = Arc::new(database.store(CONNECTIONS).await);
        Self {
            store,
            _database: database,
        }
    }

    fn store(&self) -> Arc<PostgresEventStore> {
        Arc::clone(&self.store)
    }

    async fn teardown(self) {
        self.store.pool().close().await;
    }
}

eventsource::event_store_conformance!(Postgres);

mod projection_store {
    use eventsource::testing::ProjectionStoreFixture;
    use eventsource_postgres::PostgresProjectionStore;

    use super::*;

    /// A projection transaction and one waiting behind it, with room left.
    const CONNECTIONS: u32 = 4;

    struct PostgresProjections {
        events: PostgresEventStore,
        store: Arc<PostgresProjectionStore>,
        // Dropped after the stores: the database goes with its connections.
        _database: TestDatabase,
    }

    #[async_trait::async_trait]
    impl ProjectionStoreFixture for PostgresProjections {
        type Store = PostgresProjectionStore;

        async fn setup() -> Self {
            let database = TestDatabase::create().await;
            let events = database.store(CONNECTIONS).await;
            Self {
                store: Arc::new(PostgresProjectionStore::new(&events)),
                events,
                _database: database,
            }
        }

        fn store(&self) -> Arc<PostgresProjectionStore> {
            Arc::clone(&self.store)
        }

        async fn teardown(self) {
            self.events.pool().close().await;
        }
    }

    eventsource::projection_store_conformance!(PostgresProjections);
}

mod snapshot_store {
    use eventsource::SnapshotStore;
    use eventsource_postgres::PostgresSnapshotStore;

    use super::*;

    /// A fresh snapshot store; the database is dropped with the returned
    /// guard, when the test ends.
    async fn fresh() -> (Arc<dyn SnapshotStore>, TestDatabase) {
        let database = TestDatabase::create().await;
        let events = database.store(2).await;
        (Arc::new(PostgresSnapshotStore::new(&events)), database)
    }

    eventsource::snapshot_store_conformance!(fresh());
}
