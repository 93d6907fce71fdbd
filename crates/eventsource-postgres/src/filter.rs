//! Translating an [`EventFilter`] into SQL conditions, so every filter runs
//! in the database and can use the tenant indexes.
//!
//! Each condition is written only when the filter asks for it, with the
//! values as bound parameters: a query for one tenant reads
//! `tenant_id = $n`, which the planner matches to `idx_events_tenant_id`,
//! `idx_events_tenant_position` or, with an aggregate type,
//! `idx_events_type_tenant_timestamp`. No condition is written as
//! `($n IS NULL OR …)`, which would hide the index from the planner.

use eventsource::{EventFilter, TenantFilter};
use sqlx::{Postgres, QueryBuilder};

/// Appends `WHERE …`/`AND …` conditions to a query.
pub(crate) struct Conditions<'q, 'args> {
    query: &'q mut QueryBuilder<'args, Postgres>,
    any_written: bool,
}

impl<'q, 'args> Conditions<'q, 'args> {
    /// Starts the `WHERE` clause of `query` (written with the first
    /// condition, so a query with none has no `WHERE`).
    pub fn new(query: &'q mut QueryBuilder<'args, Postgres>) -> Self {
        Self {
            query,
            any_written: false,
        }
    }

    /// Starts one more condition and returns the query to write it on.
    pub fn next(&mut self) -> &mut QueryBuilder<'args, Postgres> {
        self.query
            .push(if self.any_written { " AND " } else { " WHERE " });
        self.any_written = true;
        self.query
    }

    /// Writes the conditions of `filter`.
    pub fn filter(&mut self, filter: &EventFilter) -> &mut Self {
        self.tenant(filter.tenant);
        if !filter.aggregate_types.is_empty() {
            self.next()
                .push("aggregate_type = ANY(")
                .push_bind(filter.aggregate_types.clone())
                .push(")");
        }
        if !filter.event_types.is_empty() {
            self.next()
                .push("event_type = ANY(")
                .push_bind(filter.event_types.clone())
                .push(")");
        }
        if let Some(from) = filter.occurred_from {
            self.next().push("\"timestamp\" >= ").push_bind(from);
        }
        if let Some(until) = filter.occurred_until {
            self.next().push("\"timestamp\" < ").push_bind(until);
        }
        self
    }

    /// Writes the condition of a tenant filter (none for any tenant).
    pub fn tenant(&mut self, tenant: TenantFilter) -> &mut Self {
        match tenant {
            TenantFilter::Any => {}
            TenantFilter::NoTenant => {
                self.next().push("tenant_id IS NULL");
            }
            TenantFilter::Tenant(tenant) => {
                self.next().push("tenant_id = ").push_bind(tenant.as_uuid());
            }
        }
        self
    }
}
