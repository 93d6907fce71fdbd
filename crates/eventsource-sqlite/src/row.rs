//! Converting between events and rows.

use chrono::{DateTime, NaiveDateTime, Utc};
use eventsource::{Envelope, Event, JsonObject, StoreError, StoreResult, StoredEvent, TenantId};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

/// The columns every read selects, in the order [`decode`] expects.
pub const COLUMNS: &str = "global_position, event_id, event_type, event_version, timestamp, aggregate_id, \
     aggregate_type, version, tenant_id, actor_id, correlation_id, causation_id, metadata, payload";

/// The stored form of a timestamp: fixed width, so text order is time order.
pub fn timestamp_text(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The stored form of a UUID.
pub fn uuid_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Reads one row selected with [`COLUMNS`].
pub fn decode(row: &SqliteRow) -> StoreResult<StoredEvent> {
    let position: i64 = row.try_get(0).map_err(StoreError::backend)?;
    let position = position as u64;
    let corrupt = |message: String| StoreError::Corrupt { position, message };
    let text = |index: usize| -> StoreResult<String> {
        row.try_get::<String, _>(index).map_err(StoreError::backend)
    };
    let optional = |index: usize| -> StoreResult<Option<String>> {
        row.try_get::<Option<String>, _>(index)
            .map_err(StoreError::backend)
    };
    let uuid = |index: usize, value: String| {
        Uuid::parse_str(&value).map_err(|_| corrupt(format!("column {index} holds {value:?}, not a UUID")))
    };
    let object = |name: &str, value: String| -> StoreResult<JsonObject> {
        serde_json::from_str(&value).map_err(|error| corrupt(format!("{name} is not a JSON object: {error}")))
    };

    let timestamp = text(4)?;
    let occurred_at = NaiveDateTime::parse_from_str(&timestamp, "%Y-%m-%dT%H:%M:%S%.fZ")
        .map_err(|_| corrupt(format!("timestamp {timestamp:?} is not in the stored format")))?
        .and_utc();
    let envelope = Envelope {
        event_id: uuid(1, text(1)?)?,
        event_type: text(2)?,
        event_version: row.try_get::<i64, _>(3).map_err(StoreError::backend)? as u32,
        occurred_at,
        aggregate_id: uuid(5, text(5)?)?,
        aggregate_type: text(6)?,
        aggregate_version: row.try_get::<i64, _>(7).map_err(StoreError::backend)? as u64,
        tenant_id: optional(8)?.map(|t| uuid(8, t)).transpose()?.map(TenantId::from),
        actor_id: optional(9)?,
        correlation_id: uuid(10, text(10)?)?,
        causation_id: optional(11)?.map(|c| uuid(11, c)).transpose()?,
        metadata: object("metadata", text(12)?)?,
    };
    Ok(StoredEvent {
        position,
        event: Event {
            envelope,
            payload: object("payload", text(13)?)?,
        },
    })
}
