//! The tenant-wide endpoints: the audit log and the figures.

use axum::extract::State;
use axum::Json;
use eventsource::{EventFilter, ReadAllOptions, StoredEvent, TenantFilter};
use eventsource_axum::CurrentTenant;
use eventsource_examples::guide::projections::{TenantStatistics, TENANT_STATISTICS};
use futures::TryStreamExt;
use tracing::{error, instrument};

use crate::api::{AuditEntry, AuditPage, TenantStatsView};
use crate::error::{ApiError, ErrorBody};
use crate::input::Paging;
use crate::AppState;

/// Lists the tenant's events, oldest first, a page at a time.
///
/// Cursors are opaque: they do not reveal positions in the store's global
/// feed, which would tell how much other tenants write.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "tenant",
    params(
        ("limit" = Option<usize>, Query, description = "Events per page, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page.",
            pattern = r"^[0-9a-fA-F]{16}$"),
    ),
    responses(
        (status = 200, description = "A page of the tenant's audit log.", body = AuditPage),
        (status = 422, description = "A paging parameter is invalid; `field` names it.", body = ErrorBody),
    )
)]
#[instrument(skip_all)]
pub async fn audit_log(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    paging: Paging,
) -> Result<Json<AuditPage>, ApiError> {
    let after = paging
        .after
        .as_deref()
        .map(|cursor| {
            state
                .cursors()
                .open(cursor)
                .ok_or_else(|| ApiError::invalid("after", "after must be the next cursor of a page"))
        })
        .transpose()?;

    // One more than the page: whether it exists decides `next`.
    let wanted = paging.limit + 1;
    let options = ReadAllOptions {
        after,
        limit: Some(wanted as u64),
        filter: EventFilter::tenant(TenantFilter::Tenant(tenant)),
        page_size: wanted,
    };
    let mut events: Vec<StoredEvent> = state.events.read_all(options).try_collect().await?;
    if let Some(foreign) = events
        .iter()
        .find(|stored| stored.event.envelope.tenant_id != Some(tenant))
    {
        // The store filters by tenant; this guards against a store that
        // does not, without telling the caller anything.
        error!(
            position = foreign.position,
            "the event store returned another tenant's event"
        );
        return Err(ApiError::Internal);
    }

    let next = (events.len() > paging.limit).then(|| {
        events.truncate(paging.limit);
        events.last().map(|stored| state.cursors().seal(stored.position))
    });
    Ok(Json(AuditPage {
        events: events.into_iter().map(AuditEntry::from).collect(),
        next: next.flatten(),
    }))
}

/// The tenant's figures.
///
/// Orders, revenue and shipments come from the tenant statistics read
/// model, which follows the event store in the background; the event count
/// is counted in the store when asked.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "tenant",
    responses((status = 200, description = "The tenant's figures.", body = TenantStatsView))
)]
#[instrument(skip_all)]
pub async fn stats(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
) -> Result<Json<TenantStatsView>, ApiError> {
    let document = state
        .models
        .document(TENANT_STATISTICS, Some(tenant), &tenant.to_string())
        .await?;
    let statistics = match document {
        Some(value) => serde_json::from_value::<TenantStatistics>(value).map_err(|error| {
            error!(%error, "tenant statistics do not decode");
            ApiError::Internal
        })?,
        None => TenantStatistics::default(),
    };
    let event_count = state
        .events
        .count(&EventFilter::tenant(TenantFilter::Tenant(tenant)))
        .await?;
    Ok(Json(TenantStatsView::new(statistics, event_count)))
}
