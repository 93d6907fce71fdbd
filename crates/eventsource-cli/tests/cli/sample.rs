//! The sample log written by the Python reference library, imported into a
//! fresh SQLite file: every figure must match the expected ones.

use serde_json::Value;

use crate::support::{expected_figures, sample_events, sample_path, sample_text, Workspace};

fn imported_sample() -> Workspace {
    let workspace = Workspace::new();
    let output = workspace.ok(&["import", sample_path().to_str().expect("a UTF-8 path")]);
    assert_eq!(output.trim(), "imported 328 events, 0 already present");
    workspace
}

/// The key of the expected figures for an event's tenant, which is also
/// what `--tenant` takes.
fn tenant_of(event: &Value) -> String {
    event["tenant_id"].as_str().unwrap_or("none").to_owned()
}

#[test]
fn stats_match_the_expected_figures_for_every_tenant() {
    let workspace = imported_sample();
    let expected = expected_figures();
    let stats = workspace.stats();

    assert_eq!(stats["total"], expected["total"]);
    let tenants = stats["tenants"].as_array().expect("a tenant list");
    let expected_tenants = expected["tenants"].as_object().expect("expected tenants");
    assert_eq!(tenants.len(), expected_tenants.len());
    for tenant in tenants {
        let key = tenant["tenant_id"].as_str().unwrap_or("none");
        let figures = &expected_tenants[key];
        assert_eq!(tenant["events"], figures["events"], "events of {key}");
        assert_eq!(tenant["aggregates"], figures["aggregates"], "aggregates of {key}");
        assert_eq!(
            tenant["by_aggregate_type"]["Order"], figures["Order"],
            "Order events of {key}"
        );
        assert_eq!(
            tenant["by_aggregate_type"]["Task"], figures["Task"],
            "Task events of {key}"
        );
        let keys: Vec<&String> = tenant.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["tenant_id", "events", "aggregates", "by_aggregate_type"]);
    }
    assert_eq!(
        tenants.last().expect("a last entry")["tenant_id"],
        Value::Null,
        "no tenant comes last"
    );
}

#[test]
fn a_tenants_order_events_in_a_time_window_match_the_expected_count_and_lines() {
    let workspace = imported_sample();
    let expected = expected_figures();
    let (from, to) = (
        expected["window"]["from"].as_str().unwrap(),
        expected["window"]["to"].as_str().unwrap(),
    );
    let sample = sample_events();

    for (key, figures) in expected["tenants"].as_object().expect("expected tenants") {
        let output = workspace.ok(&[
            "events",
            "--tenant",
            key,
            "--aggregate-type",
            "Order",
            "--since",
            from,
            "--until",
            to,
            "--format",
            "json",
        ]);
        let listed: Vec<Value> = serde_json::from_str(&output).expect("one JSON array");
        assert_eq!(
            Some(listed.len() as u64),
            figures["Order_in_window"].as_u64(),
            "Order_in_window of {key}"
        );

        // RFC 3339 timestamps in UTC with a fixed width compare as text.
        let wanted: Vec<&Value> = sample
            .iter()
            .filter(|event| tenant_of(event) == *key && event["aggregate_type"] == "Order")
            .filter(|event| {
                let at = event["occurred_at"].as_str().unwrap();
                at >= from && at < to
            })
            .collect();
        assert_eq!(
            listed.iter().collect::<Vec<_>>(),
            wanted,
            "the listed events of {key} are the sample's"
        );
    }
}

#[test]
fn the_audit_trail_lists_each_tenants_events_in_global_order_with_exactly_the_audit_fields() {
    let workspace = imported_sample();
    let expected = expected_figures();
    let sample = sample_events();

    for (key, figures) in expected["tenants"].as_object().expect("expected tenants") {
        let output = workspace.ok(&["audit", "--tenant", key, "--format", "json"]);
        let entries: Vec<Value> = serde_json::from_str(&output).expect("one JSON array");
        assert_eq!(
            Some(entries.len() as u64),
            figures["events"].as_u64(),
            "audit entries of {key}"
        );

        let tenant_events: Vec<&Value> = sample.iter().filter(|event| tenant_of(event) == *key).collect();
        for (entry, event) in entries.iter().zip(tenant_events) {
            let keys: Vec<&String> = entry.as_object().expect("an object").keys().collect();
            assert_eq!(
                keys,
                [
                    "event_id",
                    "event_type",
                    "occurred_at",
                    "actor_id",
                    "aggregate_id"
                ]
            );
            for field in [
                "event_id",
                "event_type",
                "occurred_at",
                "actor_id",
                "aggregate_id",
            ] {
                assert_eq!(entry[field], event[field], "{field} of an audit entry of {key}");
            }
        }
    }
}

#[test]
fn exporting_the_imported_sample_reproduces_the_file_byte_for_byte() {
    let workspace = imported_sample();
    assert_eq!(workspace.ok(&["export"]), sample_text());
}

#[test]
fn importing_the_sample_twice_stores_nothing_the_second_time() {
    let workspace = imported_sample();
    let again = workspace.ok(&["import", sample_path().to_str().expect("a UTF-8 path")]);
    assert_eq!(again.trim(), "imported 0 events, 328 already present");
    assert_eq!(workspace.total(), 328);
}

#[test]
fn the_sample_can_be_imported_from_standard_input() {
    let workspace = Workspace::new();
    let run = workspace
        .run_with_stdin(&["import", "-"], sample_text().as_bytes())
        .assert_success();
    assert_eq!(run.stdout.trim(), "imported 328 events, 0 already present");
    assert_eq!(workspace.ok(&["export"]), sample_text());
}

#[test]
fn tables_are_printed_for_people_by_default() {
    let workspace = imported_sample();
    let tenant = "6513270e-269e-4d37-b2a7-4de452e6b438";

    let stats = workspace.ok(&["stats"]);
    assert!(
        stats.contains(tenant) && stats.contains("total") && stats.contains("328"),
        "{stats}"
    );

    let events = workspace.ok(&["events", "--tenant", tenant, "--limit", "2"]);
    assert!(
        events.contains("occurred_at") && events.contains("aggregate_type"),
        "{events}"
    );
    assert_eq!(
        events.matches("user:").count(),
        2,
        "two rows with an actor: {events}"
    );

    let audit = workspace.ok(&["audit", "--tenant", "none"]);
    assert!(audit.contains("actor_id"), "{audit}");
    assert_eq!(
        audit.matches("user:").count(),
        84,
        "one row per event without a tenant"
    );
}
