//! [`PostgresEventStore`]: the connection pool, the isolation mode, and the
//! [`EventStore`] contract on top of the statements of `append` and `read`.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use eventsource::store::{paged_feed, validate_writes};
use eventsource::{
    AppendResult, EventFilter, EventStore, ReadAllOptions, StoreError, StoreResult, StoredEvent, StreamId,
    StreamWrite, TenantFilter, TenantId, TenantStats,
};
use futures::stream::BoxStream;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::append::{self, check_session_tenant, Attempt};
use crate::encode::EncodedBatch;
use crate::error::backend;
use crate::isolation::{begin_tenant_transaction, Session, TenantIsolation};
use crate::live::LiveFeed;
use crate::{read, schema};

/// How many connections [`PostgresEventStore::connect`] pools.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// The PostgreSQL event store. Cloning it shares the connection pool.
#[derive(Clone, Debug)]
pub struct PostgresEventStore {
    pool: PgPool,
    isolation: TenantIsolation,
    /// The listener that wakes followers, shared by clones.
    live: LiveFeed,
}

impl PostgresEventStore {
    /// Connects a pool of up to [`DEFAULT_MAX_CONNECTIONS`] to the database
    /// at `url` (`postgres://user@host:port/database`), without migrating.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for a malformed URL,
    /// [`StoreError::Backend`] when the server cannot be reached.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|error| StoreError::InvalidArgument(format!("not a PostgreSQL URL: {error}")))?;
        Self::connect_with(options).await
    }

    /// Connects a pool with explicit connection options, without migrating.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the server cannot be reached.
    pub async fn connect_with(options: PgConnectOptions) -> StoreResult<Self> {
        // One direct connection first: an unreachable server or a refused
        // login fails now, with its reason, instead of after the pool's
        // acquire timeout with "pool timed out".
        let probe = PgConnection::connect_with(&options).await.map_err(backend)?;
        probe.close().await.map_err(backend)?;

        // No ping before each acquire: a save stays one round trip, and a
        // broken connection surfaces as an error of the call that used it
        // (the pool then drops it).
        let pool = PgPoolOptions::new()
            .max_connections(DEFAULT_MAX_CONNECTIONS)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Ok(Self::from_pool(pool))
    }

    /// Connects to `url` and applies the migrations: [`connect`](Self::connect)
    /// then [`migrate`](Self::migrate).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect) and [`migrate`](Self::migrate).
    pub async fn open(url: &str) -> StoreResult<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// A store on a pool configured by the caller (size, timeouts, the role
    /// it logs in as, `after_connect` hooks).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            isolation: TenantIsolation::Off,
            live: LiveFeed::default(),
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The tenant isolation mode.
    pub fn isolation(&self) -> TenantIsolation {
        self.isolation
    }

    /// Applies the embedded migrations not yet applied; idempotent.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] when the database is not UTF-8,
    /// [`StoreError::Backend`] when a migration fails.
    pub async fn migrate(&self) -> StoreResult<()> {
        schema::migrate(&self.pool).await
    }

    /// Switches on row-level security for `events`, so roles that neither
    /// own the table nor bypass row-level security see and insert only the
    /// rows of the tenant their transaction carries. Run once by the
    /// table's owner, after [`migrate`](Self::migrate); idempotent.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the statement fails (for instance when
    /// this pool's role does not own `events`).
    pub async fn enable_tenant_isolation(&self) -> StoreResult<()> {
        schema::enable_tenant_isolation(&self.pool).await
    }

    /// This store, with every operation run in a transaction carrying the
    /// tenant of the current tenant context ([`TenantIsolation::FromContext`]).
    pub fn with_tenant_isolation(self) -> Self {
        self.with_isolation(TenantIsolation::FromContext)
    }

    /// This store, with every operation run in a transaction carrying
    /// `tenant` ([`TenantIsolation::Fixed`]).
    pub fn for_tenant(self, tenant: TenantId) -> Self {
        self.with_isolation(TenantIsolation::Fixed(tenant))
    }

    /// This store, with the given isolation mode.
    pub fn with_isolation(mut self, isolation: TenantIsolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Begins a transaction carrying `tenant` (`SET LOCAL
    /// eventsource.tenant_id`), for hand-written SQL or for
    /// [`append_in`](Self::append_in) alongside other writes. Under
    /// row-level security, everything in it sees only `tenant`'s rows.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the transaction cannot start.
    pub async fn tenant_transaction(&self, tenant: TenantId) -> StoreResult<Transaction<'static, Postgres>> {
        begin_tenant_transaction(&self.pool, tenant).await
    }

    /// Appends like [`EventStore::append_streams`], but on the caller's
    /// connection, typically inside a transaction that also writes a read
    /// model or an outbox row: the events commit with it, or not at all.
    ///
    /// ```no_run
    /// # use eventsource::{ExpectedVersion, StreamWrite};
    /// # use eventsource_postgres::PostgresEventStore;
    /// # async fn run(store: PostgresEventStore, write: StreamWrite) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut transaction = store.pool().begin().await?;
    /// store.append_in(&mut transaction, &[write]).await?;
    /// sqlx::query("UPDATE order_totals SET orders = orders + 1").execute(&mut *transaction).await?;
    /// transaction.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Appends are serialised until commit (that keeps the global feed
    /// gap-free), so other writers wait while this transaction stays open:
    /// commit soon. After an error the caller's transaction is aborted and
    /// must be rolled back; explaining a lost race takes a second connection
    /// from this store's pool.
    ///
    /// # Errors
    ///
    /// As [`EventStore::append_streams`].
    pub async fn append_in(
        &self,
        connection: &mut PgConnection,
        writes: &[StreamWrite],
    ) -> StoreResult<AppendResult> {
        let streams = validate_writes(writes)?;
        let tenant = self.isolation.current_tenant();
        check_session_tenant(writes, tenant)?;
        let batch = EncodedBatch::encode(writes, &streams)?;
        let attempt = append::attempt(connection, writes, &streams, batch).await?;
        self.conclude(attempt, tenant, writes, &streams).await
    }

    async fn session(&self) -> StoreResult<Session> {
        Session::open(&self.pool, self.isolation.current_tenant()).await
    }

    async fn conclude(
        &self,
        attempt: Attempt,
        tenant: Option<TenantId>,
        writes: &[StreamWrite],
        streams: &[StreamId],
    ) -> StoreResult<AppendResult> {
        let first = &writes[0].events[0].envelope;
        match attempt {
            Attempt::Stored(result) => {
                tracing::debug!(
                    tenant = ?first.tenant_id,
                    aggregate = %streams[0],
                    position = result.positions.first(),
                    events = result.positions.len(),
                    "appended events"
                );
                Ok(result)
            }
            Attempt::Refused(error) => {
                tracing::debug!(tenant = ?first.tenant_id, aggregate = %streams[0], %error, "append refused");
                Err(error)
            }
            Attempt::LostRace(race) => {
                let mut session = Session::open(&self.pool, tenant).await?;
                let error = append::explain_lost_race(session.connection(), race, writes, streams).await;
                tracing::debug!(tenant = ?first.tenant_id, aggregate = %streams[0], %error, "append lost a race");
                Err(error)
            }
        }
    }
}

#[async_trait]
impl EventStore for PostgresEventStore {
    async fn append_streams(&self, writes: &[StreamWrite]) -> StoreResult<AppendResult> {
        let streams = validate_writes(writes)?;
        let tenant = self.isolation.current_tenant();
        check_session_tenant(writes, tenant)?;
        let batch = EncodedBatch::encode(writes, &streams)?;

        // The session is released before a lost race is explained, so even
        // a pool of one connection cannot wait on itself.
        let attempt = {
            let mut session = Session::open(&self.pool, tenant).await?;
            let attempt = append::attempt(session.connection(), writes, &streams, batch).await?;
            if matches!(attempt, Attempt::Stored(_)) {
                session.finish().await?;
            }
            attempt
        };
        self.conclude(attempt, tenant, writes, &streams).await
    }

    async fn read_stream(&self, stream: &StreamId, after_version: u64) -> StoreResult<Vec<StoredEvent>> {
        let mut session = self.session().await?;
        let events = read::read_stream(session.connection(), stream, after_version).await?;
        session.finish().await?;
        Ok(events)
    }

    async fn read_stream_of_tenant(
        &self,
        stream: &StreamId,
        after_version: u64,
        tenant: TenantId,
    ) -> StoreResult<Vec<StoredEvent>> {
        let mut session = self.session().await?;
        let events = read::read_stream_of_tenant(session.connection(), stream, after_version, tenant).await?;
        session.finish().await?;
        Ok(events)
    }

    async fn stream_version(&self, stream: &StreamId) -> StoreResult<u64> {
        let mut session = self.session().await?;
        let version = read::stream_version(session.connection(), stream).await?;
        session.finish().await?;
        Ok(version)
    }

    async fn first_event_tenant(&self, stream: &StreamId) -> StoreResult<Option<Option<TenantId>>> {
        let mut session = self.session().await?;
        let tenant = read::first_event_tenant(session.connection(), stream).await?;
        session.finish().await?;
        Ok(tenant)
    }

    async fn aggregate_types_of(&self, aggregate_id: Uuid, tenant: TenantFilter) -> StoreResult<Vec<String>> {
        let mut session = self.session().await?;
        let types = read::aggregate_types_of(session.connection(), aggregate_id, tenant).await?;
        session.finish().await?;
        Ok(types)
    }

    fn read_all(&self, options: ReadAllOptions) -> BoxStream<'_, StoreResult<StoredEvent>> {
        // The tenant is taken when the feed is opened, not when a page is
        // read, so every page carries the same one.
        let tenant = self.isolation.current_tenant();
        let filter = options.filter.clone();
        paged_feed(options, move |after, size| {
            let filter = filter.clone();
            async move {
                let mut session = Session::open(&self.pool, tenant).await?;
                let page = read::feed_page(session.connection(), &filter, after, size).await?;
                session.finish().await?;
                Ok(page)
            }
        })
    }

    async fn existing_event_ids(&self, event_ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
        let mut session = self.session().await?;
        let ids = read::existing_event_ids(session.connection(), event_ids).await?;
        session.finish().await?;
        Ok(ids)
    }

    async fn count(&self, filter: &EventFilter) -> StoreResult<u64> {
        let mut session = self.session().await?;
        let count = read::count(session.connection(), filter).await?;
        session.finish().await?;
        Ok(count)
    }

    async fn current_position(&self) -> StoreResult<Option<u64>> {
        let mut session = self.session().await?;
        let position = read::current_position(session.connection()).await?;
        session.finish().await?;
        Ok(position)
    }

    /// Wakes as soon as an append commits (see the crate documentation,
    /// "Live delivery"): at once when the current position is already past
    /// `after`, else when the store's listener hears of a commit past it,
    /// or after `max_wait`.
    async fn wait_for_events(&self, after: Option<u64>, max_wait: Duration) -> StoreResult<()> {
        self.live
            .wait_for_events(&self.pool, after, max_wait, || self.current_position())
            .await
    }

    async fn tenant_stats(&self) -> StoreResult<Vec<TenantStats>> {
        let mut session = self.session().await?;
        let stats = read::tenant_stats(session.connection()).await?;
        session.finish().await?;
        Ok(stats)
    }
}
