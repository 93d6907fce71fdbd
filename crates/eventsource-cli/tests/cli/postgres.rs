//! The same commands against PostgreSQL: each test gets a database of its
//! own, created with `psql` on the server named by
//! `EVENTSOURCE_TEST_POSTGRES_URL` and dropped afterwards. A missing server
//! fails the test (it is never skipped).

use std::process::Command;

use serde_json::Value;

use crate::support::{sample_path, sample_text, Workspace};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh database, dropped when this value is dropped.
struct Database {
    name: String,
    admin_url: String,
}

impl Database {
    fn create() -> Self {
        let admin_url =
            std::env::var("EVENTSOURCE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let name = format!("eventsource_cli_{}", uuid::Uuid::new_v4().simple());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        Self { name, admin_url }
    }

    fn url(&self) -> String {
        let (server, _) = self
            .admin_url
            .rsplit_once('/')
            .expect("a database URL ends in /DATABASE");
        format!("{server}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql runs (the PostgreSQL client is needed for these tests)");
    assert!(
        output.status.success(),
        "psql failed on {sql:?}: {}\nIs PostgreSQL running? Start it with \
         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("the command prints JSON")
}

#[test]
fn the_sample_gives_the_same_figures_on_postgres_as_on_sqlite() {
    let database = Database::create();
    let postgres = database.url();
    let workspace = Workspace::new();
    let sample = sample_path();
    let sample = sample.to_str().expect("a UTF-8 path");

    let imported = workspace
        .run_on(&postgres, &["import", sample])
        .assert_success()
        .stdout;
    assert_eq!(imported.trim(), "imported 328 events, 0 already present");
    workspace.ok(&["import", sample]);

    for args in [
        vec!["stats", "--format", "json"],
        vec![
            "audit",
            "--tenant",
            "d23f0824-128b-4f33-8c5c-7fd0a6a3a450",
            "--format",
            "json",
        ],
        vec![
            "events",
            "--tenant",
            "none",
            "--aggregate-type",
            "Order",
            "--since",
            "2026-02-01T00:00:00Z",
            "--until",
            "2026-03-01T00:00:00Z",
            "--format",
            "json",
        ],
    ] {
        let on_postgres = json(&workspace.run_on(&postgres, &args).assert_success().stdout);
        let on_sqlite = json(&workspace.ok(&args));
        assert_eq!(on_postgres, on_sqlite, "{args:?}");
    }
    let exported = workspace.run_on(&postgres, &["export"]).assert_success().stdout;
    assert_eq!(
        exported,
        sample_text(),
        "the export reproduces the log byte for byte"
    );

    let again = workspace
        .run_on(&postgres, &["import", sample])
        .assert_success()
        .stdout;
    assert_eq!(again.trim(), "imported 0 events, 328 already present");
}

#[test]
fn the_demo_and_the_projections_run_on_postgres() {
    let database = Database::create();
    let postgres = database.url();
    let workspace = Workspace::new();

    workspace.run_on(&postgres, &["migrate"]).assert_success();
    workspace.run_on(&postgres, &["migrate"]).assert_success();
    let demo = workspace.run_on(&postgres, &["demo"]).assert_success().stdout;
    assert!(demo.contains("isolation"), "{demo}");

    let sample = sample_path();
    workspace
        .run_on(&postgres, &["import", sample.to_str().unwrap()])
        .assert_success();
    workspace
        .run_on(&postgres, &["projections", "run", "--once"])
        .assert_success();
    let listed = json(
        &workspace
            .run_on(&postgres, &["projections", "list", "--format", "json"])
            .assert_success()
            .stdout,
    );
    let head = json(
        &workspace
            .run_on(&postgres, &["stats", "--format", "json"])
            .assert_success()
            .stdout,
    )["total"]
        .as_u64()
        .unwrap();
    for projection in listed.as_array().expect("a JSON array") {
        assert_eq!(projection["lag"], 0, "{projection}");
        assert_eq!(projection["parked"], 0, "{projection}");
        assert!(projection["position"].as_u64().unwrap() >= head, "{projection}");
    }
}

#[test]
fn an_unreachable_postgres_server_is_reported_in_one_line() {
    let line = Workspace::new()
        .run_on("postgres://app:secret@127.0.0.1:1/events", &["stats"])
        .assert_one_line_error();
    assert!(
        line.starts_with("error: cannot open postgres://app:***@127.0.0.1:1/events"),
        "{line}"
    );
    assert!(!line.contains("secret"), "{line}");
}
