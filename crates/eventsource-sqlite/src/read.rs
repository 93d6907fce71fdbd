//! Queries: streams, the filtered global feed, counts and statistics. Every
//! filter becomes a `WHERE` clause, so tenant filtering uses the indexes.

use std::collections::{BTreeMap, HashSet};

use eventsource::{
    EventFilter, StoreError, StoreResult, StoredEvent, StreamId, TenantFilter, TenantId, TenantStats,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use uuid::Uuid;

use crate::row::{decode, timestamp_text, uuid_text, COLUMNS};

/// Appends ` AND <condition>` for each part of the filter.
fn push_filter(query: &mut QueryBuilder<'_, Sqlite>, filter: &EventFilter) {
    match filter.tenant {
        TenantFilter::Any => {}
        TenantFilter::NoTenant => {
            query.push(" AND tenant_id IS NULL");
        }
        TenantFilter::Tenant(tenant) => {
            query
                .push(" AND tenant_id = ")
                .push_bind(uuid_text(tenant.as_uuid()));
        }
    }
    push_in(query, "aggregate_type", &filter.aggregate_types);
    push_in(query, "event_type", &filter.event_types);
    if let Some(from) = filter.occurred_from {
        query.push(" AND timestamp >= ").push_bind(timestamp_text(&from));
    }
    if let Some(until) = filter.occurred_until {
        query.push(" AND timestamp < ").push_bind(timestamp_text(&until));
    }
}

fn push_in(query: &mut QueryBuilder<'_, Sqlite>, column: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    query.push(format_args!(" AND {column} IN ("));
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value.clone());
    }
    list.push_unseparated(")");
}

async fn fetch_events(
    query: &mut QueryBuilder<'_, Sqlite>,
    pool: &SqlitePool,
) -> StoreResult<Vec<StoredEvent>> {
    let rows = query.build().fetch_all(pool).await.map_err(StoreError::backend)?;
    rows.iter().map(decode).collect()
}

/// One page of the global feed.
pub async fn page(
    pool: &SqlitePool,
    filter: &EventFilter,
    after: Option<u64>,
    size: usize,
) -> StoreResult<Vec<StoredEvent>> {
    fetch_events(&mut page_query(filter, after, size), pool).await
}

fn page_query(filter: &EventFilter, after: Option<u64>, size: usize) -> QueryBuilder<'static, Sqlite> {
    let mut query = QueryBuilder::new(format!("SELECT {COLUMNS} FROM events WHERE global_position > "));
    query.push_bind(after.unwrap_or(0) as i64);
    push_filter(&mut query, filter);
    query
        .push(" ORDER BY global_position LIMIT ")
        .push_bind(size as i64);
    query
}

/// A stream's events after a version.
pub async fn read_stream(
    pool: &SqlitePool,
    stream: &StreamId,
    after_version: u64,
) -> StoreResult<Vec<StoredEvent>> {
    let mut query = QueryBuilder::new(format!("SELECT {COLUMNS} FROM events WHERE aggregate_id = "));
    query
        .push_bind(uuid_text(stream.aggregate_id))
        .push(" AND aggregate_type = ")
        .push_bind(stream.aggregate_type.clone())
        .push(" AND version > ")
        .push_bind(after_version as i64)
        .push(" ORDER BY version");
    fetch_events(&mut query, pool).await
}

/// The statement of [`read_stream_of_tenant`].
static READ_STREAM_OF_TENANT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns: Vec<String> = COLUMNS.split(", ").map(|name| format!("e.{name}")).collect();
    format!(
        "SELECT {} FROM events AS first CROSS JOIN events AS e \
         WHERE first.aggregate_id = ?1 AND first.aggregate_type = ?2 AND first.version = 1 \
         AND first.tenant_id = ?4 \
         AND e.aggregate_id = ?1 AND e.aggregate_type = ?2 AND e.version > ?3 \
         ORDER BY e.version",
        columns.join(", ")
    )
});

/// A stream's events after a version, only when its first event is
/// `tenant`'s. `CROSS JOIN` makes SQLite keep the written order: the first
/// event is probed through the unique index, and the stream is scanned only
/// when that probe matched, so another tenant's stream costs what a missing
/// one does, whatever its length.
pub async fn read_stream_of_tenant(
    pool: &SqlitePool,
    stream: &StreamId,
    after_version: u64,
    tenant: TenantId,
) -> StoreResult<Vec<StoredEvent>> {
    let rows = sqlx::query(&READ_STREAM_OF_TENANT)
        .bind(uuid_text(stream.aggregate_id))
        .bind(&stream.aggregate_type)
        .bind(after_version as i64)
        .bind(uuid_text(tenant.as_uuid()))
        .fetch_all(pool)
        .await
        .map_err(StoreError::backend)?;
    rows.iter().map(decode).collect()
}

/// A stream's version, 0 when absent.
pub async fn stream_version<'e, E>(executor: E, stream: &StreamId) -> StoreResult<u64>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM events WHERE aggregate_id = ? AND aggregate_type = ?")
            .bind(uuid_text(stream.aggregate_id))
            .bind(&stream.aggregate_type)
            .fetch_one(executor)
            .await
            .map_err(StoreError::backend)?;
    Ok(version.unwrap_or(0) as u64)
}

/// The tenant of a stream's first event, through the unique index on
/// (aggregate_id, aggregate_type, version).
pub async fn first_event_tenant(
    pool: &SqlitePool,
    stream: &StreamId,
) -> StoreResult<Option<Option<TenantId>>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT tenant_id FROM events WHERE aggregate_id = ? AND aggregate_type = ? AND version = 1",
    )
    .bind(uuid_text(stream.aggregate_id))
    .bind(&stream.aggregate_type)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::backend)?;
    row.map(|(tenant,)| {
        tenant
            .map(|t| Uuid::parse_str(&t).map(TenantId::from))
            .transpose()
            .map_err(StoreError::backend)
    })
    .transpose()
}

/// The aggregate types an id has streams under, among `tenant`'s events.
pub async fn aggregate_types_of(
    pool: &SqlitePool,
    aggregate_id: Uuid,
    tenant: TenantFilter,
) -> StoreResult<Vec<String>> {
    let mut query = QueryBuilder::new("SELECT DISTINCT aggregate_type FROM events WHERE aggregate_id = ");
    query.push_bind(uuid_text(aggregate_id));
    push_filter(&mut query, &EventFilter::tenant(tenant));
    query.push(" ORDER BY aggregate_type");
    let rows = query.build().fetch_all(pool).await.map_err(StoreError::backend)?;
    rows.iter()
        .map(|row| row.try_get(0).map_err(StoreError::backend))
        .collect()
}

/// Which of the ids are stored.
pub async fn existing_event_ids<'e, E>(executor: E, event_ids: &[Uuid]) -> StoreResult<HashSet<Uuid>>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    if event_ids.is_empty() {
        return Ok(HashSet::new());
    }
    // One `IN` list per call; callers pass batches well below SQLite's
    // limit of 32,766 bound parameters.
    let mut query = QueryBuilder::new("SELECT event_id FROM events WHERE event_id IN (");
    let mut list = query.separated(", ");
    for id in event_ids {
        list.push_bind(uuid_text(*id));
    }
    list.push_unseparated(")");
    let rows = query
        .build()
        .fetch_all(executor)
        .await
        .map_err(StoreError::backend)?;
    rows.iter()
        .map(|row| {
            let text: String = row.try_get(0).map_err(StoreError::backend)?;
            Uuid::parse_str(&text).map_err(StoreError::backend)
        })
        .collect()
}

/// How many events match.
pub async fn count(pool: &SqlitePool, filter: &EventFilter) -> StoreResult<u64> {
    let mut query = QueryBuilder::new("SELECT COUNT(*) FROM events WHERE 1 = 1");
    push_filter(&mut query, filter);
    let count: i64 = query
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .map_err(StoreError::backend)?;
    Ok(count as u64)
}

/// The last position, `None` for an empty store.
pub async fn current_position(pool: &SqlitePool) -> StoreResult<Option<u64>> {
    let position: Option<i64> = sqlx::query_scalar("SELECT MAX(global_position) FROM events")
        .fetch_one(pool)
        .await
        .map_err(StoreError::backend)?;
    Ok(position.map(|p| p as u64))
}

/// Per-tenant figures, computed by the database in one grouped query.
pub async fn tenant_stats(pool: &SqlitePool) -> StoreResult<Vec<TenantStats>> {
    let rows = sqlx::query(
        "SELECT tenant_id, aggregate_type, COUNT(*), COUNT(DISTINCT aggregate_id) \
         FROM events GROUP BY tenant_id, aggregate_type",
    )
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;

    let mut by_tenant: BTreeMap<Option<TenantId>, TenantStats> = BTreeMap::new();
    for row in &rows {
        let tenant: Option<String> = row.try_get(0).map_err(StoreError::backend)?;
        let tenant_id = tenant
            .map(|t| Uuid::parse_str(&t).map(TenantId::from))
            .transpose()
            .map_err(StoreError::backend)?;
        let aggregate_type: String = row.try_get(1).map_err(StoreError::backend)?;
        let events: i64 = row.try_get(2).map_err(StoreError::backend)?;
        let aggregates: i64 = row.try_get(3).map_err(StoreError::backend)?;
        let stats = by_tenant.entry(tenant_id).or_insert_with(|| TenantStats {
            tenant_id,
            events: 0,
            aggregates: 0,
            by_aggregate_type: Vec::new(),
        });
        stats.events += events as u64;
        // A stream is (id, type), so distinct streams add up across types.
        stats.aggregates += aggregates as u64;
        stats.by_aggregate_type.push((aggregate_type, events as u64));
    }
    let mut stats: Vec<TenantStats> = by_tenant.into_values().collect();
    for tenant in &mut stats {
        tenant.by_aggregate_type.sort();
    }
    let no_tenant_first = stats.first().is_some_and(|s| s.tenant_id.is_none());
    stats.rotate_left(usize::from(no_tenant_first));
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use eventsource::testing::event_for;
    use eventsource::{EventStore, ExpectedVersion};
    use sqlx::Execute;

    use super::*;
    use crate::SqliteEventStore;

    /// The plan SQLite chooses for the exact query the feed runs.
    async fn plan_of(store: &SqliteEventStore, filter: &EventFilter) -> String {
        let mut query = page_query(filter, Some(0), 100);
        let sql = format!("EXPLAIN QUERY PLAN {}", query.build().sql());
        let mut explain = sqlx::query(&sql);
        // Re-bind the same values the filter binds, in order.
        explain = explain.bind(0_i64);
        if let TenantFilter::Tenant(tenant) = filter.tenant {
            explain = explain.bind(uuid_text(tenant.as_uuid()));
        }
        for value in filter.aggregate_types.iter().chain(&filter.event_types) {
            explain = explain.bind(value.clone());
        }
        for at in filter.occurred_from.iter().chain(&filter.occurred_until) {
            explain = explain.bind(timestamp_text(at));
        }
        let rows = explain.bind(100_i64).fetch_all(store.pool()).await.unwrap();
        rows.iter()
            .map(|row| row.get::<String, _>("detail"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[tokio::test]
    async fn tenant_queries_are_answered_from_indexes() {
        let store = SqliteEventStore::open("sqlite::memory:").await.unwrap();
        // Enough rows of many tenants that the planner has a choice.
        for _ in 0..200 {
            let tenant = Some(TenantId::new_random());
            let event = event_for(Uuid::new_v4(), "Order", 1, tenant);
            store
                .append(ExpectedVersion::NoStream, vec![event])
                .await
                .unwrap();
        }
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
        let tenant = TenantFilter::Tenant(TenantId::new_random());

        let window = EventFilter::tenant(tenant)
            .aggregate_type("Order")
            .occurred_between(
                Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()),
                Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()),
            );
        for filter in [window, EventFilter::tenant(tenant)] {
            let plan = plan_of(&store, &filter).await;
            // Either tenant index may win; a full scan of `events` never may.
            assert!(plan.contains("SEARCH events USING INDEX idx_events_"), "{plan}");
            assert!(!plan.contains("SCAN events"), "{plan}");
        }
    }

    /// The plan of `read_stream_of_tenant`'s statement: probe the first
    /// event through the unique index, and only then search the stream.
    #[tokio::test]
    async fn a_tenant_stream_read_probes_the_first_event_before_the_stream() {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", folder.path().join("events.db").display());
        let store = SqliteEventStore::open(&url).await.unwrap();
        let stream = StreamId::new(Uuid::new_v4(), "Order");
        // Runs the statement once, so a typo in it fails here too.
        let read = super::read_stream_of_tenant(store.pool(), &stream, 0, TenantId::new_random()).await;
        assert!(read.unwrap().is_empty());

        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", *super::READ_STREAM_OF_TENANT))
                .bind("id")
                .bind("Order")
                .bind(0_i64)
                .bind("tenant")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let steps: Vec<&str> = plan.iter().map(|(_, _, _, detail)| detail.as_str()).collect();
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert!(
            steps[0].starts_with("SEARCH first USING") && steps[0].contains("version=?"),
            "{steps:?}"
        );
        assert!(
            steps[1].starts_with("SEARCH e USING") && steps[1].contains("version>?"),
            "{steps:?}"
        );
    }
}
