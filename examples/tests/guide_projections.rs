//! The guide's projections over the real event log the Python reference
//! library wrote: figures checked against an independent count of the log,
//! money summed exactly, and a rebuild giving identical read models.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use eventsource::interchange::from_flat_json;
use eventsource::projection::{InMemoryProjectionStore, Projection, ProjectionRunner, ProjectionStore};
use eventsource::{EventStore, ExpectedVersion, InMemoryEventStore, TenantFilter, TenantId};
use eventsource_examples::guide::order::OrderStatus;
use eventsource_examples::guide::projections::{
    builtin, tenant_orders, tenant_statistics, OrderSummary, OrderSummaryProjection, TenantStatistics,
    TENANT_STATISTICS,
};
use rust_decimal::Decimal;
use serde_json::Value;

fn sample_log() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/sample-small.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("the shared sample log at {}: {error}", path.display()))
}

async fn store_with_sample() -> Arc<InMemoryEventStore> {
    let store = Arc::new(InMemoryEventStore::new());
    for line in sample_log().lines() {
        let event = from_flat_json(line).expect("the sample is valid");
        store.append(ExpectedVersion::Any, vec![event]).await.unwrap();
    }
    store
}

/// What the log says, counted straight from its JSON with no library code.
#[derive(Default, Debug, PartialEq)]
struct Expected {
    orders: u64,
    shipped: u64,
    revenue: Decimal,
}

fn expected_per_tenant() -> HashMap<Option<String>, Expected> {
    let mut expected: HashMap<Option<String>, Expected> = HashMap::new();
    for line in sample_log().lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let tenant = event["tenant_id"].as_str().map(str::to_owned);
        let figures = expected.entry(tenant).or_default();
        match event["event_type"].as_str().unwrap() {
            "OrderCreated" => {
                figures.orders += 1;
                figures.revenue += Decimal::from_str(&event["total_amount"].to_string()).unwrap();
            }
            "OrderShipped" => figures.shipped += 1,
            _ => {}
        }
    }
    expected
}

async fn run_all(events: &Arc<InMemoryEventStore>, models: &Arc<InMemoryProjectionStore>) {
    let runner = ProjectionRunner::new(Arc::clone(events) as _, Arc::clone(models) as _);
    for projection in builtin() {
        let report = runner.catch_up(projection.as_ref(), |_, _| {}).await.unwrap();
        assert_eq!(report.parked, 0, "{} parked events", projection.name());
    }
}

#[tokio::test]
async fn tenant_statistics_match_an_independent_count_of_the_log() {
    let events = store_with_sample().await;
    let models = Arc::new(InMemoryProjectionStore::new());
    run_all(&events, &models).await;

    let expected = expected_per_tenant();
    let documents = models
        .documents(TENANT_STATISTICS, TenantFilter::Any)
        .await
        .unwrap();
    assert_eq!(
        documents.len(),
        expected.len(),
        "one document per tenant and one for no tenant"
    );
    for document in documents {
        let statistics: TenantStatistics = serde_json::from_value(document.value).unwrap();
        let figures = &expected[&document.tenant_id.map(|t| t.to_string())];
        assert_eq!(statistics.order_count, figures.orders);
        assert_eq!(statistics.shipped_count, figures.shipped);
        assert_eq!(
            statistics.total_revenue, figures.revenue,
            "revenue is summed exactly"
        );
    }
}

#[tokio::test]
async fn order_summaries_are_kept_per_tenant() {
    let events = store_with_sample().await;
    let models = Arc::new(InMemoryProjectionStore::new());
    run_all(&events, &models).await;

    let tenant: TenantId = "6513270e-269e-4d37-b2a7-4de452e6b438".parse().unwrap();
    let summaries = models
        .documents(OrderSummaryProjection::NAME, TenantFilter::Tenant(tenant))
        .await
        .unwrap();
    assert!(!summaries.is_empty());
    assert!(summaries
        .iter()
        .all(|document| document.tenant_id == Some(tenant)));
    let orders = models
        .documents("tenant_orders", TenantFilter::Tenant(tenant))
        .await
        .unwrap();
    assert_eq!(orders.len(), summaries.len());
    let shipped = summaries
        .iter()
        .map(|document| serde_json::from_value::<OrderSummary>(document.value.clone()).unwrap())
        .filter(|summary| summary.status == OrderStatus::Shipped)
        .count() as u64;
    assert_eq!(shipped, expected_per_tenant()[&Some(tenant.to_string())].shipped);
}

#[tokio::test]
async fn a_rebuild_reproduces_every_read_model_exactly() {
    let events = store_with_sample().await;
    let models = Arc::new(InMemoryProjectionStore::new());
    run_all(&events, &models).await;
    let runner = ProjectionRunner::new(Arc::clone(&events) as _, Arc::clone(&models) as _);

    for projection in builtin() {
        let name = projection.name().to_owned();
        let before = models.documents(&name, TenantFilter::Any).await.unwrap();
        runner.rebuild(projection.as_ref(), |_, _| {}).await.unwrap();
        assert_eq!(
            models.documents(&name, TenantFilter::Any).await.unwrap(),
            before,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_tenant_filtered_projection_never_holds_another_tenants_orders() {
    let events = store_with_sample().await;
    let models = Arc::new(InMemoryProjectionStore::new());
    let tenant: TenantId = "9531985d-5d9d-49f8-9818-e811892f902b".parse().unwrap();
    let runner = ProjectionRunner::new(Arc::clone(&events) as _, Arc::clone(&models) as _);
    let projection = tenant_orders(TenantFilter::Tenant(tenant));
    runner.catch_up(&projection, |_, _| {}).await.unwrap();
    let documents = models
        .documents(projection.name(), TenantFilter::Any)
        .await
        .unwrap();
    assert!(!documents.is_empty());
    assert!(documents
        .iter()
        .all(|document| document.tenant_id == Some(tenant)));
}

#[test]
fn amounts_written_as_numbers_or_strings_are_read_exactly() {
    let created: eventsource_examples::guide::order::OrderCreated = serde_json::from_str(
        r#"{"customer_id":"0f21ddb6-6cad-4a26-8d11-6ece1738f7d9","total_amount":0.1000000000000000000000000001}"#,
    )
    .unwrap();
    assert_eq!(created.total_amount.to_string(), "0.1000000000000000000000000001");
    let statistics = tenant_statistics();
    assert_eq!(statistics.name(), TENANT_STATISTICS);
    let mut sum = Decimal::ZERO;
    for _ in 0..10 {
        sum += Decimal::from_str("0.1").unwrap();
    }
    assert_eq!(sum, Decimal::ONE, "ten dimes are exactly one");
}
