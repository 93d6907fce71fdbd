//! Converting between events and rows.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
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

/// Parses a timestamp in the stored form. The fixed-width form the store
/// writes is read digit by digit (most of a row's decoding time went to a
/// format-string parser); anything else goes through chrono's parser.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    fixed_width_timestamp(text)
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ").ok())
        .map(|at| at.and_utc())
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exactly.
fn fixed_width_timestamp(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 27
        || !matches!(
            (bytes[4], bytes[7], bytes[10], bytes[13], bytes[16], bytes[19], bytes[26]),
            (b'-', b'-', b'T', b':', b':', b'.', b'Z')
        )
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range].iter().try_fold(0_u32, |value, &byte| {
            byte.is_ascii_digit().then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(number(0..4)?).ok()?, number(5..7)?, number(8..10)?)?;
    let time =
        NaiveTime::from_hms_micro_opt(number(11..13)?, number(14..16)?, number(17..19)?, number(20..26)?)?;
    Some(NaiveDateTime::new(date, time))
}

/// Reads one row selected with [`COLUMNS`]. Text columns that are parsed
/// (ids, the timestamp, JSON) are borrowed from the row, not copied.
pub fn decode(row: &SqliteRow) -> StoreResult<StoredEvent> {
    let position: i64 = row.try_get(0).map_err(StoreError::backend)?;
    let position = position as u64;
    let corrupt = |message: String| StoreError::Corrupt { position, message };
    let text =
        |index: usize| -> StoreResult<&str> { row.try_get::<&str, _>(index).map_err(StoreError::backend) };
    let optional = |index: usize| -> StoreResult<Option<&str>> {
        row.try_get::<Option<&str>, _>(index).map_err(StoreError::backend)
    };
    let uuid = |index: usize, value: &str| {
        Uuid::parse_str(value).map_err(|_| corrupt(format!("column {index} holds {value:?}, not a UUID")))
    };
    let object = |name: &str, value: &str| -> StoreResult<JsonObject> {
        // Most metadata is empty: no parser needed for it.
        if value == "{}" {
            return Ok(JsonObject::new());
        }
        serde_json::from_str(value).map_err(|error| corrupt(format!("{name} is not a JSON object: {error}")))
    };

    let timestamp = text(4)?;
    let occurred_at = parse_timestamp(timestamp)
        .ok_or_else(|| corrupt(format!("timestamp {timestamp:?} is not in the stored format")))?;
    let envelope = Envelope {
        event_id: uuid(1, text(1)?)?,
        event_type: text(2)?.to_owned(),
        event_version: row.try_get::<i64, _>(3).map_err(StoreError::backend)? as u32,
        occurred_at,
        aggregate_id: uuid(5, text(5)?)?,
        aggregate_type: text(6)?.to_owned(),
        aggregate_version: row.try_get::<i64, _>(7).map_err(StoreError::backend)? as u64,
        tenant_id: optional(8)?.map(|t| uuid(8, t)).transpose()?.map(TenantId::from),
        actor_id: optional(9)?.map(str::to_owned),
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

#[cfg(test)]
mod tests {
    use chrono::{SubsecRound, TimeZone, Utc};

    use super::{parse_timestamp, timestamp_text};

    #[test]
    fn stored_timestamps_read_back_exactly() {
        let moments = [
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap() + chrono::Duration::microseconds(999_999),
            Utc.with_ymd_and_hms(9999, 12, 31, 12, 0, 1).unwrap() + chrono::Duration::microseconds(7),
            Utc::now().trunc_subsecs(6),
        ];
        for at in moments {
            assert_eq!(
                parse_timestamp(&timestamp_text(&at)),
                Some(at),
                "{}",
                timestamp_text(&at)
            );
        }
    }

    #[test]
    fn other_forms_fall_back_and_nonsense_is_refused() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 8, 30, 0).unwrap();
        assert_eq!(parse_timestamp("2026-03-01T08:30:00Z"), Some(at));
        assert_eq!(
            parse_timestamp("2026-03-01T08:30:00.5Z"),
            Some(at + chrono::Duration::milliseconds(500))
        );
        for bad in [
            "",
            "2026-02-30T08:30:00.000000Z",
            "2026-03-01T24:30:00.000000Z",
            "2026-03-01T08:30:00.00000xZ",
            "2026-03-01 08:30:00.000000Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }
}
