//! Turning a batch of stream writes into the column arrays of the append
//! statement, refusing before anything is sent what PostgreSQL could not
//! store exactly.
//!
//! What is refused, each with [`StoreError::InvalidArgument`] naming the
//! event: a NUL character in `aggregate_type`, `event_type` or `actor_id`
//! (PostgreSQL text cannot hold it), any of them longer than the 255
//! characters of their column, a stream or payload version above
//! `i32::MAX` (the guide's `INTEGER` columns), and an instant before 4713 BC
//! (the start of PostgreSQL's range). Payload and metadata are stored as the
//! JSON text `serde_json` writes, in which a NUL is the escape `\u0000`, so
//! no payload is refused. Instants are truncated to microseconds, the
//! precision of `TIMESTAMPTZ` and of the envelope.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use eventsource::{ExpectedVersion, JsonObject, RawEvent, StoreError, StoreResult, StreamId, StreamWrite};
use uuid::Uuid;

/// The longest `VARCHAR(255)` value, in characters.
const MAX_TEXT_CHARS: usize = 255;

/// The column arrays of one append: one element per event, then one per
/// stream write.
#[derive(Default)]
pub(crate) struct EncodedBatch {
    pub event_ids: Vec<Uuid>,
    pub aggregate_ids: Vec<Uuid>,
    pub aggregate_types: Vec<String>,
    pub event_types: Vec<String>,
    pub event_versions: Vec<i32>,
    pub tenant_ids: Vec<Option<Uuid>>,
    pub actor_ids: Vec<Option<String>>,
    pub versions: Vec<i32>,
    pub occurred_at: Vec<DateTime<Utc>>,
    pub payloads: Vec<String>,
    pub correlation_ids: Vec<Uuid>,
    pub causation_ids: Vec<Option<Uuid>>,
    pub metadata: Vec<String>,
    pub stream_aggregate_ids: Vec<Uuid>,
    pub stream_aggregate_types: Vec<String>,
    pub stream_first_versions: Vec<i32>,
    pub stream_must_exist: Vec<bool>,
}

impl EncodedBatch {
    /// Encodes `writes`, whose streams `validate_writes` already returned.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`] for a value PostgreSQL cannot store
    /// exactly (see the module documentation).
    pub fn encode(writes: &[StreamWrite], streams: &[StreamId]) -> StoreResult<Self> {
        let mut batch = Self::default();
        for (write, stream) in writes.iter().zip(streams) {
            for event in &write.events {
                batch.push_event(event)?;
            }
            batch.stream_aggregate_ids.push(stream.aggregate_id);
            batch.stream_aggregate_types.push(stream.aggregate_type.clone());
            // `push_event` checked every version of the write fits in i32.
            let first = write.events[0].envelope.aggregate_version;
            batch
                .stream_first_versions
                .push(i32::try_from(first).unwrap_or(i32::MAX));
            batch
                .stream_must_exist
                .push(write.expected == ExpectedVersion::StreamExists);
        }
        Ok(batch)
    }

    fn push_event(&mut self, event: &RawEvent) -> StoreResult<()> {
        let envelope = &event.envelope;
        let id = envelope.event_id;
        self.event_ids.push(id);
        self.aggregate_ids.push(envelope.aggregate_id);
        self.aggregate_types
            .push(checked_text(id, "aggregate_type", &envelope.aggregate_type)?);
        self.event_types
            .push(checked_text(id, "event_type", &envelope.event_type)?);
        self.event_versions.push(checked_integer(
            id,
            "event_version",
            envelope.event_version.into(),
        )?);
        self.tenant_ids
            .push(envelope.tenant_id.map(|tenant| tenant.as_uuid()));
        let actor = envelope
            .actor_id
            .as_deref()
            .map(|actor| checked_text(id, "actor_id", actor));
        self.actor_ids.push(actor.transpose()?);
        self.versions.push(checked_integer(
            id,
            "aggregate_version",
            envelope.aggregate_version,
        )?);
        self.occurred_at.push(checked_instant(id, envelope.occurred_at)?);
        self.payloads.push(json_text(id, "payload", &event.payload)?);
        self.correlation_ids.push(envelope.correlation_id);
        self.causation_ids.push(envelope.causation_id);
        self.metadata.push(json_text(id, "metadata", &envelope.metadata)?);
        Ok(())
    }
}

fn checked_text(event_id: Uuid, field: &str, value: &str) -> StoreResult<String> {
    if value.contains('\0') {
        return Err(StoreError::InvalidArgument(format!(
            "event {event_id}: {field} contains a NUL character, which PostgreSQL text cannot store; \
             nothing was written"
        )));
    }
    let chars = value.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(StoreError::InvalidArgument(format!(
            "event {event_id}: {field} has {chars} characters, more than the {MAX_TEXT_CHARS} its column \
             holds; nothing was written"
        )));
    }
    Ok(value.to_owned())
}

fn checked_integer(event_id: Uuid, field: &str, value: u64) -> StoreResult<i32> {
    i32::try_from(value).map_err(|_| {
        StoreError::InvalidArgument(format!(
            "event {event_id}: {field} {value} is above {}, the largest the store's INTEGER column holds; \
             nothing was written",
            i32::MAX
        ))
    })
}

fn checked_instant(event_id: Uuid, occurred_at: DateTime<Utc>) -> StoreResult<DateTime<Utc>> {
    // PostgreSQL's timestamps start at 4714-11-24 BC (proleptic Gregorian,
    // year -4713 in chrono's astronomical numbering); chrono's end of range
    // lies well before PostgreSQL's.
    let earliest = NaiveDate::from_ymd_opt(-4713, 11, 24)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc());
    if earliest.is_some_and(|earliest| occurred_at < earliest) {
        return Err(StoreError::InvalidArgument(format!(
            "event {event_id}: occurred_at {occurred_at} is before 4713 BC, outside PostgreSQL's range; \
             nothing was written"
        )));
    }
    Ok(occurred_at.trunc_subsecs(6))
}

fn json_text(event_id: Uuid, field: &str, object: &JsonObject) -> StoreResult<String> {
    serde_json::to_string(object).map_err(|error| {
        StoreError::InvalidArgument(format!(
            "event {event_id}: {field} does not serialise as JSON ({error}); nothing was written"
        ))
    })
}
