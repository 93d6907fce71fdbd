//! `dlq list | retry | discard`: a poison event is parked by every
//! projection it breaks, the events after it are still processed, a retry
//! that fails again leaves it parked (and fails the command), a retry that
//! succeeds removes it, and a discard drops it for good.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::orders::{
    as_lines, dead_letters, expected_figures, order_created, order_event, standings, statistics,
};
use crate::support::Workspace;

/// A log whose second order has a total that is not an amount.
struct PoisonedLog {
    workspace: Workspace,
    tenant: Uuid,
    poison: Value,
    valid: Vec<Value>,
}

fn poisoned_log() -> PoisonedLog {
    let workspace = Workspace::new();
    let tenant = Uuid::new_v4();
    let poison = order_created(Some(tenant), json!("lots"), 2);
    let valid = vec![
        order_created(Some(tenant), json!("10.50"), 1),
        order_created(Some(tenant), json!(20.25), 3),
        order_created(None, json!("5"), 4),
    ];
    let log = [
        valid[0].clone(),
        poison.clone(),
        valid[1].clone(),
        valid[2].clone(),
    ];
    let file = workspace.file("poisoned.jsonl", &as_lines(&log));
    workspace.ok(&["import", file.to_str().unwrap()]);
    PoisonedLog {
        workspace,
        tenant,
        poison,
        valid,
    }
}

#[test]
fn a_poison_event_is_parked_by_each_projection_and_the_later_orders_are_still_counted() {
    let log = poisoned_log();
    let output = log.workspace.ok(&["projections", "run", "--once"]);
    assert!(
        output.contains("tenant_statistics: caught up at position 4: 3 handled, 1 parked"),
        "{output}"
    );

    let letters = dead_letters(&log.workspace, &[]);
    assert_eq!(letters.len(), 3, "{letters:?}");
    let mut projections: Vec<&str> = letters
        .iter()
        .map(|letter| letter["projection"].as_str().unwrap())
        .collect();
    projections.sort_unstable();
    assert_eq!(
        projections,
        ["order_summaries", "tenant_orders", "tenant_statistics"]
    );
    for letter in &letters {
        let keys: Vec<&String> = letter.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "id",
                "projection",
                "position",
                "event_id",
                "event_type",
                "tenant_id",
                "attempts",
                "error",
                "first_failed_at",
                "last_failed_at"
            ]
        );
        assert_eq!(letter["event_id"], log.poison["event_id"]);
        assert_eq!(letter["event_type"], "OrderCreated");
        assert_eq!(letter["tenant_id"], log.tenant.to_string());
        assert_eq!(letter["position"], 2);
        assert_eq!(letter["attempts"], 3, "tried three times before parking");
        assert!(letter["error"].as_str().unwrap().contains("lots"), "{letter}");
    }

    for (name, standing) in standings(&log.workspace) {
        assert_eq!(standing["position"], 4, "{name} went past the poison event");
        assert_eq!(standing["parked"], 1, "{name}");
    }
    assert_eq!(statistics(&log.workspace), expected_figures(&log.valid));

    let table = log
        .workspace
        .ok(&["dlq", "list", "--projection", "tenant_statistics"]);
    assert!(
        table.contains("OrderCreated") && table.contains(&log.tenant.to_string()),
        "{table}"
    );
    let event_id = log.poison["event_id"].as_str().unwrap();
    assert_eq!(table.matches(event_id).count(), 1, "one row: {table}");
}

#[test]
fn a_retry_that_fails_again_keeps_the_event_parked_and_fails_in_one_line() {
    let log = poisoned_log();
    log.workspace.ok(&["projections", "run", "--once"]);
    let letter = &dead_letters(&log.workspace, &["--projection", "tenant_statistics"])[0];
    let id = letter["id"].to_string();

    let line = log.workspace.run(&["dlq", "retry", &id]).assert_one_line_error();
    assert!(
        line.starts_with(&format!(
            "error: dead letter {id} of tenant_statistics (OrderCreated "
        )),
        "{line}"
    );
    assert!(
        line.contains("failed again and stays parked (attempts: 4)") && line.contains("lots"),
        "{line}"
    );

    let again = &dead_letters(&log.workspace, &["--projection", "tenant_statistics"])[0];
    assert_eq!(again["id"], letter["id"]);
    assert_eq!(again["attempts"], 4);
    assert_eq!(statistics(&log.workspace), expected_figures(&log.valid));
}

#[test]
fn a_discarded_event_is_gone_for_its_projection_only() {
    let log = poisoned_log();
    log.workspace.ok(&["projections", "run", "--once"]);
    let letter = &dead_letters(&log.workspace, &["--projection", "tenant_statistics"])[0];
    let id = letter["id"].to_string();

    let output = log
        .workspace
        .ok(&["dlq", "discard", &id, "--projection", "tenant_statistics"]);
    assert_eq!(
        output,
        format!(
            "discarded dead letter {id} of tenant_statistics (OrderCreated {} at position 2)\n",
            log.poison["event_id"].as_str().unwrap()
        )
    );
    assert!(dead_letters(&log.workspace, &["--projection", "tenant_statistics"]).is_empty());
    assert_eq!(
        dead_letters(&log.workspace, &[]).len(),
        2,
        "other projections keep theirs"
    );
    assert_eq!(standings(&log.workspace)["tenant_statistics"]["parked"], 0);

    let line = log
        .workspace
        .run(&["dlq", "discard", &id])
        .assert_one_line_error();
    assert_eq!(line, format!("error: there is no dead letter {id}"));
}

#[test]
fn a_retry_succeeds_once_the_event_can_be_applied() {
    // An item added to an order before the order was created: the orders
    // read model refuses it, until the order's creation has been projected.
    let workspace = Workspace::new();
    let order = Uuid::new_v4();
    let mut item = order_event(None, order, 1, "OrderItemAdded", 1);
    item["sku"] = json!("SKU-1");
    item["name"] = json!("a widget");
    item["quantity"] = json!(2);
    item["unit_price"] = json!("3.50");
    let file = workspace.file("early.jsonl", &as_lines(&[item]));
    workspace.ok(&["import", file.to_str().unwrap()]);
    workspace.ok(&["projections", "run", "tenant_orders", "--once"]);
    let letters = dead_letters(&workspace, &[]);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0]["error"]
            .as_str()
            .unwrap()
            .contains("before it was created"),
        "{}",
        letters[0]
    );

    let mut created = order_event(None, order, 2, "OrderCreated", 2);
    created["customer_id"] = json!(Uuid::new_v4());
    created["total_amount"] = json!("7.00");
    let file = workspace.file("created.jsonl", &as_lines(&[created]));
    workspace.ok(&["import", file.to_str().unwrap()]);
    workspace.ok(&["projections", "run", "tenant_orders", "--once"]);

    let id = letters[0]["id"].to_string();
    let output = workspace.ok(&["dlq", "retry", &id, "--projection", "tenant_orders"]);
    assert!(
        output.starts_with(&format!(
            "retried dead letter {id} of tenant_orders (OrderItemAdded "
        )),
        "{output}"
    );
    assert!(output.ends_with("handled, and no longer parked\n"), "{output}");
    assert!(dead_letters(&workspace, &[]).is_empty());
    let orders: Vec<Value> =
        serde_json::from_str(&workspace.ok(&["projections", "show", "tenant_orders", "--format", "json"]))
            .unwrap();
    assert_eq!(orders[0]["value"]["lines"][0]["sku"], "SKU-1");
}

#[test]
fn unknown_dead_letters_and_projections_are_refused_in_one_line() {
    let log = poisoned_log();
    log.workspace.ok(&["projections", "run", "--once"]);

    let line = log
        .workspace
        .run(&["dlq", "retry", "999"])
        .assert_one_line_error();
    assert_eq!(line, "error: there is no dead letter 999");

    let id = dead_letters(&log.workspace, &["--projection", "tenant_orders"])[0]["id"].to_string();
    let line = log
        .workspace
        .run(&["dlq", "retry", &id, "--projection", "tenant_statistics"])
        .assert_one_line_error();
    assert_eq!(
        line,
        format!("error: projection tenant_statistics has no dead letter {id}")
    );

    let line = log
        .workspace
        .run(&["dlq", "list", "--projection", "orders"])
        .assert_one_line_error();
    assert!(
        line.starts_with("error: no projection named \"orders\" (known: "),
        "{line}"
    );

    let line = log
        .workspace
        .run(&["dlq", "discard", "x"])
        .assert_one_line_error();
    assert!(line.starts_with("error: "), "{line}");
}
