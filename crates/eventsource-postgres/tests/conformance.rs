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
