//! Events made up for the conformance checks.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::event::{Envelope, Event, JsonObject, RawEvent};
use crate::tenant::TenantId;

/// A raw event for `aggregate_id` of `aggregate_type` at `version`, with a
/// small payload.
pub fn event_for(
    aggregate_id: Uuid,
    aggregate_type: &str,
    version: u64,
    tenant: Option<TenantId>,
) -> RawEvent {
    let mut payload = JsonObject::new();
    payload.insert("n".into(), json!(version));
    payload_event(aggregate_id, aggregate_type, version, tenant, payload)
}

/// A raw event with the given payload.
pub fn payload_event(
    aggregate_id: Uuid,
    aggregate_type: &str,
    version: u64,
    tenant: Option<TenantId>,
    payload: JsonObject,
) -> RawEvent {
    let mut envelope = Envelope::new(format!("{aggregate_type}Changed"), aggregate_id, aggregate_type);
    envelope.aggregate_version = version;
    envelope.tenant_id = tenant;
    Event { envelope, payload }
}

/// `count` events for a new stream, versions 1..=count.
pub(crate) fn stream_of(aggregate_type: &str, count: u64, tenant: Option<TenantId>) -> Vec<RawEvent> {
    let id = Uuid::new_v4();
    (1..=count)
        .map(|v| event_for(id, aggregate_type, v, tenant))
        .collect()
}

/// Sets when an event occurred.
pub(crate) fn at(mut event: RawEvent, occurred_at: DateTime<Utc>) -> RawEvent {
    event.envelope.occurred_at = occurred_at;
    event
}
