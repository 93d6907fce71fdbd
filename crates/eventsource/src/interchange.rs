//! JSON Lines interchange in the flat form the Python reference library
//! writes (`model_dump_json()`): the envelope fields and the payload fields
//! side by side in one object, one event per line.
//!
//! Envelope fields come first in a fixed order, then the payload's fields in
//! their stored order; numbers keep their written digits and timestamps are
//! written as that library writes them (`…T07:45:50.532084Z`, no fraction
//! when it is zero), so a log moves between the two libraries unchanged.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::event::{Envelope, Event, JsonObject, RawEvent};
use crate::tenant::TenantId;

/// The envelope's field names, in the order they are written.
pub const ENVELOPE_FIELDS: [&str; 12] = [
    "event_id",
    "event_type",
    "event_version",
    "occurred_at",
    "aggregate_id",
    "aggregate_type",
    "aggregate_version",
    "tenant_id",
    "actor_id",
    "correlation_id",
    "causation_id",
    "metadata",
];

/// A line that is not a valid flat event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct FlatEventError {
    /// The field that was wrong, when one field was.
    pub field: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl FlatEventError {
    fn field(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

/// Formats a timestamp as the reference library does.
pub fn format_timestamp(at: &DateTime<Utc>) -> String {
    if at.nanosecond() == 0 {
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

/// Parses an RFC 3339 timestamp with a zone, keeping at most microseconds.
///
/// # Errors
///
/// A message saying what is wrong with the text.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|error| format!("{text:?} is not an RFC 3339 timestamp with a time zone ({error})"))?;
    if parsed.nanosecond() % 1_000 != 0 {
        return Err(format!(
            "{text:?} is more precise than microseconds, which would be lost"
        ));
    }
    Ok(parsed.with_timezone(&Utc))
}

/// Writes one event as a flat JSON object.
pub fn to_flat_json(event: &RawEvent) -> String {
    let envelope = &event.envelope;
    let mut object = Map::with_capacity(ENVELOPE_FIELDS.len() + event.payload.len());
    let optional = |value: Option<String>| value.map_or(Value::Null, Value::String);
    object.insert("event_id".into(), envelope.event_id.to_string().into());
    object.insert("event_type".into(), envelope.event_type.clone().into());
    object.insert("event_version".into(), envelope.event_version.into());
    object.insert(
        "occurred_at".into(),
        format_timestamp(&envelope.occurred_at).into(),
    );
    object.insert("aggregate_id".into(), envelope.aggregate_id.to_string().into());
    object.insert("aggregate_type".into(), envelope.aggregate_type.clone().into());
    object.insert("aggregate_version".into(), envelope.aggregate_version.into());
    object.insert(
        "tenant_id".into(),
        optional(envelope.tenant_id.map(|t| t.to_string())),
    );
    object.insert("actor_id".into(), optional(envelope.actor_id.clone()));
    object.insert(
        "correlation_id".into(),
        envelope.correlation_id.to_string().into(),
    );
    object.insert(
        "causation_id".into(),
        optional(envelope.causation_id.map(|c| c.to_string())),
    );
    object.insert("metadata".into(), Value::Object(envelope.metadata.clone()));
    for (key, value) in &event.payload {
        object.insert(key.clone(), value.clone());
    }
    Value::Object(object).to_string()
}

/// Reads one flat JSON object into an event; every field that is not part of
/// the envelope belongs to the payload.
///
/// # Errors
///
/// [`FlatEventError`] naming the field that is missing or malformed.
pub fn from_flat_json(line: &str) -> Result<RawEvent, FlatEventError> {
    let value: Value = serde_json::from_str(line).map_err(|error| FlatEventError {
        field: None,
        message: format!("not valid JSON: {error}"),
    })?;
    let Value::Object(mut object) = value else {
        return Err(FlatEventError {
            field: None,
            message: "each line must be a JSON object".into(),
        });
    };

    let envelope = Envelope {
        event_id: take_uuid(&mut object, "event_id")?,
        event_type: take_name(&mut object, "event_type")?,
        event_version: take_optional_u64(&mut object, "event_version")?
            .map(|v| u32::try_from(v).map_err(|_| FlatEventError::field("event_version", "is too large")))
            .transpose()?
            .unwrap_or(1),
        occurred_at: take_timestamp(&mut object, "occurred_at")?,
        aggregate_id: take_uuid(&mut object, "aggregate_id")?,
        aggregate_type: take_name(&mut object, "aggregate_type")?,
        aggregate_version: take_optional_u64(&mut object, "aggregate_version")?
            .filter(|version| *version > 0)
            .ok_or_else(|| {
                FlatEventError::field("aggregate_version", "is required and must be a positive integer")
            })?,
        tenant_id: take_optional_uuid(&mut object, "tenant_id")?.map(TenantId::from),
        actor_id: take_optional_string(&mut object, "actor_id")?,
        correlation_id: take_optional_uuid(&mut object, "correlation_id")?
            .ok_or_else(|| FlatEventError::field("correlation_id", "is required"))?,
        causation_id: take_optional_uuid(&mut object, "causation_id")?,
        metadata: match object.shift_remove("metadata") {
            None | Some(Value::Null) => JsonObject::new(),
            Some(Value::Object(metadata)) => metadata,
            Some(other) => {
                return Err(FlatEventError::field(
                    "metadata",
                    format!("must be an object, not {other}"),
                ))
            }
        },
    };
    Ok(Event {
        envelope,
        payload: object,
    })
}

fn take_optional_string(object: &mut JsonObject, field: &str) -> Result<Option<String>, FlatEventError> {
    match object.shift_remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(FlatEventError::field(
            field,
            format!("must be a string, not {other}"),
        )),
    }
}

fn take_name(object: &mut JsonObject, field: &str) -> Result<String, FlatEventError> {
    take_optional_string(object, field)?
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| FlatEventError::field(field, "is required and must be a non-empty string"))
}

fn take_optional_uuid(object: &mut JsonObject, field: &str) -> Result<Option<Uuid>, FlatEventError> {
    take_optional_string(object, field)?
        .map(|text| {
            Uuid::parse_str(&text)
                .map_err(|_| FlatEventError::field(field, format!("{text:?} is not a UUID")))
        })
        .transpose()
}

fn take_uuid(object: &mut JsonObject, field: &str) -> Result<Uuid, FlatEventError> {
    take_optional_uuid(object, field)?.ok_or_else(|| FlatEventError::field(field, "is required"))
}

fn take_timestamp(object: &mut JsonObject, field: &str) -> Result<DateTime<Utc>, FlatEventError> {
    let text =
        take_optional_string(object, field)?.ok_or_else(|| FlatEventError::field(field, "is required"))?;
    parse_timestamp(&text).map_err(|message| FlatEventError::field(field, message))
}

fn take_optional_u64(object: &mut JsonObject, field: &str) -> Result<Option<u64>, FlatEventError> {
    match object.shift_remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number.as_u64().map(Some).ok_or_else(|| {
            FlatEventError::field(field, format!("must be a non-negative integer, not {number}"))
        }),
        Some(other) => Err(FlatEventError::field(
            field,
            format!("must be an integer, not {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"event_id":"8a4926c9-b4a3-4b08-8cea-f19a846b5262","event_type":"OrderItemAdded","event_version":1,"occurred_at":"2026-02-26T00:45:50.613984Z","aggregate_id":"dbc496cb-8e81-473e-8bec-d7b03898d190","aggregate_type":"Order","aggregate_version":2,"tenant_id":"6513270e-269e-4d37-b2a7-4de452e6b438","actor_id":"user:406","correlation_id":"7de90a1c-0c1a-463c-8687-c12f0095acac","causation_id":null,"metadata":{},"sku":"SKU-73434","quantity":3,"unit_price":"13508.74","weight":0.10000000000000000000001}"#;

    #[test]
    fn a_flat_line_round_trips_byte_for_byte() {
        let event = from_flat_json(LINE).unwrap();
        assert_eq!(event.envelope.aggregate_version, 2);
        assert_eq!(
            event.payload.keys().collect::<Vec<_>>(),
            ["sku", "quantity", "unit_price", "weight"]
        );
        assert_eq!(to_flat_json(&event), LINE);
    }

    #[test]
    fn whole_second_timestamps_are_written_without_a_fraction() {
        let at = parse_timestamp("2026-02-26T00:45:50Z").unwrap();
        assert_eq!(format_timestamp(&at), "2026-02-26T00:45:50Z");
    }

    #[test]
    fn a_malformed_field_is_named() {
        let line = LINE.replace("\"aggregate_id\":\"dbc496cb", "\"aggregate_id\":\"zzc496cb");
        let error = from_flat_json(&line).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("aggregate_id"));
        let line = LINE.replace("2026-02-26T00:45:50.613984Z", "yesterday");
        assert_eq!(
            from_flat_json(&line).unwrap_err().field.as_deref(),
            Some("occurred_at")
        );
        let line = LINE.replace("\"aggregate_version\":2", "\"aggregate_version\":\"2\"");
        assert_eq!(
            from_flat_json(&line).unwrap_err().field.as_deref(),
            Some("aggregate_version")
        );
    }

    #[test]
    fn nanosecond_timestamps_are_refused_rather_than_rounded() {
        assert!(parse_timestamp("2026-02-26T00:45:50.123456789Z").is_err());
        assert!(
            parse_timestamp("2026-02-26T00:45:50").is_err(),
            "a timestamp without zone is ambiguous"
        );
    }
}
