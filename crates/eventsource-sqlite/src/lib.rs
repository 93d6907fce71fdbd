//! The embedded SQLite event store, the default of the `eventsource` CLI.
//!
//! [`SqliteEventStore`] keeps events in one SQLite file (or an in-memory
//! database) in the schema of the multi-tenant guide, created by embedded
//! migrations ([`SqliteEventStore::migrate`]).
//!
//! # Durability and concurrency
//!
//! The database runs in WAL mode with `synchronous = FULL`: a save that
//! returned is on disk, also across a power loss. Every append is one
//! `BEGIN IMMEDIATE` transaction, so writers are serialised by SQLite's
//! write lock (across processes too) and positions are assigned and
//! committed in the same order. That is why a reader following the global
//! feed can never skip an event here: no transaction can commit a position
//! below one that is already visible. Readers never block writers.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), eventsource::StoreError> {
//! use eventsource::EventStore;
//! let store = eventsource_sqlite::SqliteEventStore::open("sqlite::memory:").await?;
//! assert_eq!(store.current_position().await?, None);
//! # Ok(()) }
//! ```

mod append;
mod projection;
mod read;

mod row;
mod snapshot;

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use eventsource::store::paged_feed;
use eventsource::{
    AppendResult, EventFilter, EventStore, ReadAllOptions, StoreError, StoreResult, StoredEvent, StreamId,
    StreamWrite, TenantFilter, TenantId, TenantStats,
};
use futures::stream::BoxStream;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tracing::info;
use uuid::Uuid;

pub use projection::SqliteProjectionStore;
pub use snapshot::SqliteSnapshotStore;

/// Begins a `BEGIN IMMEDIATE` transaction on a task of its own. If the
/// caller is cancelled while the BEGIN is under way, the transaction still
/// reaches its guard, which rolls it back; begun in the caller's future it
/// could be left open on a pooled connection, holding the write lock.
pub(crate) async fn begin_immediate(
    pool: &SqlitePool,
) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await })
        .await
        .map_err(StoreError::backend)?
        .map_err(StoreError::backend)
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// An event store in an SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteEventStore {
    pool: SqlitePool,
}

impl SqliteEventStore {
    /// Connects to the database named by `url` (`sqlite://path/to/file.db`,
    /// `sqlite:file.db` or `sqlite::memory:`), creating the file when it is
    /// missing. The schema is not touched; see [`Self::migrate`].
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for a URL that is not an SQLite URL,
    /// [`StoreError::Backend`] when the database cannot be opened.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| StoreError::InvalidArgument(format!("{url:?} is not an SQLite URL: {error}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            // 32 MiB of page cache per connection instead of SQLite's 2 MB:
            // the unique and tenant indexes on random UUIDs outgrow the
            // default once a store holds a few hundred thousand events, and
            // every append then waits on reads from disk.
            .pragma("cache_size", "-32768");
        // Each connection to `:memory:` is a database of its own, so an
        // in-memory store keeps exactly one connection for its lifetime.
        // (sqlx rewrites `:memory:` to a shared-cache file name, so the URL
        // is what tells.)
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(8)
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self { pool })
    }

    /// Connects and applies the migrations.
    ///
    /// # Errors
    ///
    /// As [`Self::connect`] and [`Self::migrate`].
    pub async fn open(url: &str) -> StoreResult<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Creates or upgrades the schema. Running it again is harmless.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when a migration fails.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(StoreError::backend)?;
        info!(
            migrations = MIGRATOR.iter().count(),
            "sqlite schema is up to date"
        );
        Ok(())
    }

    /// The connection pool, for read models that live in the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append_streams(&self, writes: &[StreamWrite]) -> StoreResult<AppendResult> {
        append::append_streams(&self.pool, writes).await
    }

    async fn read_stream(&self, stream: &StreamId, after_version: u64) -> StoreResult<Vec<StoredEvent>> {
        read::read_stream(&self.pool, stream, after_version).await
    }

    async fn read_stream_of_tenant(
        &self,
        stream: &StreamId,
        after_version: u64,
        tenant: TenantId,
    ) -> StoreResult<Vec<StoredEvent>> {
        read::read_stream_of_tenant(&self.pool, stream, after_version, tenant).await
    }

    async fn stream_version(&self, stream: &StreamId) -> StoreResult<u64> {
        read::stream_version(&self.pool, stream).await
    }

    async fn first_event_tenant(&self, stream: &StreamId) -> StoreResult<Option<Option<TenantId>>> {
        read::first_event_tenant(&self.pool, stream).await
    }

    async fn aggregate_types_of(&self, aggregate_id: Uuid, tenant: TenantFilter) -> StoreResult<Vec<String>> {
        read::aggregate_types_of(&self.pool, aggregate_id, tenant).await
    }

    fn read_all(&self, options: ReadAllOptions) -> BoxStream<'_, StoreResult<StoredEvent>> {
        let filter = options.filter.clone();
        paged_feed(options, move |after, size| {
            let (pool, filter) = (self.pool.clone(), filter.clone());
            async move { read::page(&pool, &filter, after, size).await }
        })
    }

    async fn existing_event_ids(&self, event_ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
        read::existing_event_ids(&self.pool, event_ids).await
    }

    async fn count(&self, filter: &EventFilter) -> StoreResult<u64> {
        read::count(&self.pool, filter).await
    }

    async fn current_position(&self) -> StoreResult<Option<u64>> {
        read::current_position(&self.pool).await
    }

    async fn tenant_stats(&self) -> StoreResult<Vec<TenantStats>> {
        read::tenant_stats(&self.pool).await
    }
}
