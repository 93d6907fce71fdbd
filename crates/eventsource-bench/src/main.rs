//! `bench`: runs the whole-workload benchmarks (W1–W5) on our stores, the
//! raw-SQL ceilings and the Python reference library, and prints the ratio
//! table.
//!
//! ```text
//! cargo run --release -p eventsource-bench -- --scale full \
//!     --backend memory,sqlite,postgres --workload W1,W2,W3,W4,W5
//! ```
//!
//! Every PostgreSQL figure is taken on a database of its own, created for the
//! run and dropped after it; every SQLite figure on a file in a temporary
//! folder under `target/bench-data/`.

mod backend;
mod ceiling;
mod dataset;
mod domain;
mod measure;
mod peer;
mod report;
mod scale;
mod workloads;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Parser;

use crate::backend::{BackendKind, Environment};
use crate::measure::Measurement;
use crate::scale::Scale;

/// Runs W1–W5 on our stores, the raw-SQL ceilings and the Python reference.
#[derive(Parser, Debug)]
#[command(name = "bench")]
struct Arguments {
    /// `small` for a smoke test of a few seconds a workload, `full` for the
    /// sizes of the benchmark's definition.
    #[arg(long, default_value = "small")]
    scale: String,

    /// Backends to run, comma-separated: memory, sqlite, postgres.
    #[arg(long, value_delimiter = ',', default_value = "memory,sqlite,postgres")]
    backend: Vec<String>,

    /// Workloads to run, comma-separated: W1 … W5.
    #[arg(long, value_delimiter = ',', default_value = "W1,W2,W3,W4,W5")]
    workload: Vec<String>,

    /// How many times each workload runs; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,

    /// The PostgreSQL server, as a URL naming a role that may create
    /// databases; each run creates and drops a database of its own there.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,

    /// Skip the Python reference library.
    #[arg(long)]
    no_python: bool,

    /// The Python interpreter of the reference's virtual environment.
    #[arg(long, default_value = "bench/peer/.venv/bin/python")]
    python: PathBuf,

    /// The `eventsource` CLI binary that W5 runs.
    #[arg(long, default_value = "target/release/eventsource")]
    cli: PathBuf,

    /// Where generated data sets and temporary databases go.
    #[arg(long, default_value = "target/bench-data")]
    data_dir: PathBuf,

    /// Writes the report (Markdown) here as well as to stdout.
    #[arg(long)]
    output: Option<PathBuf>,

    /// Internal: imports a JSON Lines file into the database at this URL
    /// through the library's import path, and exits (W5's stand-in, run as
    /// a child process so its peak memory is its own).
    #[arg(long, value_names = ["URL", "FILE"], num_args = 2, hide = true)]
    import_into: Option<Vec<String>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    if let Some(target) = &arguments.import_into {
        let imported =
            workloads::import::library_import(&target[0], std::path::Path::new(&target[1])).await?;
        println!("imported {imported} events, 0 already present");
        return Ok(());
    }
    let scale = Scale::named(&arguments.scale)?;
    let backends = arguments
        .backend
        .iter()
        .map(|name| BackendKind::parse(name))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let workloads: Vec<String> = arguments.workload.iter().map(|w| w.to_uppercase()).collect();
    for workload in &workloads {
        if !["W1", "W2", "W3", "W4", "W5"].contains(&workload.as_str()) {
            bail!("unknown workload {workload:?} (W1 … W5)");
        }
    }
    let repeat = arguments.repeat.max(1);

    let started = Instant::now();
    let environment = Environment::new(&arguments.postgres, &arguments.data_dir).await?;
    let mut measurements: Vec<Measurement> = Vec::new();

    let wants = |w: &str| workloads.iter().any(|x| x == w);
    if wants("W1") || wants("W2") {
        for &kind in &backends {
            measurements.extend(
                workloads::append_and_load::run(&environment, kind, &scale, repeat, wants("W1"), wants("W2"))
                    .await
                    .with_context(|| format!("W1/W2 on {kind}"))?,
            );
        }
    }
    let needs_dataset = wants("W3") || wants("W4") || wants("W5") || !arguments.no_python;
    let dataset = if needs_dataset {
        Some(dataset::Dataset::prepare(&arguments.data_dir, &scale).await?)
    } else {
        None
    };
    if let Some(dataset) = &dataset {
        if wants("W3") || wants("W4") {
            for &kind in &backends {
                measurements.extend(
                    workloads::query_and_project::run(
                        &environment,
                        kind,
                        dataset,
                        repeat,
                        wants("W3"),
                        wants("W4"),
                    )
                    .await
                    .with_context(|| format!("W3/W4 on {kind}"))?,
                );
            }
        }
        if wants("W5") {
            measurements.extend(
                workloads::import::run(&environment, &backends, dataset, repeat, &arguments.cli)
                    .await
                    .context("W5")?,
            );
        }
    }
    if !arguments.no_python {
        let dataset_path = dataset.as_ref().map(|d| d.jsonl.clone());
        measurements.extend(
            peer::run(
                &arguments.python,
                &scale,
                &backends,
                &workloads,
                repeat,
                &arguments.postgres,
                dataset_path.as_deref(),
            )
            .await
            .context("the Python reference")?,
        );
    }

    let wall = started.elapsed();
    let report = report::render(&measurements, &scale, &arguments_line(), wall);
    println!("{report}");
    if let Some(path) = &arguments.output {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, &report).with_context(|| format!("cannot write {}", path.display()))?;
        let json = serde_json::to_string_pretty(&measurements)?;
        std::fs::write(path.with_extension("json"), json)?;
    }
    Ok(())
}

/// The command line as run, for the report.
fn arguments_line() -> String {
    let mut line = String::from("bench");
    for argument in std::env::args().skip(1) {
        line.push(' ');
        line.push_str(&argument);
    }
    line
}
