//! The PostgreSQL event store: the production backend of
//! [`eventsource`], on the guide's schema.
//!
//! ```no_run
//! use eventsource::{EventStore, ExpectedVersion};
//! use eventsource_postgres::PostgresEventStore;
//!
//! # async fn run(events: Vec<eventsource::RawEvent>) -> Result<(), eventsource::StoreError> {
//! // Connects a pool and applies the embedded migrations (idempotent).
//! let store = PostgresEventStore::open("postgres://app@127.0.0.1/orders").await?;
//! store.append(ExpectedVersion::NoStream, events).await?;
//! # Ok(()) }
//! ```
//!
//! # Schema
//!
//! Migrations are embedded and applied by [`PostgresEventStore::migrate`]
//! (and by `eventsource migrate`). They create the guide's `events` table —
//! `global_position BIGSERIAL` primary key, `event_id` unique, the unique
//! `(aggregate_id, aggregate_type, version)` constraint, the partial index
//! `idx_events_tenant_id` and the composite index
//! `idx_events_type_tenant_timestamp (aggregate_type, tenant_id, timestamp)`
//! — plus the envelope columns the guide lacks (`event_version`,
//! `correlation_id`, `causation_id`, `metadata`), an index
//! `idx_events_tenant_position (tenant_id, global_position)` that serves a
//! tenant's feed page by page in order, the trigger that keeps the feed
//! gap-free, the tenant isolation policy (inactive until switched on), the
//! tables of projections and snapshots, and the trigger that notifies
//! appends for live delivery.
//!
//! `payload` and `metadata` are `json` columns, not `jsonb`. `json` keeps the
//! exact text it is given, after checking it is valid JSON: key order,
//! number digits beyond `f64` (`123456789012345678901234567890`,
//! `0.1000000000000000000000000001`) and `\u0000` escapes all come back as
//! written. `jsonb` would reorder keys, normalise numbers and refuse
//! `\u0000`. Both support the `->`/`->>` operators; a `jsonb` expression
//! index can still be added for a query that needs one.
//!
//! # Appends
//!
//! An append is one statement — one round trip and one implicit
//! transaction — however many events and streams it holds (sqlx's pool
//! pings a connection when it takes it back, after the call has returned;
//! the first use of a connection also prepares the statement): the events
//! travel as parallel arrays unnested on the server; the statement reads
//! each stream's version and the already stored ids, and inserts the whole
//! batch only if every expectation holds, so a call is atomic across all its
//! streams. A writer that commits in between is caught by the unique
//! constraints, recognised by SQLSTATE `23505` and constraint name, and the
//! conflict reports the actual version read afterwards
//! ([`StoreError::Concurrency`](eventsource::StoreError::Concurrency)), or
//! the stored id
//! ([`StoreError::DuplicateEvent`](eventsource::StoreError::DuplicateEvent)).
//!
//! # A feed that never skips an event
//!
//! Positions come from a sequence, handed out when a row is inserted, but
//! rows become visible when their transaction commits. With concurrent
//! writers a later position can commit first; a reader that already moved
//! past it would never see the earlier one (the classic sequence-gap bug).
//!
//! This store serialises appends: a statement-level `BEFORE INSERT` trigger
//! on `events` takes a transaction-scoped advisory lock before any position
//! is handed out, and the lock is released only after the transaction's
//! commit is visible (PostgreSQL makes a commit visible before it releases
//! its locks). So positions are assigned and committed one transaction at a
//! time, and a reader that sees position P sees every committed position
//! below P. Readers take no lock and run plain `global_position > P` queries
//! on the primary key; positions stay plain `BIGINT`s, dense but for rolled
//! back appends. Because the trigger guards the table, the guarantee holds
//! for every insert path, hand-written SQL included.
//!
//! Why this mechanism: filtering by transaction ids (`pg_current_xact_id()`
//! per row, readers stopping at `pg_snapshot_xmin`) lets writers run in
//! parallel, but then the feed order is the order of transaction ids, not of
//! positions, so a single increasing position no longer exists, and any long
//! transaction anywhere in the cluster holds every reader back. A high-water
//! mark that waits for gaps to fill guesses with a timeout. The lock is
//! exact and keeps the position a single number.
//!
//! Its price is throughput: commits of different writers cannot share a WAL
//! flush. The lock is taken as late as the statement allows (the batch is
//! unnested, its JSON checked and the expectations read before it) and held
//! only by the insert and its commit; a save is a single statement, so no
//! client round trip happens while it is held, and a save of many events
//! costs one lock. Measured on a 2-core development machine (release build,
//! eight writers, each save a new stream, fsync on), saves per second with
//! the lock against without it: about 1,500 against 2,400 for one event per
//! save, 900 against 1,450 for four, 340 against 450 (some 6,800 against
//! 9,000 events per second) for twenty. Batching events per save is what
//! raises events per second. Conflicting appends insert nothing and hold
//! the lock only briefly. [`PostgresEventStore::append_in`] appends inside a
//! caller's transaction and holds the lock until that commits.
//!
//! # Tenant filters use the indexes
//!
//! Every filter is translated into SQL with the values bound, never applied
//! to loaded rows: `tenant_id = $n` is matched by the tenant indexes, and with
//! an aggregate type and a time range by `idx_events_type_tenant_timestamp`.
//! [`PostgresEventStore::explain_feed_page`] shows the plan of any feed query.
//!
//! # Tenant isolation the database enforces
//!
//! Opt-in. The migrations define the policy `events_tenant_isolation`: a
//! row is visible, and may be inserted, only if its `tenant_id` equals the
//! setting `eventsource.tenant_id` of the current transaction; with no
//! setting, nothing is. It takes effect once row-level security is enabled,
//! and it restricts only roles that neither own `events` nor bypass
//! row-level security. The roles and steps for an operator:
//!
//! 1. An owner role (say `eventsource_owner`) owns the schema: it runs
//!    `eventsource migrate`, then [`PostgresEventStore::enable_tenant_isolation`]
//!    (`ALTER TABLE events ENABLE ROW LEVEL SECURITY`) once. It is not
//!    restricted and serves cross-tenant work: projections over all tenants,
//!    statistics, exports. A projection runner reads every tenant's events
//!    and writes every tenant's documents, so it connects as this role, on a
//!    store without tenant isolation ([`PostgresProjectionStore`] on an owner
//!    [`PostgresEventStore`]); under the application role with row-level
//!    security on, it would see, and project, nothing.
//! 2. An application role (say `eventsource_app`), `LOGIN`, neither owner,
//!    superuser nor `BYPASSRLS`, gets only what appending and reading need:
//!    `GRANT SELECT, INSERT ON events TO eventsource_app;`
//!    `GRANT USAGE ON SEQUENCE events_global_position_seq TO eventsource_app;`
//!    (and `USAGE` on the schema if it is not `public`).
//! 3. Services connect as the application role with
//!    [`PostgresEventStore::with_tenant_isolation`]: every operation then runs
//!    in a transaction that starts with
//!    `SELECT set_config('eventsource.tenant_id', $1, true)` — a `SET LOCAL`
//!    of the tenant of the current [`tenant_scope`](eventsource::tenant_scope),
//!    bound as a parameter. [`PostgresEventStore::for_tenant`] fixes the
//!    tenant instead, and [`PostgresEventStore::tenant_transaction`] opens such
//!    a transaction for hand-written SQL. The setting ends with the
//!    transaction, so no pooled connection carries a tenant further.
//!
//! In such a session even `SELECT * FROM events` returns only the tenant's
//! rows, `count(*)` counts only them, and inserting a row of another tenant
//! fails. A tenant session costs three extra round trips per operation
//! (`BEGIN`, the setting, `COMMIT`).
//!
//! The policy covers `events` only. The projection tables and `snapshots`
//! have none: whoever may read them reads every tenant's rows. Keep them to
//! the owner role; an application role granted `snapshots` (to load
//! aggregates through snapshots) can read other tenants' snapshots with
//! hand-written SQL.
//!
//! ```no_run
//! use eventsource::{tenant_scope, EventFilter, EventStore, TenantId};
//! use eventsource_postgres::PostgresEventStore;
//!
//! # async fn run(acme: TenantId) -> Result<(), eventsource::StoreError> {
//! // Logged in as the application role, not as the owner.
//! let store = PostgresEventStore::connect("postgres://eventsource_app@127.0.0.1/orders")
//!     .await?
//!     .with_tenant_isolation();
//! // The database itself counts only acme's rows, whatever the filter says.
//! let acme_events = tenant_scope(acme, store.count(&EventFilter::all())).await?;
//!
//! // Hand-written SQL in a transaction carrying the tenant.
//! let mut session = store.tenant_transaction(acme).await?;
//! let rows = eventsource_postgres::sqlx::query("SELECT * FROM events")
//!     .fetch_all(&mut *session)
//!     .await
//!     .map_err(eventsource::StoreError::backend)?;
//! assert_eq!(rows.len() as u64, acme_events);
//! # Ok(()) }
//! ```
//!
//! # Projections and snapshots
//!
//! [`PostgresProjectionStore`] keeps read models, checkpoints and dead
//! letters in the events' database (`projection_documents`,
//! `projection_checkpoints`, `projection_dead_letters`), so a batch's
//! documents, parked events and checkpoint commit in one transaction with
//! nothing in between: an effect happens exactly once, also across crashes.
//! Documents are keyed by projection, tenant and key; their values are
//! `json`, kept exactly as written, like payloads.
//!
//! A projection's transactions are serialised by a transaction-scoped
//! advisory lock, taken by the transaction's first statement and held until
//! it commits or rolls back: `pg_advisory_xact_lock(key)` with the single
//! `BIGINT` key `hashtextextended(projection_name, oid of
//! projection_checkpoints)`. That key space is apart from the append lock's
//! (a pair of integers: PostgreSQL never lets the two forms meet), so
//! projections and appends never wait for each other, and projections wait
//! only for themselves. Because the lock lives in the database, runners of
//! one projection in several processes take turns batch by batch, and each
//! reads the checkpoint its predecessor committed (transactions run at
//! `READ COMMITTED` whatever the server's default, so a statement sees
//! every commit before it). [`ProjectionStore::reset`](eventsource::projection::ProjectionStore::reset)
//! takes the same lock. The events' pool serves these transactions too; a
//! transaction waiting for the lock holds a connection while it waits.
//!
//! [`PostgresSnapshotStore`] keeps the latest snapshot per stream in
//! `snapshots`; a save replaces the stored one only when its version is the
//! same or higher, decided in the upsert itself.
//!
//! # Live delivery
//!
//! [`EventStore::wait_for_events`](eventsource::EventStore::wait_for_events)
//! wakes a follower as soon as an append commits, instead of sleeping out
//! its poll interval. A statement-level trigger on `events` calls
//! `pg_notify('eventsource_events', <highest position inserted>)` for every
//! insert statement, inside the append's own statement, so a save stays one
//! round trip. PostgreSQL delivers a notification when its transaction
//! commits and drops it on rollback, so no follower wakes before the events
//! are readable.
//!
//! Each store (clones included) runs one listener: a background task,
//! started by the first wait, with one connection of its own beside the
//! pool (its `application_name` is [`LISTENER_APPLICATION_NAME`]). Waits
//! subscribe to it; a wait returns at once when the store's current position
//! is past the follower's, otherwise when a commit past it is notified, or
//! after its time limit. The listener reconnects when its connection is
//! lost, with a pause growing to five seconds while the server stays away,
//! and wakes every waiter once it listens again, since notifications sent
//! in between are lost. While it cannot connect, waits last their whole
//! limit: followers poll. It ends with the last clone of the store.
//!
//! Any role connected to the database may listen on a channel, and the
//! payload is a global position, so it can learn when and roughly how much
//! is appended; what is appended stays behind the table's privileges and
//! row-level security. (The positions of a tenant's own events disclose as
//! much.) Under tenant isolation, a follower is woken by every tenant's
//! appends and finds nothing new after those of other tenants.
//!
//! # Payload fidelity
//!
//! Payloads and metadata are stored as the JSON text `serde_json` writes
//! (this workspace keeps key order and arbitrary-precision numbers), so
//! unicode of every kind, `\u0000`, megabyte strings and numbers beyond
//! `f64` round-trip exactly. What PostgreSQL cannot store exactly is refused
//! before anything is written, with
//! [`StoreError::InvalidArgument`](eventsource::StoreError::InvalidArgument):
//! a NUL character in `aggregate_type`, `event_type` or `actor_id`, those
//! longer than 255 characters, versions above `i32::MAX`, instants before
//! 4713 BC. Instants keep their microseconds (any finer digits are
//! truncated, as `TIMESTAMPTZ` holds microseconds).
//!
//! # Tests
//!
//! The crate's tests need a PostgreSQL server; they read its URL from
//! `EVENTSOURCE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, a role that may create
//! databases and roles) and give each test a database of its own, dropped
//! afterwards. Without a server they fail, saying how to start one.

#![warn(missing_docs)]

mod append;
mod bounds;
mod encode;
mod error;
mod explain;
mod filter;
mod isolation;
mod live;
mod projection;
mod read;
mod row;
mod schema;
mod snapshot;
mod store;

pub use isolation::{TenantIsolation, TENANT_SETTING};
pub use live::{CHANNEL as APPENDS_CHANNEL, LISTENER_APPLICATION_NAME};
pub use projection::PostgresProjectionStore;
pub use snapshot::PostgresSnapshotStore;
pub use store::{PostgresEventStore, DEFAULT_MAX_CONNECTIONS};

/// Re-exported so callers can configure pools and connections with the
/// same `sqlx` version this crate uses.
pub use sqlx;
