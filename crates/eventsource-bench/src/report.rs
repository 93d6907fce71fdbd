//! The ratio table: ours against the Python reference and the raw-SQL
//! ceiling, each target and whether it is met; then every figure with its
//! scale, runs and notes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::{Measurement, Subject};
use crate::scale::Scale;

/// One row of the ratio table.
#[derive(Default)]
struct Row<'a> {
    ours: Option<&'a Measurement>,
    python: Option<&'a Measurement>,
    ceiling: Option<&'a Measurement>,
}

/// A target's verdict.
struct Verdict {
    target: &'static str,
    met: Option<bool>,
}

/// Renders the report as Markdown.
pub fn render(measurements: &[Measurement], scale: &Scale, command: &str, wall: Duration) -> String {
    let mut rows: BTreeMap<(String, String, u8, String), Row<'_>> = BTreeMap::new();
    for measurement in measurements {
        let key = (
            measurement.workload.clone(),
            measurement.case.clone(),
            backend_order(&measurement.backend),
            measurement.backend.clone(),
        );
        let row = rows.entry(key).or_default();
        match measurement.subject {
            Subject::Ours => row.ours = Some(measurement),
            Subject::Python => row.python = Some(measurement),
            Subject::Ceiling => row.ceiling = Some(measurement),
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "# Benchmark results ({} scale)\n", scale.name);
    let _ = writeln!(
        out,
        "Command: `{command}`; wall time {:.0} s.\n",
        wall.as_secs_f64()
    );
    out.push_str(
        "Each figure is the median of its runs. Ours/Python is how many times faster ours is \
         (rate ratio, or latency ratio inverted); ours/ceiling is ours as a share of the raw-SQL \
         (or plain-read) ceiling. Python ran at the scale its own line in the details states.\n\n",
    );
    out.push_str("| workload | case | backend | ours | Python | ceiling | ours/Python | ours/ceiling | target | met? |\n");
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---|---|\n");
    for ((workload, case, _, backend), row) in &rows {
        let verdict = verdict(workload, case, backend, row, &rows);
        let _ = writeln!(
            out,
            "| {workload} | {case} | {backend} | {} | {} | {} | {} | {} | {} | {} |",
            figure(row.ours),
            figure(row.python),
            figure(row.ceiling),
            speedup(row.ours, row.python),
            share(row.ours, row.ceiling),
            verdict.target,
            match verdict.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            }
        );
    }

    out.push_str("\n## Every figure\n\n| workload | case | backend | who | median | runs | scale | note |\n");
    out.push_str("|---|---|---|---|---:|---|---|---|\n");
    for ((_, _, _, _), row) in &rows {
        for measurement in [row.ours, row.python, row.ceiling].into_iter().flatten() {
            let runs: Vec<String> = measurement
                .runs
                .iter()
                .map(|v| compact(*v, &measurement.unit))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                measurement.workload,
                measurement.case,
                measurement.backend,
                match measurement.subject {
                    Subject::Ours => "ours",
                    Subject::Python => "Python",
                    Subject::Ceiling => "ceiling",
                },
                figure(Some(measurement)),
                runs.join(", "),
                measurement.scale,
                measurement.note.as_deref().unwrap_or(""),
            );
        }
    }
    out
}

fn backend_order(backend: &str) -> u8 {
    match backend {
        "memory" => 0,
        "sqlite" => 1,
        _ => 2,
    }
}

fn available(measurement: Option<&Measurement>) -> Option<&Measurement> {
    measurement.filter(|m| m.value.is_finite())
}

fn figure(measurement: Option<&Measurement>) -> String {
    match measurement {
        None => "–".to_owned(),
        Some(m) if !m.value.is_finite() => match m.note.as_deref() {
            Some(note) if note.starts_with("not run") => "not run".to_owned(),
            _ => "pending".to_owned(),
        },
        Some(m) => format!("{} {}", compact(m.value, &m.unit), m.unit),
    }
}

/// A value without its unit, to a sensible precision.
fn compact(value: f64, unit: &str) -> String {
    match unit {
        "ms" if value < 10.0 => format!("{value:.3}"),
        "ms" => format!("{value:.1}"),
        "MB" => format!("{value:.1}"),
        _ => group_thousands(value.round() as u64),
    }
}

fn group_thousands(value: u64) -> String {
    crate::measure::thousands(value as usize)
}

/// How many times faster ours is than Python.
fn speedup(ours: Option<&Measurement>, python: Option<&Measurement>) -> String {
    match (available(ours), available(python)) {
        (Some(ours), Some(python)) => {
            let times = if ours.higher_is_better {
                ours.value / python.value
            } else {
                python.value / ours.value
            };
            format!("{times:.1}×")
        }
        _ => "–".to_owned(),
    }
}

fn share_of(ours: &Measurement, ceiling: &Measurement) -> f64 {
    if ours.higher_is_better {
        ours.value / ceiling.value
    } else {
        ceiling.value / ours.value
    }
}

fn share(ours: Option<&Measurement>, ceiling: Option<&Measurement>) -> String {
    match (available(ours), available(ceiling)) {
        (Some(ours), Some(ceiling)) => format!("{:.0}%", 100.0 * share_of(ours, ceiling)),
        _ => "–".to_owned(),
    }
}

type Rows<'a> = BTreeMap<(String, String, u8, String), Row<'a>>;

fn verdict(workload: &str, case: &str, backend: &str, row: &Row<'_>, rows: &Rows<'_>) -> Verdict {
    let ours = available(row.ours);
    let against_ceiling = |minimum: f64, target: &'static str| Verdict {
        target,
        met: match (ours, available(row.ceiling)) {
            (Some(ours), Some(ceiling)) => Some(share_of(ours, ceiling) >= minimum),
            _ => None,
        },
    };
    let against_python = || Verdict {
        target: "≥ 50× Python",
        met: match (ours, available(row.python)) {
            (Some(ours), Some(python)) => Some(ours.value / python.value >= 50.0),
            _ => None,
        },
    };
    match (workload, backend) {
        ("W1", "memory") => against_python(),
        ("W2", "memory") if case.starts_with("load") => against_python(),
        ("W1", _) => against_ceiling(0.8, "≥ 80% of ceiling"),
        ("W2", _) if case.starts_with("load") => against_ceiling(0.8, "≥ 80% of ceiling"),
        ("W2", _) if case == "long stream, snapshot" => {
            let key = (
                "W2".to_owned(),
                "long stream, no snapshot".to_owned(),
                backend_order(backend),
                backend.to_owned(),
            );
            let replay = rows.get(&key).and_then(|r| available(r.ours));
            Verdict {
                target: "< 1% of no snapshot",
                met: match (ours, replay) {
                    (Some(snapshot), Some(replay)) => Some(snapshot.value < 0.01 * replay.value),
                    _ => None,
                },
            }
        }
        ("W3", "postgres") if case.ends_with("p99") => Verdict {
            target: "p99 < 5 ms",
            met: ours.map(|m| m.value < 5.0),
        },
        ("W4", "memory") => {
            let python = against_python();
            let select = against_ceiling(0.8, "");
            Verdict {
                target: "≥ 50× Python; ≥ 80% of plain read",
                met: match (python.met, select.met) {
                    (Some(a), Some(b)) => Some(a && b),
                    (a, b) => a.or(b),
                },
            }
        }
        ("W4", _) => against_ceiling(0.8, "≥ 80% of plain SELECT"),
        ("W5", "postgres") if case == "import" => against_ceiling(0.5, "≥ 50% of COPY"),
        ("W5", _) if case.contains("memory") => Verdict {
            target: "< 100 MB",
            met: ours.map(|m| m.value < 100.0),
        },
        _ => Verdict {
            target: "–",
            met: None,
        },
    }
}
