//! Tenant filters run on the indexes: with 120,000 events of 120 tenants
//! loaded and analysed, the plans PostgreSQL chooses for the store's own
//! tenant queries read `events` through an index, never sequentially.

mod support;

use chrono::{TimeZone, Utc};
use eventsource::{EventFilter, EventStore, ReadAllOptions, TenantFilter, TenantId};
use eventsource_postgres::PostgresEventStore;
use serde_json::Value;
use support::{grant_app_role, TestDatabase, TestRole};
use uuid::Uuid;

const EVENTS: i64 = 120_000;
const TENANTS: i64 = 120;

/// Loads the events in one statement: aggregates of ten versions, each
/// owned by one tenant and of one of four types, one event every 263
/// seconds through 2025 (about a year).
const LOAD: &str = "
    INSERT INTO events (
        event_id, aggregate_id, aggregate_type, event_type, tenant_id, version,
        \"timestamp\", payload, correlation_id
    )
    SELECT
        gen_random_uuid(),
        md5('aggregate-' || (i / 10))::uuid,
        (ARRAY['Order', 'Task', 'Invoice', 'Customer'])[(i / 10 / $2) % 4 + 1],
        'Changed',
        md5('tenant-' || ((i / 10) % $2))::uuid,
        i % 10 + 1,
        TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '263 seconds',
        json_build_object('n', i),
        gen_random_uuid()
    FROM generate_series(0, $1 - 1) AS i";

/// The indexes of `events` that filter by tenant.
const TENANT_INDEXES: [&str; 3] = [
    "idx_events_tenant_id",
    "idx_events_tenant_position",
    "idx_events_type_tenant_timestamp",
];

/// One node of a plan that reads `events`, itself (a scan of the table) or
/// through one of its indexes (a bitmap index scan names no table).
struct Scan {
    node_type: String,
    index: Option<String>,
}

fn scans_of_events(node: &Value, found: &mut Vec<Scan>) {
    let index = node.get("Index Name").and_then(Value::as_str);
    let on_events = node.get("Relation Name").and_then(Value::as_str) == Some("events");
    if on_events || index.is_some_and(|index| index.starts_with("idx_events") || index.starts_with("events_"))
    {
        found.push(Scan {
            node_type: node["Node Type"].as_str().unwrap_or_default().to_owned(),
            index: index.map(str::to_owned),
        });
    }
    for child in node.get("Plans").and_then(Value::as_array).into_iter().flatten() {
        scans_of_events(child, found);
    }
}

/// Walks `plan` (the JSON of `EXPLAIN (FORMAT JSON)`), asserting no node
/// scans `events` sequentially and one reads it through a tenant index;
/// returns the scans, for the report.
fn assert_tenant_indexes_do_the_filtering(what: &str, plan: &Value) -> Vec<Scan> {
    let mut scans = Vec::new();
    scans_of_events(&plan[0]["Plan"], &mut scans);
    assert!(
        !scans.is_empty(),
        "{what}: the plan reads events somewhere: {plan:#}"
    );
    assert!(
        scans.iter().all(|scan| scan.node_type != "Seq Scan"),
        "{what}: events is scanned sequentially: {plan:#}"
    );
    assert!(
        scans
            .iter()
            .any(|scan| scan.index.as_deref().is_some_and(|i| TENANT_INDEXES.contains(&i))),
        "{what}: no tenant index filters the tenant: {plan:#}"
    );
    scans
}

async fn load(store: &PostgresEventStore) -> TenantId {
    sqlx::query(LOAD)
        .bind(EVENTS)
        .bind(TENANTS)
        .execute(store.pool())
        .await
        .expect("the load runs");
    sqlx::query("ANALYZE events").execute(store.pool()).await.unwrap();
    let tenant: Uuid = sqlx::query_scalar("SELECT md5('tenant-7')::uuid")
        .fetch_one(store.pool())
        .await
        .unwrap();
    TenantId::from_uuid(tenant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_queries_over_a_hundred_thousand_events_use_the_indexes_not_a_sequential_scan() {
    // Declared first, dropped last: after the database it has grants in.
    let role;
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let tenant = load(&store).await;
    let of_tenant = EventFilter::tenant(TenantFilter::Tenant(tenant));
    let stats = store.tenant_stats().await.unwrap();
    assert_eq!(stats.len() as i64, TENANTS);
    assert_eq!(store.count(&EventFilter::all()).await.unwrap() as i64, EVENTS);

    let spring = of_tenant.clone().aggregate_type("Order").occurred_between(
        Some(Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()),
        Some(Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()),
    );
    let audit_page_two = ReadAllOptions {
        after: Some(EVENTS as u64 / 2),
        ..ReadAllOptions::filtered(of_tenant.clone())
    };
    let queries = [
        (
            "tenant, aggregate type and time range",
            ReadAllOptions::filtered(spring.clone()),
        ),
        (
            "tenant audit trail, first page",
            ReadAllOptions::filtered(of_tenant.clone()),
        ),
        ("tenant audit trail, a page after a checkpoint", audit_page_two),
    ];
    for (what, options) in &queries {
        let plan = store.explain_feed_page(options).await.unwrap();
        let scans = assert_tenant_indexes_do_the_filtering(what, &plan);
        eprintln!("{what}: {}", describe(&plan, &scans));
    }
    let plan = store.explain_count(&of_tenant).await.unwrap();
    let scans = assert_tenant_indexes_do_the_filtering("tenant count", &plan);
    eprintln!("tenant count: {}", describe(&plan, &scans));

    // Under row-level security the policy's condition alone selects the
    // tenant, and it is matched to the same indexes.
    role = TestRole::create().await;
    grant_app_role(&store, &role).await;
    store.enable_tenant_isolation().await.unwrap();
    let app_pool = database
        .pool_with(database.options().username(&role.name), 2)
        .await;
    let tenant_session = PostgresEventStore::from_pool(app_pool).for_tenant(tenant);
    let plan = tenant_session
        .explain_feed_page(&ReadAllOptions::default())
        .await
        .unwrap();
    let scans = assert_tenant_indexes_do_the_filtering("unfiltered feed under row-level security", &plan);
    eprintln!(
        "unfiltered feed under row-level security: {}",
        describe(&plan, &scans)
    );
    let plan = tenant_session.explain_count(&EventFilter::all()).await.unwrap();
    let scans = assert_tenant_indexes_do_the_filtering("unfiltered count under row-level security", &plan);
    eprintln!(
        "unfiltered count under row-level security: {}",
        describe(&plan, &scans)
    );
    assert_eq!(
        tenant_session.count(&EventFilter::all()).await.unwrap() as i64,
        EVENTS / TENANTS
    );
    tenant_session.pool().close().await;

    // The same queries return what the data holds.
    let in_spring = store.events_by_type(spring, None).await.unwrap();
    assert!(!in_spring.is_empty());
    assert!(in_spring
        .iter()
        .all(|e| e.event.envelope.tenant_id == Some(tenant) && e.event.envelope.aggregate_type == "Order"));
    assert_eq!(store.count(&of_tenant).await.unwrap() as i64, EVENTS / TENANTS);
}

fn describe(plan: &Value, scans: &[Scan]) -> String {
    let top = plan[0]["Plan"]["Node Type"].as_str().unwrap_or_default();
    let scans: Vec<String> = scans
        .iter()
        .map(|scan| match &scan.index {
            Some(index) => format!("{} on {index}", scan.node_type),
            None => scan.node_type.clone(),
        })
        .collect();
    format!("{top} over {}", scans.join(", "))
}
