//! Bad input ends in one clear line on stderr and a non-zero exit code.

use crate::support::Workspace;

#[test]
fn a_tenant_that_is_not_a_uuid_is_refused_in_one_line() {
    let line = Workspace::new()
        .run(&["events", "--tenant", "xyz"])
        .assert_one_line_error();
    assert_eq!(line, r#"error: --tenant: "xyz" is not a UUID (or "none")"#);
}

#[test]
fn a_timestamp_that_is_not_rfc_3339_is_refused_in_one_line() {
    let line = Workspace::new()
        .run(&["events", "--tenant", "none", "--since", "yesterday"])
        .assert_one_line_error();
    assert!(
        line.starts_with(r#"error: --since: "yesterday" is not an RFC 3339 timestamp"#),
        "{line}"
    );

    let line = Workspace::new()
        .run(&["events", "--tenant", "none", "--until", "2026-02-01T00:00:00"])
        .assert_one_line_error();
    assert!(
        line.starts_with("error: --until:"),
        "a timestamp without a zone is ambiguous: {line}"
    );
}

#[test]
fn a_database_url_of_an_unknown_kind_is_refused_in_one_line() {
    let workspace = Workspace::new();
    let line = workspace
        .run_on("mysql://localhost/events", &["stats"])
        .assert_one_line_error();
    assert!(
        line.starts_with(r#"error: --database: "mysql://localhost/events" is not a database URL"#),
        "{line}"
    );

    let mut command = workspace.command();
    let output = command
        .env("EVENTSOURCE_DATABASE_URL", "nonsense")
        .arg("stats")
        .output()
        .unwrap();
    let line = crate::support::Run::from(output).assert_one_line_error();
    assert!(
        line.contains(r#""nonsense" is not a database URL"#),
        "the environment is checked too: {line}"
    );
}

#[test]
fn a_missing_import_file_is_refused_in_one_line_before_the_database_is_created() {
    let workspace = Workspace::new();
    let line = workspace
        .run(&["import", "missing.jsonl"])
        .assert_one_line_error();
    assert!(line.starts_with("error: cannot read missing.jsonl:"), "{line}");
    assert!(
        !workspace.path("events.db").exists(),
        "no database is created for nothing"
    );
}

#[test]
fn an_unreachable_database_is_reported_in_one_line() {
    let workspace = Workspace::new();
    let url = format!(
        "sqlite://{}",
        workspace.path("no-such-folder/events.db").display()
    );
    let line = workspace.run_on(&url, &["stats"]).assert_one_line_error();
    assert!(line.starts_with(&format!("error: cannot open {url}:")), "{line}");
}

#[test]
fn a_limit_that_is_not_a_number_is_refused_in_one_line() {
    let line = Workspace::new()
        .run(&["events", "--tenant", "none", "--limit", "many"])
        .assert_one_line_error();
    assert_eq!(line, r#"error: --limit: "many" is not a whole number of events"#);
}
