//! Which events a query selects.

use chrono::{DateTime, Utc};

use crate::event::RawEvent;
use crate::tenant::TenantId;

/// The number of events the global feed reads per page unless told otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// Which tenant's events a query selects. Three values, never conflated:
/// `Tenant` never returns events without a tenant, `NoTenant` returns only
/// those.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TenantFilter {
    /// Events of every tenant and events without a tenant.
    #[default]
    Any,
    /// Only events that carry no tenant.
    NoTenant,
    /// Only events of this tenant.
    Tenant(TenantId),
}

impl TenantFilter {
    /// Whether an event with `tenant` passes.
    pub fn admits(self, tenant: Option<TenantId>) -> bool {
        match self {
            Self::Any => true,
            Self::NoTenant => tenant.is_none(),
            Self::Tenant(wanted) => tenant == Some(wanted),
        }
    }
}

/// A filter over stored events. Empty lists mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Whose events.
    pub tenant: TenantFilter,
    /// Only these aggregate types (any when empty).
    pub aggregate_types: Vec<String>,
    /// Only these event types (any when empty).
    pub event_types: Vec<String>,
    /// Only events that occurred at or after this instant.
    pub occurred_from: Option<DateTime<Utc>>,
    /// Only events that occurred strictly before this instant.
    pub occurred_until: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Events of one tenant filter.
    pub fn tenant(tenant: TenantFilter) -> Self {
        Self {
            tenant,
            ..Self::default()
        }
    }

    /// Restricts to one aggregate type.
    pub fn aggregate_type(mut self, aggregate_type: impl Into<String>) -> Self {
        self.aggregate_types.push(aggregate_type.into());
        self
    }

    /// Restricts to one more event type.
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_types.push(event_type.into());
        self
    }

    /// Restricts to `[from, until)` on `occurred_at`; either end may be open.
    pub fn occurred_between(mut self, from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Self {
        self.occurred_from = from;
        self.occurred_until = until;
        self
    }

    /// Whether `event` passes. Stores that hold events in memory use this;
    /// SQL stores translate the filter into their query instead.
    pub fn matches(&self, event: &RawEvent) -> bool {
        let envelope = &event.envelope;
        self.tenant.admits(envelope.tenant_id)
            && (self.aggregate_types.is_empty() || self.aggregate_types.contains(&envelope.aggregate_type))
            && (self.event_types.is_empty() || self.event_types.contains(&envelope.event_type))
            && self.occurred_from.is_none_or(|from| envelope.occurred_at >= from)
            && self
                .occurred_until
                .is_none_or(|until| envelope.occurred_at < until)
    }
}

/// How to read the global feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadAllOptions {
    /// Start after this position (exclusive); from the beginning when `None`.
    pub after: Option<u64>,
    /// Stop after this many matching events.
    pub limit: Option<u64>,
    /// Which events.
    pub filter: EventFilter,
    /// How many rows one page reads from the backend.
    pub page_size: usize,
}

impl Default for ReadAllOptions {
    fn default() -> Self {
        Self {
            after: None,
            limit: None,
            filter: EventFilter::default(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl ReadAllOptions {
    /// Reads events matching `filter` from the beginning.
    pub fn filtered(filter: EventFilter) -> Self {
        Self {
            filter,
            ..Self::default()
        }
    }

    /// The size of the next page, given how many events were already
    /// delivered: never more than what is left of the limit.
    pub fn next_page_size(&self, delivered: u64) -> Option<usize> {
        let page = self.page_size.max(1);
        match self.limit {
            None => Some(page),
            Some(limit) if delivered >= limit => None,
            Some(limit) => Some(page.min((limit - delivered) as usize)),
        }
    }
}
