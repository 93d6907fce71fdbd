//! Reading a stored row back into a [`StoredEvent`].

use chrono::{DateTime, Utc};
use eventsource::{Envelope, Event, JsonObject, StoreError, StoreResult, StoredEvent, TenantId};
use uuid::Uuid;

/// The columns every event query selects, in [`EventRow`]'s order. Payload
/// and metadata come back as the exact JSON text stored.
pub(crate) const EVENT_COLUMNS: &str =
    "global_position, event_id, event_type, event_version, \"timestamp\", \
     aggregate_id, aggregate_type, version, tenant_id, actor_id, correlation_id, causation_id, \
     metadata::text AS metadata, payload::text AS payload";

/// One row of `events` as selected by [`EVENT_COLUMNS`], its text borrowed
/// from the row (the JSON columns are parsed, never kept as text).
#[derive(sqlx::FromRow)]
pub(crate) struct EventRow<'r> {
    global_position: i64,
    event_id: Uuid,
    event_type: &'r str,
    event_version: i32,
    timestamp: DateTime<Utc>,
    aggregate_id: Uuid,
    aggregate_type: &'r str,
    version: i32,
    tenant_id: Option<Uuid>,
    actor_id: Option<&'r str>,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
    metadata: &'r str,
    payload: &'r str,
}

impl EventRow<'_> {
    /// The stored event.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when a column holds what no append writes (a
    /// negative version, JSON that is not an object).
    pub fn into_stored(self) -> StoreResult<StoredEvent> {
        let position = u64::try_from(self.global_position).unwrap_or(0);
        let corrupt = |message: String| StoreError::Corrupt { position, message };
        let aggregate_version = u64::try_from(self.version)
            .ok()
            .filter(|&version| version >= 1)
            .ok_or_else(|| corrupt(format!("stream version {} is not positive", self.version)))?;
        let event_version = u32::try_from(self.event_version)
            .map_err(|_| corrupt(format!("event_version {} is negative", self.event_version)))?;
        let payload = json_object(self.payload).map_err(|e| corrupt(format!("payload: {e}")))?;
        let metadata = json_object(self.metadata).map_err(|e| corrupt(format!("metadata: {e}")))?;

        let envelope = Envelope {
            event_id: self.event_id,
            event_type: self.event_type.to_owned(),
            event_version,
            occurred_at: self.timestamp,
            aggregate_id: self.aggregate_id,
            aggregate_type: self.aggregate_type.to_owned(),
            aggregate_version,
            tenant_id: self.tenant_id.map(TenantId::from_uuid),
            actor_id: self.actor_id.map(str::to_owned),
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            metadata,
        };
        Ok(StoredEvent {
            position,
            event: Event { envelope, payload },
        })
    }
}

fn json_object(text: &str) -> Result<JsonObject, serde_json::Error> {
    // Most metadata is empty: no parser needed for it.
    if text == "{}" {
        return Ok(JsonObject::new());
    }
    // `serde_json` here keeps key order and number digits as written.
    serde_json::from_str(text)
}
