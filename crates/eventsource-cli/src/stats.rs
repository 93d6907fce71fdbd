//! The `stats` command: per tenant (and for events without a tenant) the
//! number of events, of distinct aggregates and of events per aggregate
//! type, counted by the store.

use std::collections::BTreeSet;
use std::io::Write;

use eventsource::{EventStore, TenantStats};
use serde_json::{json, Map, Value};

use crate::output::{table, Format};

/// What `--tenant none` calls events without a tenant; shown the same way.
const NO_TENANT: &str = "none";

/// Prints the figures as a table or as
/// `{"total": N, "tenants": [{"tenant_id", "events", "aggregates", "by_aggregate_type"}]}`.
///
/// # Errors
///
/// When the store or stdout fails.
pub async fn run(store: &dyn EventStore, format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    let tenants = store.tenant_stats().await?;
    let total: u64 = tenants.iter().map(|tenant| tenant.events).sum();
    match format {
        Format::Json => writeln!(out, "{}", as_json(total, &tenants))?,
        Format::Table => writeln!(out, "{}", as_table(total, &tenants))?,
    }
    Ok(())
}

fn as_json(total: u64, tenants: &[TenantStats]) -> Value {
    let tenants: Vec<Value> = tenants
        .iter()
        .map(|tenant| {
            let by_aggregate_type: Map<String, Value> = tenant
                .by_aggregate_type
                .iter()
                .map(|(aggregate_type, events)| (aggregate_type.clone(), json!(events)))
                .collect();
            json!({
                "tenant_id": tenant.tenant_id,
                "events": tenant.events,
                "aggregates": tenant.aggregates,
                "by_aggregate_type": by_aggregate_type,
            })
        })
        .collect();
    json!({ "total": total, "tenants": tenants })
}

/// One row per tenant and a total row; one column per aggregate type seen
/// in any tenant, so the columns line up.
fn as_table(total: u64, tenants: &[TenantStats]) -> comfy_table::Table {
    let aggregate_types: BTreeSet<&str> = tenants
        .iter()
        .flat_map(|tenant| tenant.by_aggregate_type.iter().map(|(name, _)| name.as_str()))
        .collect();
    let mut header = vec!["tenant", "events", "aggregates"];
    header.extend(aggregate_types.iter().copied());
    let mut rows = table(&header);

    let events_of = |tenant: &TenantStats, wanted: &str| {
        tenant
            .by_aggregate_type
            .iter()
            .find(|(name, _)| name == wanted)
            .map_or(0, |(_, events)| *events)
    };
    for tenant in tenants {
        let mut row = vec![
            tenant
                .tenant_id
                .map_or_else(|| NO_TENANT.to_owned(), |id| id.to_string()),
            tenant.events.to_string(),
            tenant.aggregates.to_string(),
        ];
        row.extend(
            aggregate_types
                .iter()
                .map(|name| events_of(tenant, name).to_string()),
        );
        rows.add_row(row);
    }

    let mut total_row = vec![
        "total".to_owned(),
        total.to_string(),
        tenants
            .iter()
            .map(|tenant| tenant.aggregates)
            .sum::<u64>()
            .to_string(),
    ];
    total_row.extend(aggregate_types.iter().map(|name| {
        tenants
            .iter()
            .map(|tenant| events_of(tenant, name))
            .sum::<u64>()
            .to_string()
    }));
    rows.add_row(total_row);
    rows
}

#[cfg(test)]
mod tests {
    use eventsource::TenantId;

    use super::*;

    fn figures() -> Vec<TenantStats> {
        vec![
            TenantStats {
                tenant_id: Some(TenantId::new_random()),
                events: 3,
                aggregates: 2,
                by_aggregate_type: vec![("Order".into(), 2), ("Task".into(), 1)],
            },
            TenantStats {
                tenant_id: None,
                events: 1,
                aggregates: 1,
                by_aggregate_type: vec![("Task".into(), 1)],
            },
        ]
    }

    #[test]
    fn json_names_events_without_a_tenant_null() {
        let json = as_json(4, &figures());
        assert_eq!(json["total"], 4);
        assert_eq!(json["tenants"][1]["tenant_id"], Value::Null);
        assert_eq!(
            json["tenants"][0]["by_aggregate_type"],
            json!({"Order": 2, "Task": 1})
        );
    }

    #[test]
    fn the_table_has_a_column_per_aggregate_type_and_a_total_row() {
        let text = as_table(4, &figures()).to_string();
        assert!(text.contains("Order") && text.contains("Task"), "{text}");
        let total_line = text.lines().find(|line| line.contains("total")).unwrap();
        let cells: Vec<&str> = total_line
            .split(['│', '┆'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(cells, ["total", "4", "3", "2", "2"]);
    }
}
