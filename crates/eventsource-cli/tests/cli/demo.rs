//! `migrate` and `demo` on real stores.

use crate::support::Workspace;

#[test]
fn migrating_twice_is_harmless() {
    let workspace = Workspace::new();
    for _ in 0..2 {
        let output = workspace.ok(&["migrate"]);
        assert!(output.starts_with("migrated sqlite://"), "{output}");
    }
    assert!(workspace.path("events.db").exists());
    assert_eq!(workspace.total(), 0);
}

#[test]
fn the_demo_runs_on_an_sqlite_file_and_stores_its_events_there() {
    let workspace = Workspace::new();
    let output = workspace.ok(&["demo"]);

    assert!(
        output.starts_with("=== Multi-Tenant Event Sourcing Demo ===\n"),
        "{output}"
    );
    assert!(output.contains("Tenant A events: 3\n"), "{output}");
    assert!(output.contains("Tenant B events: 2\n"), "{output}");
    assert!(output.contains("Total events in store: 5\n"), "{output}");
    assert!(
        output.contains("Isolation: Tenant B cannot load Tenant A's task: not found\n"),
        "{output}"
    );
    assert!(
        output.trim_end().ends_with("Tenant isolation verified"),
        "{output}"
    );

    let stats = workspace.stats();
    assert_eq!(stats["total"], 5);
    let events: Vec<u64> = stats["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["events"].as_u64().unwrap())
        .collect();
    assert_eq!(events.iter().sum::<u64>(), 5);
    assert!(events.contains(&3) && events.contains(&2), "{events:?}");
}

#[test]
fn the_demo_runs_on_an_in_memory_database() {
    let output = Workspace::new()
        .run_on("sqlite::memory:", &["demo"])
        .assert_success()
        .stdout;
    assert!(output.contains("Total events in store: 5\n"), "{output}");
    assert!(
        output.contains("Isolation: Tenant B cannot load Tenant A's task: not found\n"),
        "{output}"
    );
}

#[test]
fn without_a_database_option_the_store_is_eventsource_db_in_the_current_folder() {
    let workspace = Workspace::new();
    let output = workspace.command().arg("migrate").output().unwrap();
    assert!(output.status.success());
    assert!(workspace.path("eventsource.db").exists());

    let output = workspace
        .command()
        .env("EVENTSOURCE_DATABASE_URL", workspace.database_url())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        workspace.path("events.db").exists(),
        "the environment names the database too"
    );
}
