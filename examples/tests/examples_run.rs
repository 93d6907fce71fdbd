//! Every example runs to completion and shows what it promises.
//!
//! `cargo test` (and nextest) build a package's examples before its tests;
//! they land in the `examples` folder beside the test binary's `deps`.

use std::path::PathBuf;
use std::process::Command;

fn run_example(name: &str) -> String {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary sits in <target>/<profile>/deps");
    let example: PathBuf = profile_dir.join("examples").join(name);
    assert!(
        example.exists(),
        "{} is not built; run the tests through cargo",
        example.display()
    );

    let output = Command::new(&example).output().expect("the example runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    stdout
}

#[test]
fn the_multi_tenant_guide_lists_each_tenants_events_and_verifies_isolation() {
    let output = run_example("multi_tenant_guide");
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
}

#[test]
fn the_order_example_hides_the_order_from_another_tenant_and_refuses_a_stale_copy() {
    let output = run_example("order_tenant_repository");
    assert!(
        output.contains("Loaded: 2 items, total 194.48, version 3\n"),
        "{output}"
    );
    assert!(
        output.contains(r#""total_amount":"5.00""#),
        "amounts are stored as strings: {output}"
    );
    assert!(
        output.contains("Globex loading Acme's order: not found\n"),
        "{output}"
    );
    assert!(
        output.contains("Stale copy refused: expected version 3, actual version 4\n"),
        "{output}"
    );
    assert!(output.contains("Shipped with 3 items, total 201.98"), "{output}");
}
