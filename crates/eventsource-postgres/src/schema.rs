//! The schema: migrations embedded in the binary, and the operator's switch
//! for row-level tenant isolation.
//!
//! The migrations (`migrations/` in this crate, applied in order and
//! recorded in `_sqlx_migrations`) create the guide's `events` table and
//! indexes plus what the guarantees need: the envelope columns the guide
//! lacks, an index for reading one tenant's feed in position order, the
//! trigger that serialises appends (gap-free feed), the tenant isolation
//! policy (inactive until switched on), the tables of projections and
//! snapshots, and the trigger that notifies appends (live delivery).

use eventsource::{StoreError, StoreResult};
use sqlx::migrate::Migrator;
use sqlx::PgPool;

use crate::error::backend;

/// The embedded migrations.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

const ENABLE_TENANT_ISOLATION: &str = include_str!("sql/enable_tenant_isolation.sql");

/// Applies the migrations not yet applied; running it again is a no-op.
/// Concurrent callers wait for each other (sqlx takes an advisory lock).
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] when the database does not use UTF-8
/// (events could not be stored exactly); [`StoreError::Backend`] when a
/// migration fails.
pub(crate) async fn migrate(pool: &PgPool) -> StoreResult<()> {
    let encoding: String = sqlx::query_scalar(
        "SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    if encoding != "UTF8" {
        return Err(StoreError::InvalidArgument(format!(
            "the database uses the encoding {encoding}; the event store needs UTF8 to store text exactly"
        )));
    }
    MIGRATOR.run(pool).await.map_err(StoreError::backend)?;
    tracing::info!(
        migrations = MIGRATOR.iter().count(),
        "event store schema is up to date"
    );
    Ok(())
}

/// Switches on row-level security for `events`; running it again is a
/// no-op.
///
/// # Errors
///
/// [`StoreError::Backend`] when the statement fails (only the table's owner
/// may run it).
pub(crate) async fn enable_tenant_isolation(pool: &PgPool) -> StoreResult<()> {
    sqlx::query(ENABLE_TENANT_ISOLATION)
        .execute(pool)
        .await
        .map_err(backend)?;
    tracing::info!("row-level tenant isolation is on for events");
    Ok(())
}
