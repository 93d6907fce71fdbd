//! `projections list | run | rebuild | show` on the sample log and on logs
//! written by the tests: every order counted once, a rebuild giving the
//! same read model, live following, a graceful stop, and unknown names
//! refused in one line.

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

use crate::orders::{as_lines, documents, expected_figures, order_created, standings, statistics, BUILTIN};
use crate::support::{sample_events, sample_path, Workspace};

fn imported_sample() -> Workspace {
    let workspace = Workspace::new();
    workspace.ok(&["import", sample_path().to_str().expect("a UTF-8 path")]);
    workspace
}

#[test]
fn before_any_run_every_built_in_projection_is_listed_without_a_checkpoint() {
    let workspace = imported_sample();
    let standings = standings(&workspace);
    assert_eq!(standings.keys().collect::<Vec<_>>(), BUILTIN);
    for (name, standing) in &standings {
        assert_eq!(standing["position"], Value::Null, "{name}");
        assert_eq!(standing["lag"], 328, "{name}");
        assert_eq!(standing["events_processed"], 0, "{name}");
        assert_eq!(standing["updated_at"], Value::Null, "{name}");
    }

    let table = workspace.ok(&["projections", "list"]);
    assert!(
        BUILTIN.iter().all(|name| table.contains(name)) && table.contains("never"),
        "{table}"
    );
}

#[test]
fn running_once_over_the_sample_counts_every_order_once_per_tenant() {
    let workspace = imported_sample();
    let output = workspace.ok(&["projections", "run", "--once"]);
    for name in BUILTIN {
        assert!(
            output.contains(&format!("{name}: caught up at position 328: ")),
            "{output}"
        );
    }

    for (name, standing) in standings(&workspace) {
        let keys: Vec<&String> = standing.as_object().expect("an object").keys().collect();
        assert_eq!(
            keys,
            [
                "name",
                "position",
                "lag",
                "events_processed",
                "parked",
                "updated_at"
            ]
        );
        assert_eq!(standing["position"], 328, "{name}");
        assert_eq!(standing["lag"], 0, "{name}");
        assert_eq!(standing["parked"], 0, "{name}");
        assert!(standing["updated_at"].is_string(), "{name}");
    }
    assert_eq!(statistics(&workspace), expected_figures(&sample_events()));
}

#[test]
fn running_again_when_caught_up_changes_nothing() {
    let workspace = imported_sample();
    workspace.ok(&["projections", "run", "--once"]);
    let before = documents(&workspace, "tenant_statistics");

    let output = workspace.ok(&["projections", "run", "tenant_statistics", "--once"]);
    assert_eq!(
        output,
        "tenant_statistics: caught up at position 328: 0 handled, 0 parked\n"
    );
    assert_eq!(documents(&workspace, "tenant_statistics"), before);
}

#[test]
fn rebuilding_tenant_statistics_gives_identical_documents() {
    let workspace = imported_sample();
    workspace.ok(&["projections", "run", "--once"]);
    let before = documents(&workspace, "tenant_statistics");
    assert_eq!(before.len(), 4, "three tenants and orders without a tenant");

    let output = workspace.ok(&["projections", "rebuild", "tenant_statistics"]);
    let orders_and_shipments = sample_events()
        .iter()
        .filter(|event| event["event_type"] == "OrderCreated" || event["event_type"] == "OrderShipped")
        .count();
    assert_eq!(
        output,
        format!("rebuilt tenant_statistics: {orders_and_shipments} handled, 0 parked, checkpoint at position 328\n")
    );
    assert_eq!(documents(&workspace, "tenant_statistics"), before);
    assert_eq!(standings(&workspace)["tenant_statistics"]["lag"], 0);
}

#[test]
fn show_filters_documents_by_tenant() {
    let workspace = imported_sample();
    workspace.ok(&["projections", "run", "tenant_statistics", "--once"]);
    let tenant = "6513270e-269e-4d37-b2a7-4de452e6b438";

    let output = workspace.ok(&[
        "projections",
        "show",
        "tenant_statistics",
        "--tenant",
        tenant,
        "--format",
        "json",
    ]);
    let shown: Vec<Value> = serde_json::from_str(&output).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["tenant_id"], tenant);
    assert_eq!(shown[0]["key"], tenant);

    let output = workspace.ok(&[
        "projections",
        "show",
        "tenant_statistics",
        "--tenant",
        "none",
        "--format",
        "json",
    ]);
    let shown: Vec<Value> = serde_json::from_str(&output).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["tenant_id"], Value::Null);

    let table = workspace.ok(&["projections", "show", "tenant_statistics"]);
    assert!(table.contains("order_count") && table.contains(tenant), "{table}");
}

#[test]
fn an_unknown_projection_name_is_refused_in_one_line_naming_the_valid_ones() {
    let workspace = Workspace::new();
    let line = workspace
        .run(&["projections", "run", "orders"])
        .assert_one_line_error();
    assert_eq!(
        line,
        "error: no built-in projection named \"orders\" (the built-in projections are \
         order_summaries, tenant_orders, tenant_statistics)"
    );
    assert!(
        !workspace.path("events.db").exists(),
        "a misspelt name creates no database"
    );

    let line = workspace
        .run(&["projections", "rebuild", "orders"])
        .assert_one_line_error();
    assert!(
        line.starts_with("error: no built-in projection named \"orders\""),
        "{line}"
    );

    let line = workspace
        .run(&["projections", "show", "orders"])
        .assert_one_line_error();
    assert!(
        line.starts_with("error: no projection named \"orders\" (known: order_summaries, "),
        "{line}"
    );
}

/// Polls `projections list` until every built-in projection stands at
/// `position`.
fn wait_until_all_at(workspace: &Workspace, position: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let standings = standings(workspace);
        if standings
            .values()
            .all(|standing| standing["position"] == position)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the projections did not reach {position}: {standings:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_running_projection_follows_new_events_and_stops_gracefully_on_sigterm() {
    let workspace = imported_sample();
    let runner = workspace.spawn(&["projections", "run"]);
    wait_until_all_at(&workspace, 328);

    let tenant = Uuid::new_v4();
    let later: Vec<Value> = (0..5)
        .map(|i| order_created(Some(tenant), json!(format!("{}.25", 10 + i)), i))
        .collect();
    let file = workspace.file("later.jsonl", &as_lines(&later));
    workspace.ok(&["import", file.to_str().unwrap()]);
    wait_until_all_at(&workspace, 333);
    assert_eq!(
        statistics(&workspace)[&tenant.to_string()],
        expected_figures(&later)[&tenant.to_string()]
    );

    let status = Command::new("kill")
        .args(["-TERM", &runner.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = runner.wait_with_output().expect("the runner ends");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "stopped with {:?}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for name in BUILTIN {
        assert!(
            stdout.contains(&format!("{name}: caught up at position 328: ")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("{name}: stopped at position 333: ")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("tenant_statistics: stopped at position 333: 147 handled, 0 parked in this run"));
}

#[test]
fn without_a_terminal_no_progress_bar_is_drawn() {
    let workspace = imported_sample();
    let mut child = workspace.spawn(&["projections", "run", "--once"]);
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(stderr, "", "progress bars are for terminals only");
}

#[test]
fn an_interrupt_while_catching_up_finishes_the_batch_under_way_and_saves_its_checkpoint() {
    let workspace = Workspace::new();
    let tenant = Uuid::new_v4();
    let orders: Vec<Value> = (0..2_000)
        .map(|i| order_created(Some(tenant), json!("1.00"), i))
        .collect();
    let file = workspace.file("orders.jsonl", &as_lines(&orders));
    workspace.ok(&["import", file.to_str().unwrap()]);

    let runner = workspace.spawn(&["projections", "run", "--batch-size", "5"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while standings(&workspace)
        .values()
        .all(|standing| standing["position"].is_null())
    {
        assert!(Instant::now() < deadline, "the runner never committed a batch");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .args(["-INT", &runner.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = runner.wait_with_output().expect("the runner ends");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "stopped with {:?}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );

    let standings = standings(&workspace);
    for name in BUILTIN {
        let position = standings[name]["position"].as_u64().unwrap_or(0);
        assert!(position < 2_000, "{name} had caught up before the interrupt");
        let said = if position == 0 {
            format!("{name}: stopped at the start before catching up: 0 handled, 0 parked in this run")
        } else {
            format!(
                "{name}: stopped at position {position} before catching up: {position} handled, 0 parked in this run"
            )
        };
        assert!(
            stdout.lines().any(|line| line == said),
            "the summary names the saved checkpoint {position} of {name}: {stdout}"
        );
    }
    let counted = statistics(&workspace)
        .get(&tenant.to_string())
        .map_or(0, |figures| figures.orders);
    assert_eq!(
        Some(counted),
        standings["tenant_statistics"]["position"].as_u64().or(Some(0)),
        "every order up to the checkpoint counted, none after it"
    );
}

/// Writes a document and a checkpoint of a projection that some other
/// program runs, straight through the library.
fn checkpoint_a_projection_of_another_program(workspace: &Workspace) {
    use eventsource::projection::ProjectionStore;
    use eventsource_sqlite::{SqliteEventStore, SqliteProjectionStore};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let events = SqliteEventStore::open(workspace.database_url()).await.unwrap();
        let models = SqliteProjectionStore::new(&events);
        let mut tx = models.begin("invoices").await.unwrap();
        tx.put(None, "count", &json!({"invoices": 7})).await.unwrap();
        tx.advance_checkpoint(300, 12).await.unwrap();
        tx.commit().await.unwrap();
    });
}

#[test]
fn another_programs_projection_is_listed_and_shown_but_not_run() {
    let workspace = imported_sample();
    checkpoint_a_projection_of_another_program(&workspace);

    let listed: Vec<Value> =
        serde_json::from_str(&workspace.ok(&["projections", "list", "--format", "json"])).unwrap();
    let names: Vec<&str> = listed
        .iter()
        .map(|entry| entry["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "order_summaries",
            "tenant_orders",
            "tenant_statistics",
            "invoices"
        ],
        "the built-in projections first"
    );
    let standings = standings(&workspace);
    assert_eq!(standings["invoices"]["position"], 300);
    assert_eq!(standings["invoices"]["lag"], 28);
    assert_eq!(standings["invoices"]["events_processed"], 12);

    assert_eq!(
        documents(&workspace, "invoices"),
        [json!({"tenant_id": null, "key": "count", "value": {"invoices": 7}})]
    );
    let line = workspace
        .run(&["projections", "run", "invoices"])
        .assert_one_line_error();
    assert!(
        line.starts_with("error: no built-in projection named \"invoices\""),
        "{line}"
    );
}
