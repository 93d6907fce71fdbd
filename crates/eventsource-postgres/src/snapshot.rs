//! Snapshots in the events' PostgreSQL database (the table of migration
//! `0005`): the latest one per stream, replaced only by one of the same or
//! a higher version, decided in the upsert itself so that concurrent savers
//! cannot make the stored version go back.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use eventsource::{Snapshot, SnapshotStore, StoreError, StoreResult, StreamId, TenantId};
use sqlx::PgPool;
use uuid::Uuid;

use crate::bounds::{self, bigint, unsigned};
use crate::error::backend;
use crate::PostgresEventStore;

const LOAD: &str = include_str!("sql/snapshot/load.sql");
const SAVE: &str = include_str!("sql/snapshot/save.sql");
const DELETE: &str = include_str!("sql/snapshot/delete.sql");

/// The longest `aggregate_type`, in characters (the column is
/// `VARCHAR(255)`, as in `events`).
const MAX_AGGREGATE_TYPE_CHARS: usize = 255;

/// Snapshots in PostgreSQL, on the event store's pool. Cloning it shares
/// the pool.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use eventsource_postgres::{PostgresEventStore, PostgresSnapshotStore};
///
/// # async fn run() -> Result<(), eventsource::StoreError> {
/// let events = PostgresEventStore::open("postgres://app@127.0.0.1/orders").await?;
/// let snapshots: Arc<dyn eventsource::SnapshotStore> = Arc::new(PostgresSnapshotStore::new(&events));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresSnapshotStore {
    pool: PgPool,
}

impl PostgresSnapshotStore {
    /// Snapshot storage in the database of `events`, on its pool. The event
    /// store's migrations create the table.
    pub fn new(events: &PostgresEventStore) -> Self {
        Self {
            pool: events.pool().clone(),
        }
    }
}

/// Whether a snapshot of `stream` can be stored at all: PostgreSQL text
/// cannot hold a NUL character. (A type longer than the column simply
/// matches no row.)
fn storable(stream: &StreamId) -> bool {
    !stream.aggregate_type.contains('\0')
}

/// The stream's aggregate type as the `aggregate_type` column can hold it.
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] for a NUL character or more than 255
/// characters.
fn aggregate_type(stream: &StreamId) -> StoreResult<&str> {
    let text = bounds::text("aggregate type", &stream.aggregate_type)?;
    if text.chars().count() > MAX_AGGREGATE_TYPE_CHARS {
        return Err(StoreError::InvalidArgument(format!(
            "aggregate type {text:?} is longer than {MAX_AGGREGATE_TYPE_CHARS} characters"
        )));
    }
    Ok(text)
}

#[derive(sqlx::FromRow)]
struct SnapshotRow {
    tenant_id: Option<Uuid>,
    version: i64,
    schema_version: i64,
    state: String,
    taken_at: DateTime<Utc>,
}

#[async_trait]
impl SnapshotStore for PostgresSnapshotStore {
    async fn load(&self, stream: &StreamId) -> StoreResult<Option<Snapshot>> {
        if !storable(stream) {
            return Ok(None);
        }
        let row: Option<SnapshotRow> = sqlx::query_as(LOAD)
            .bind(stream.aggregate_id)
            .bind(&stream.aggregate_type)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Snapshot {
            stream: stream.clone(),
            tenant_id: row.tenant_id.map(TenantId::from_uuid),
            version: unsigned(row.version),
            schema_version: u32::try_from(row.schema_version).unwrap_or(0),
            // `serde_json` here keeps key order and number digits as stored.
            state: serde_json::from_str(&row.state).map_err(StoreError::backend)?,
            taken_at: row.taken_at,
        }))
    }

    async fn save(&self, snapshot: &Snapshot) -> StoreResult<()> {
        let saved = sqlx::query(SAVE)
            .bind(snapshot.stream.aggregate_id)
            .bind(aggregate_type(&snapshot.stream)?)
            .bind(snapshot.tenant_id.as_ref().map(TenantId::as_uuid))
            .bind(bigint("snapshot version", snapshot.version)?)
            .bind(i64::from(snapshot.schema_version))
            .bind(snapshot.state.to_string())
            .bind(snapshot.taken_at.trunc_subsecs(6))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        tracing::debug!(
            tenant = ?snapshot.tenant_id,
            aggregate = %snapshot.stream,
            version = snapshot.version,
            kept = saved.rows_affected() > 0,
            "snapshot offered"
        );
        Ok(())
    }

    async fn delete(&self, stream: &StreamId) -> StoreResult<()> {
        if !storable(stream) {
            return Ok(());
        }
        sqlx::query(DELETE)
            .bind(stream.aggregate_id)
            .bind(&stream.aggregate_type)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
