//! Imports that stop part-way, and running them again.

use serde_json::Value;
use uuid::Uuid;

use crate::support::{sample_path, sample_text, Workspace};

fn sample_lines() -> Vec<String> {
    sample_text().lines().map(str::to_owned).collect()
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// `line` with one field replaced, keeping everything else as written.
fn with_field(line: &str, field: &str, value: Value) -> String {
    let mut event: serde_json::Map<String, Value> = serde_json::from_str(line).expect("a JSON object");
    event.insert(field.to_owned(), value);
    Value::Object(event).to_string()
}

#[test]
fn a_malformed_line_stops_the_import_there_and_fixing_it_completes_the_import() {
    let workspace = Workspace::new();
    let mut lines = sample_lines();
    let good_line = lines[99].clone();
    lines[99] = with_field(&good_line, "aggregate_id", Value::from("not-a-uuid"));
    let file = workspace.file("broken.jsonl", &joined(&lines));

    let run = workspace.run(&["import", file.to_str().unwrap()]);
    assert!(!run.success, "the import must fail");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.stderr.contains("line 100: field `aggregate_id`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("imported 99 events, 0 already present"),
        "{}",
        run.stderr
    );
    assert_eq!(
        workspace.total(),
        99,
        "every event before the bad line is stored, none after it"
    );

    lines[99] = good_line;
    let file = workspace.file("fixed.jsonl", &joined(&lines));
    let output = workspace.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(output.trim(), "imported 229 events, 99 already present");
    assert_eq!(workspace.total(), 328);
    assert_eq!(
        workspace.ok(&["export"]),
        sample_text(),
        "no duplicates, in the file's order"
    );
}

#[test]
fn a_line_that_is_not_json_is_named() {
    let workspace = Workspace::new();
    let lines = sample_lines();
    let file = workspace.file(
        "garbage.jsonl",
        &format!("{}\n{{\"event_id\": \n{}\n", lines[0], lines[1]),
    );

    let run = workspace.run(&["import", file.to_str().unwrap()]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("error: line 2: not valid JSON"),
        "{}",
        run.stderr
    );
    assert_eq!(workspace.total(), 1);
}

#[test]
fn a_version_taken_in_the_store_is_reported_at_its_line_and_earlier_lines_are_stored() {
    let workspace = Workspace::new();
    workspace.ok(&["import", sample_path().to_str().unwrap()]);
    let lines = sample_lines();

    // Two new streams, then an event that claims version 2 of a stored
    // order under a new id, then one more new stream.
    let new_stream = |line: &str| {
        let line = with_field(line, "event_id", Value::from(Uuid::new_v4().to_string()));
        with_field(&line, "aggregate_id", Value::from(Uuid::new_v4().to_string()))
    };
    let conflicting = with_field(&lines[2], "event_id", Value::from(Uuid::new_v4().to_string()));
    let file = workspace.file(
        "conflict.jsonl",
        &joined(&[
            new_stream(&lines[0]),
            new_stream(&lines[1]),
            conflicting,
            new_stream(&lines[0]),
        ]),
    );

    let run = workspace.run(&["import", file.to_str().unwrap()]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("error: line 3: field `aggregate_version`: version 2 of Order"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("already taken"), "{}", run.stderr);
    assert_eq!(
        workspace.total(),
        330,
        "the two lines before the conflict are stored, the one after is not"
    );
}

#[test]
fn a_version_gap_inside_the_file_names_both_lines() {
    let workspace = Workspace::new();
    let mut lines = sample_lines();
    // Lines 2 and 3 are versions 1 and 2 of one order.
    lines[2] = with_field(&lines[2], "aggregate_version", Value::from(3));
    let file = workspace.file("gap.jsonl", &joined(&lines[..4]));

    let run = workspace.run(&["import", file.to_str().unwrap()]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("line 3: field `aggregate_version`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("from version 1 (line 2) to 3"),
        "{}",
        run.stderr
    );
    assert_eq!(workspace.total(), 2);
}

#[test]
fn an_event_repeated_in_the_file_and_blank_lines_are_skipped() {
    let workspace = Workspace::new();
    let mut lines = sample_lines();
    lines.insert(5, lines[4].clone());
    lines.insert(0, String::new());
    lines.push("   ".to_owned());
    let file = workspace.file("repeated.jsonl", &joined(&lines));

    let output = workspace.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(output.trim(), "imported 328 events, 1 already present");
    assert_eq!(workspace.ok(&["export"]), sample_text());
}

#[test]
fn a_file_larger_than_one_batch_is_imported_in_order() {
    // 2,500 events in 2,500 streams of one event each: three batches.
    let workspace = Workspace::new();
    let template = &sample_lines()[0];
    let lines: Vec<String> = (0..2_500)
        .map(|_| {
            let line = with_field(template, "event_id", Value::from(Uuid::new_v4().to_string()));
            with_field(&line, "aggregate_id", Value::from(Uuid::new_v4().to_string()))
        })
        .collect();
    let file = workspace.file("large.jsonl", &joined(&lines));

    let output = workspace.ok(&["import", file.to_str().unwrap()]);
    assert_eq!(output.trim(), "imported 2500 events, 0 already present");
    assert_eq!(workspace.ok(&["export"]), joined(&lines));
}

#[test]
fn a_different_event_under_an_id_used_earlier_in_the_file_stops_the_import_at_its_line() {
    let workspace = Workspace::new();
    let lines = sample_lines();
    let first: Value = serde_json::from_str(&lines[0]).unwrap();
    // Line 3 reuses line 1's id for another event (a new stream of its own).
    let impostor = with_field(&lines[2], "event_id", first["event_id"].clone());
    let impostor = with_field(&impostor, "aggregate_id", Value::from(Uuid::new_v4().to_string()));
    let impostor = with_field(&impostor, "aggregate_version", Value::from(1));
    let file = workspace.file(
        "reused.jsonl",
        &joined(&[lines[0].clone(), lines[1].clone(), impostor]),
    );

    let run = workspace.run(&["import", file.to_str().unwrap()]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("line 3: field `event_id`") && run.stderr.contains("line 1"),
        "{}",
        run.stderr
    );
    assert_eq!(workspace.total(), 2, "the lines before it are stored");
}

#[test]
fn a_different_event_under_an_id_already_stored_is_refused_not_skipped() {
    let workspace = Workspace::new();
    let lines = sample_lines();
    let first = workspace.file("first.jsonl", &joined(&lines[..1]));
    workspace.ok(&["import", first.to_str().unwrap()]);

    let stored: Value = serde_json::from_str(&lines[0]).unwrap();
    let changed = with_field(&lines[0], "actor_id", Value::from("user:someone-else"));
    let file = workspace.file(
        "second.jsonl",
        &joined(&[lines[1].clone(), lines[2].clone(), changed, lines[3].clone()]),
    );
    let run = workspace.run(&["import", file.to_str().unwrap()]);
    assert!(!run.success, "a changed event must not pass as already present");
    assert!(run.stderr.contains("line 3: field `event_id`"), "{}", run.stderr);
    assert!(
        run.stderr.contains(stored["event_id"].as_str().unwrap()),
        "{}",
        run.stderr
    );
    assert_eq!(
        workspace.total(),
        3,
        "lines 1 and 2 are stored, nothing after line 3"
    );

    // The identical event is still recognised as already present.
    let again = workspace.file("again.jsonl", &joined(&lines[..2]));
    let output = workspace.ok(&["import", again.to_str().unwrap()]);
    assert_eq!(output.trim(), "imported 0 events, 2 already present");
}
