//! Exports read back by imports.

use serde_json::Value;

use crate::support::{sample_path, sample_text, Workspace};

#[test]
fn an_export_imported_into_an_empty_store_exports_the_same_lines() {
    let source = Workspace::new();
    // The demo interleaves streams (a task is completed after other tasks
    // were created), which an import must keep in order.
    source.ok(&["demo"]);
    source.ok(&["import", sample_path().to_str().unwrap()]);
    source.ok(&["demo"]);
    let exported = source.ok(&["export"]);
    assert_eq!(exported.lines().count(), 338);

    let target = Workspace::new();
    let file = target.file("export.jsonl", &exported);
    assert_eq!(
        target.ok(&["import", file.to_str().unwrap()]).trim(),
        "imported 338 events, 0 already present"
    );
    assert_eq!(target.ok(&["export"]), exported);
}

#[test]
fn exporting_events_without_a_tenant_gives_only_those_in_global_order() {
    let workspace = Workspace::new();
    workspace.ok(&["import", sample_path().to_str().unwrap()]);

    let exported = workspace.ok(&["export", "--tenant", "none"]);
    let wanted: String = sample_text()
        .lines()
        .filter(|line| line.contains("\"tenant_id\":null"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(exported.lines().count(), 84);
    assert_eq!(exported, wanted);
}

#[test]
fn exporting_one_tenants_orders_to_a_file_writes_only_those() {
    let workspace = Workspace::new();
    workspace.ok(&["import", sample_path().to_str().unwrap()]);
    let tenant = "9531985d-5d9d-49f8-9818-e811892f902b";
    let path = workspace.path("orders.jsonl");

    let output = workspace.ok(&[
        "export",
        "--tenant",
        tenant,
        "--aggregate-type",
        "Order",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.trim(), format!("exported 87 events to {}", path.display()));
    let written = std::fs::read_to_string(&path).expect("the export file");
    assert_eq!(written.lines().count(), 87);
    for line in written.lines() {
        let event: Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(
            (event["tenant_id"].as_str(), event["aggregate_type"].as_str()),
            (Some(tenant), Some("Order"))
        );
    }
}
