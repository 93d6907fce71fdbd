//! Snapshots in the events' SQLite database: the latest one per stream.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use eventsource::{Snapshot, SnapshotStore, StoreError, StoreResult, StreamId, TenantId};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use crate::row::{timestamp_text, uuid_text};
use crate::SqliteEventStore;

/// Snapshot storage in an SQLite database (usually the events' own).
#[derive(Clone, Debug)]
pub struct SqliteSnapshotStore {
    pool: SqlitePool,
}

impl SqliteSnapshotStore {
    /// Snapshot storage in the same database as `events`, whose migrations
    /// have created the table.
    pub fn new(events: &SqliteEventStore) -> Self {
        Self {
            pool: events.pool().clone(),
        }
    }
}

#[async_trait]
impl SnapshotStore for SqliteSnapshotStore {
    async fn load(&self, stream: &StreamId) -> StoreResult<Option<Snapshot>> {
        let row = sqlx::query(
            "SELECT tenant_id, version, schema_version, state, taken_at FROM snapshots \
             WHERE aggregate_id = ? AND aggregate_type = ?",
        )
        .bind(uuid_text(stream.aggregate_id))
        .bind(&stream.aggregate_type)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::backend)?;
        let Some(row) = row else { return Ok(None) };

        let tenant: Option<String> = row.try_get(0).map_err(StoreError::backend)?;
        let state: String = row.try_get(3).map_err(StoreError::backend)?;
        let taken_at: String = row.try_get(4).map_err(StoreError::backend)?;
        Ok(Some(Snapshot {
            stream: stream.clone(),
            tenant_id: tenant
                .map(|t| Uuid::parse_str(&t).map(TenantId::from))
                .transpose()
                .map_err(StoreError::backend)?,
            version: row.try_get::<i64, _>(1).map_err(StoreError::backend)? as u64,
            schema_version: row.try_get::<i64, _>(2).map_err(StoreError::backend)? as u32,
            state: serde_json::from_str(&state).map_err(StoreError::backend)?,
            taken_at: NaiveDateTime::parse_from_str(&taken_at, "%Y-%m-%dT%H:%M:%S%.fZ")
                .map_err(StoreError::backend)?
                .and_utc(),
        }))
    }

    async fn save(&self, snapshot: &Snapshot) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO snapshots (aggregate_id, aggregate_type, tenant_id, version, schema_version, state, \
             taken_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (aggregate_id, aggregate_type) DO UPDATE SET tenant_id = excluded.tenant_id, \
             version = excluded.version, schema_version = excluded.schema_version, state = excluded.state, \
             taken_at = excluded.taken_at WHERE excluded.version >= snapshots.version",
        )
        .bind(uuid_text(snapshot.stream.aggregate_id))
        .bind(&snapshot.stream.aggregate_type)
        .bind(snapshot.tenant_id.map(|t| uuid_text(t.as_uuid())))
        .bind(snapshot.version as i64)
        .bind(i64::from(snapshot.schema_version))
        .bind(snapshot.state.to_string())
        .bind(timestamp_text(&snapshot.taken_at))
        .execute(&self.pool)
        .await
        .map_err(StoreError::backend)?;
        Ok(())
    }

    async fn delete(&self, stream: &StreamId) -> StoreResult<()> {
        sqlx::query("DELETE FROM snapshots WHERE aggregate_id = ? AND aggregate_type = ?")
            .bind(uuid_text(stream.aggregate_id))
            .bind(&stream.aggregate_type)
            .execute(&self.pool)
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }
}
