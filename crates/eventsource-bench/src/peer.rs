//! The Python reference library on the same workloads: `bench/peer/run.py`
//! runs in the reference's virtual environment and prints one JSON
//! measurement per line on stdout (its progress goes to stderr).

use std::path::Path;
use std::process::Stdio;

use anyhow::Context as _;

use crate::backend::BackendKind;
use crate::measure::{Measurement, Subject};
use crate::scale::Scale;

/// Runs the Python side and collects its measurements.
pub async fn run(
    python: &Path,
    scale: &Scale,
    backends: &[BackendKind],
    workloads: &[String],
    repeat: usize,
    postgres: &str,
    dataset: Option<&Path>,
) -> anyhow::Result<Vec<Measurement>> {
    anyhow::ensure!(
        python.exists(),
        "{} is missing: run bench/peer/setup.sh first",
        python.display()
    );
    let names: Vec<&str> = backends.iter().map(|b| b.name()).collect();
    let mut command = tokio::process::Command::new(python);
    command
        .arg("bench/peer/run.py")
        .arg("--scale")
        .arg(scale.name)
        .arg("--backend")
        .arg(names.join(","))
        .arg("--workload")
        .arg(workloads.join(","))
        .arg("--repeat")
        .arg(repeat.to_string())
        .arg("--postgres")
        .arg(postgres)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(dataset) = dataset {
        command.arg("--dataset").arg(dataset);
    }
    // `output()` would capture stderr too; spawning keeps the progress on
    // this process's stderr.
    let child = command.spawn().context("cannot run the Python side")?;
    let output = child.wait_with_output().await?;
    anyhow::ensure!(
        output.status.success(),
        "bench/peer/run.py failed: {}",
        output.status
    );

    let mut measurements = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut measurement: Measurement =
            serde_json::from_str(line).with_context(|| format!("not a measurement: {line}"))?;
        measurement.subject = Subject::Python;
        measurements.push(measurement);
    }
    Ok(measurements)
}
