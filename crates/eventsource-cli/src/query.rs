//! The `events` and `audit` commands: a tenant's events, filtered in the
//! store and read from the global feed in order.

use std::io::Write;

use chrono::{DateTime, Utc};
use eventsource::interchange::format_timestamp;
use eventsource::{EventFilter, EventStore, ReadAllOptions, StoredEvent, TenantFilter};
use futures::TryStreamExt;
use serde_json::json;

use crate::output::{table, Format, JsonArrayWriter};

/// The filter the query options describe: `since` inclusive, `until`
/// exclusive.
pub fn filter(
    tenant: TenantFilter,
    aggregate_type: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> EventFilter {
    let filter = EventFilter::tenant(tenant).occurred_between(since, until);
    match aggregate_type {
        Some(aggregate_type) => filter.aggregate_type(aggregate_type),
        None => filter,
    }
}

/// `events`: as a table, or as one JSON array of events in the flat form
/// (each element the same object an export line holds).
///
/// # Errors
///
/// When the store or stdout fails.
pub async fn events(
    store: &dyn EventStore,
    filter: EventFilter,
    limit: Option<u64>,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut feed = store.read_all(ReadAllOptions {
        limit,
        ..ReadAllOptions::filtered(filter)
    });
    match format {
        Format::Json => {
            let mut array = JsonArrayWriter::begin(out)?;
            while let Some(stored) = feed.try_next().await? {
                array.element(&eventsource::interchange::to_flat_json(&stored.event))?;
            }
            array.end()?;
        }
        Format::Table => {
            let header = [
                "position",
                "occurred_at",
                "event_type",
                "aggregate_type",
                "aggregate_id",
                "version",
                "actor",
            ];
            let mut rows = table(&header);
            while let Some(StoredEvent { position, event }) = feed.try_next().await? {
                let envelope = event.envelope;
                rows.add_row([
                    position.to_string(),
                    format_timestamp(&envelope.occurred_at),
                    envelope.event_type,
                    envelope.aggregate_type,
                    envelope.aggregate_id.to_string(),
                    envelope.aggregate_version.to_string(),
                    envelope.actor_id.unwrap_or_default(),
                ]);
            }
            writeln!(out, "{rows}")?;
        }
    }
    Ok(())
}

/// `audit`: who did what to which aggregate, and when, in global order.
///
/// # Errors
///
/// When the store or stdout fails.
pub async fn audit(
    store: &dyn EventStore,
    tenant: TenantFilter,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut feed = store.read_all(ReadAllOptions::filtered(EventFilter::tenant(tenant)));
    match format {
        Format::Json => {
            let mut array = JsonArrayWriter::begin(out)?;
            while let Some(stored) = feed.try_next().await? {
                let envelope = stored.event.envelope;
                let entry = json!({
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                    "occurred_at": format_timestamp(&envelope.occurred_at),
                    "actor_id": envelope.actor_id,
                    "aggregate_id": envelope.aggregate_id,
                });
                array.element(&entry.to_string())?;
            }
            array.end()?;
        }
        Format::Table => {
            let mut rows = table(&[
                "event_id",
                "event_type",
                "occurred_at",
                "actor_id",
                "aggregate_id",
            ]);
            while let Some(stored) = feed.try_next().await? {
                let envelope = stored.event.envelope;
                rows.add_row([
                    envelope.event_id.to_string(),
                    envelope.event_type,
                    format_timestamp(&envelope.occurred_at),
                    envelope.actor_id.unwrap_or_default(),
                    envelope.aggregate_id.to_string(),
                ]);
            }
            writeln!(out, "{rows}")?;
        }
    }
    Ok(())
}
