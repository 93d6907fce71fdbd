//! Reading: streams, the global feed a page at a time, counts and figures.
//! Every query filters in the database; none loads rows to filter them here.

use std::collections::{BTreeMap, HashSet};

use eventsource::{EventFilter, StoreResult, StoredEvent, StreamId, TenantFilter, TenantId, TenantStats};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::backend;
use crate::filter::Conditions;
use crate::row::{EventRow, EVENT_COLUMNS};

const READ_STREAM: &str = include_str!("sql/read_stream.sql");
pub(crate) const READ_STREAM_OF_TENANT: &str = include_str!("sql/read_stream_of_tenant.sql");
const STREAM_VERSION: &str = include_str!("sql/stream_version.sql");
const EXISTING_EVENT_IDS: &str = include_str!("sql/existing_event_ids.sql");
const CURRENT_POSITION: &str = include_str!("sql/current_position.sql");
const TENANT_STATS: &str = include_str!("sql/tenant_stats.sql");

/// A `u64` as the `BIGINT` PostgreSQL compares it with; values beyond
/// `i64::MAX` (no stored row has one) become `i64::MAX`.
fn as_bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn stored_events(rows: Vec<PgRow>) -> StoreResult<Vec<StoredEvent>> {
    rows.iter()
        .map(|row| EventRow::from_row(row).map_err(backend)?.into_stored())
        .collect()
}

/// The events of `stream` after `after_version`, in version order.
pub(crate) async fn read_stream(
    connection: &mut PgConnection,
    stream: &StreamId,
    after_version: u64,
) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<PgRow> = sqlx::query(READ_STREAM)
        .bind(stream.aggregate_id)
        .bind(&stream.aggregate_type)
        .bind(as_bigint(after_version))
        .fetch_all(connection)
        .await
        .map_err(backend)?;
    stored_events(rows)
}

/// The events of `stream` after `after_version` when its first event is
/// `tenant`'s; nothing otherwise (one index probe then).
pub(crate) async fn read_stream_of_tenant(
    connection: &mut PgConnection,
    stream: &StreamId,
    after_version: u64,
    tenant: TenantId,
) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<PgRow> = sqlx::query(READ_STREAM_OF_TENANT)
        .bind(stream.aggregate_id)
        .bind(&stream.aggregate_type)
        .bind(as_bigint(after_version))
        .bind(tenant.as_uuid())
        .fetch_all(connection)
        .await
        .map_err(backend)?;
    stored_events(rows)
}

/// The version of `stream` (0 when absent).
pub(crate) async fn stream_version(connection: &mut PgConnection, stream: &StreamId) -> StoreResult<u64> {
    let version: i64 = sqlx::query_scalar(STREAM_VERSION)
        .bind(stream.aggregate_id)
        .bind(&stream.aggregate_type)
        .fetch_one(connection)
        .await
        .map_err(backend)?;
    Ok(u64::try_from(version).unwrap_or(0))
}

/// The tenant of a stream's first event; `None` when the stream is absent.
pub(crate) async fn first_event_tenant(
    connection: &mut PgConnection,
    stream: &StreamId,
) -> StoreResult<Option<Option<TenantId>>> {
    let tenant: Option<Option<Uuid>> = sqlx::query_scalar(include_str!("sql/first_event_tenant.sql"))
        .bind(stream.aggregate_id)
        .bind(&stream.aggregate_type)
        .fetch_optional(connection)
        .await
        .map_err(backend)?;
    Ok(tenant.map(|tenant| tenant.map(TenantId::from)))
}

/// The aggregate types under which `aggregate_id` has events `tenant`
/// admits, sorted by name (byte order, whatever the database collation).
pub(crate) async fn aggregate_types_of(
    connection: &mut PgConnection,
    aggregate_id: Uuid,
    tenant: TenantFilter,
) -> StoreResult<Vec<String>> {
    let mut query = QueryBuilder::new("SELECT DISTINCT aggregate_type FROM events");
    let mut conditions = Conditions::new(&mut query);
    conditions.next().push("aggregate_id = ").push_bind(aggregate_id);
    conditions.tenant(tenant);
    let mut types: Vec<String> = query
        .build_query_scalar()
        .fetch_all(connection)
        .await
        .map_err(backend)?;
    types.sort();
    Ok(types)
}

/// The statement one page of the global feed runs, after `prefix` (empty,
/// or `EXPLAIN …`): up to `size` events matching `filter` with a position
/// above `after`, in position order.
pub(crate) fn feed_page_query(
    prefix: &str,
    filter: &EventFilter,
    after: Option<u64>,
    size: usize,
) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::new(format!("{prefix}SELECT {EVENT_COLUMNS} FROM events"));
    let mut conditions = Conditions::new(&mut query);
    if let Some(after) = after {
        conditions
            .next()
            .push("global_position > ")
            .push_bind(as_bigint(after));
    }
    conditions.filter(filter);
    query
        .push(" ORDER BY global_position LIMIT ")
        .push_bind(as_bigint(size as u64));
    query
}

/// One page of the global feed (see [`feed_page_query`]).
pub(crate) async fn feed_page(
    connection: &mut PgConnection,
    filter: &EventFilter,
    after: Option<u64>,
    size: usize,
) -> StoreResult<Vec<StoredEvent>> {
    let mut query = feed_page_query("", filter, after, size);
    let rows: Vec<PgRow> = query.build().fetch_all(connection).await.map_err(backend)?;
    stored_events(rows)
}

/// Which of `event_ids` are stored.
pub(crate) async fn existing_event_ids(
    connection: &mut PgConnection,
    event_ids: &[Uuid],
) -> StoreResult<HashSet<Uuid>> {
    if event_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = sqlx::query_scalar(EXISTING_EVENT_IDS)
        .bind(event_ids)
        .fetch_all(connection)
        .await
        .map_err(backend)?;
    Ok(ids.into_iter().collect())
}

/// The statement [`count`] runs, after `prefix` (empty, or `EXPLAIN …`).
pub(crate) fn count_query(prefix: &str, filter: &EventFilter) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::new(format!("{prefix}SELECT count(*) FROM events"));
    Conditions::new(&mut query).filter(filter);
    query
}

/// How many events match `filter`.
pub(crate) async fn count(connection: &mut PgConnection, filter: &EventFilter) -> StoreResult<u64> {
    let mut query = count_query("", filter);
    let count: i64 = query
        .build_query_scalar()
        .fetch_one(connection)
        .await
        .map_err(backend)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The last committed position; `None` for an empty store.
pub(crate) async fn current_position(connection: &mut PgConnection) -> StoreResult<Option<u64>> {
    let position: Option<i64> = sqlx::query_scalar(CURRENT_POSITION)
        .fetch_one(connection)
        .await
        .map_err(backend)?;
    Ok(position.and_then(|position| u64::try_from(position).ok()))
}

/// Per-tenant figures, sorted by tenant with the events without a tenant
/// last.
pub(crate) async fn tenant_stats(connection: &mut PgConnection) -> StoreResult<Vec<TenantStats>> {
    let rows = sqlx::query(TENANT_STATS)
        .fetch_all(connection)
        .await
        .map_err(backend)?;
    let mut by_tenant: BTreeMap<Option<TenantId>, TenantStats> = BTreeMap::new();
    for row in rows {
        let tenant_id = row
            .try_get::<Option<Uuid>, _>("tenant_id")
            .map_err(backend)?
            .map(TenantId::from_uuid);
        let aggregate_type: String = row.try_get("aggregate_type").map_err(backend)?;
        let events = u64::try_from(row.try_get::<i64, _>("events").map_err(backend)?).unwrap_or(0);
        let aggregates = u64::try_from(row.try_get::<i64, _>("aggregates").map_err(backend)?).unwrap_or(0);
        let stats = by_tenant.entry(tenant_id).or_insert_with(|| TenantStats {
            tenant_id,
            events: 0,
            aggregates: 0,
            by_aggregate_type: Vec::new(),
        });
        stats.events += events;
        stats.aggregates += aggregates;
        stats.by_aggregate_type.push((aggregate_type, events));
    }
    let mut stats: Vec<TenantStats> = by_tenant.into_values().collect();
    for tenant in &mut stats {
        tenant.by_aggregate_type.sort();
    }
    // `None` sorts first in a BTreeMap; the contract puts it last.
    let no_tenant_first = stats.first().is_some_and(|s| s.tenant_id.is_none());
    stats.rotate_left(usize::from(no_tenant_first));
    Ok(stats)
}
