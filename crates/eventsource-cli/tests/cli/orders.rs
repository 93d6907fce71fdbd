//! Order events written as JSON Lines for the tests of projections, and
//! the figures the built-in projections must derive from a log: orders and
//! revenue per tenant, counted straight from the JSON with no library code.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::Workspace;

/// The key the tests use for a tenant: its UUID, or `none`.
pub type TenantKey = String;

/// Orders and revenue of one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub orders: u64,
    pub revenue: Decimal,
}

/// An `OrderCreated` line in the flat form, as the first event of a new
/// order. `total_amount` is written as given, so a test can write a string,
/// a number or something that is not an amount at all.
pub fn order_created(tenant: Option<Uuid>, total_amount: Value, second: u64) -> Value {
    let mut event = order_event(tenant, Uuid::new_v4(), 1, "OrderCreated", second);
    event["customer_id"] = json!(Uuid::new_v4());
    event["total_amount"] = total_amount;
    event
}

/// An event of order `order` in the flat form, without payload fields.
pub fn order_event(tenant: Option<Uuid>, order: Uuid, version: u64, event_type: &str, second: u64) -> Value {
    let occurred_at = chrono::DateTime::from_timestamp(1_770_000_000 + second as i64, 0)
        .expect("a valid instant")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "event_id": Uuid::new_v4(),
        "event_type": event_type,
        "event_version": 1,
        "occurred_at": occurred_at,
        "aggregate_id": order,
        "aggregate_type": "Order",
        "aggregate_version": version,
        "tenant_id": tenant,
        "actor_id": "user:test",
        "correlation_id": Uuid::new_v4(),
        "causation_id": null,
        "metadata": {},
    })
}

/// Events as JSON Lines.
pub fn as_lines(events: &[Value]) -> String {
    events.iter().map(|event| format!("{event}\n")).collect()
}

/// Orders and revenue per tenant in a log: every `OrderCreated` line,
/// amounts summed exactly from their written digits.
pub fn expected_figures(events: &[Value]) -> BTreeMap<TenantKey, Figures> {
    let mut figures: BTreeMap<TenantKey, Figures> = BTreeMap::new();
    for event in events
        .iter()
        .filter(|event| event["event_type"] == "OrderCreated")
    {
        let amount = match &event["total_amount"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let tenant = figures.entry(tenant_key(event)).or_default();
        tenant.orders += 1;
        tenant.revenue += Decimal::from_str(&amount).expect("a decimal amount");
    }
    figures
}

fn tenant_key(event: &Value) -> TenantKey {
    event["tenant_id"].as_str().unwrap_or("none").to_owned()
}

/// What the `tenant_statistics` read model says, per tenant.
pub fn statistics(workspace: &Workspace) -> BTreeMap<TenantKey, Figures> {
    documents(workspace, "tenant_statistics")
        .iter()
        .map(|document| {
            let value = &document["value"];
            let figures = Figures {
                orders: value["order_count"].as_u64().expect("an order count"),
                revenue: Decimal::from_str(value["total_revenue"].as_str().expect("revenue as text"))
                    .expect("a decimal revenue"),
            };
            (document["key"].as_str().expect("a key").to_owned(), figures)
        })
        .collect()
}

/// `projections show NAME --format json`.
pub fn documents(workspace: &Workspace, projection: &str) -> Vec<Value> {
    let output = workspace.ok(&["projections", "show", projection, "--format", "json"]);
    serde_json::from_str(&output).expect("show prints one JSON array")
}

/// `projections list --format json`, by projection name.
pub fn standings(workspace: &Workspace) -> BTreeMap<String, Value> {
    let output = workspace.ok(&["projections", "list", "--format", "json"]);
    let list: Vec<Value> = serde_json::from_str(&output).expect("list prints one JSON array");
    list.into_iter()
        .map(|entry| (entry["name"].as_str().expect("a name").to_owned(), entry))
        .collect()
}

/// `dlq list --format json`.
pub fn dead_letters(workspace: &Workspace, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["dlq", "list", "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&workspace.ok(&args)).expect("dlq list prints one JSON array")
}

/// The built-in projections' names.
pub const BUILTIN: [&str; 3] = ["order_summaries", "tenant_orders", "tenant_statistics"];
