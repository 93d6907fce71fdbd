//! Measurements: what was measured, on what, by whom, and the figure of
//! each run; the reported value is the median of the runs.

use serde::{Deserialize, Serialize};

/// Who produced a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    /// This library.
    Ours,
    /// The Python reference library.
    Python,
    /// The same rows through raw SQL, without any library.
    Ceiling,
}

/// One figure of one workload case on one backend.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measurement {
    /// `W1` … `W5`.
    pub workload: String,
    /// What exactly, e.g. `append, 4 writers`.
    pub case: String,
    /// `memory`, `sqlite` or `postgres`.
    pub backend: String,
    /// Who.
    pub subject: Subject,
    /// The median of `runs` (NaN, written `null`, when it did not run).
    #[serde(deserialize_with = "nan_if_null")]
    pub value: f64,
    /// `events/s`, `aggregates/s`, `ms`, `MB`.
    pub unit: String,
    /// Whether more is better (rates) or less (latencies, memory).
    pub higher_is_better: bool,
    /// The size it ran at, e.g. `100,000 events`.
    pub scale: String,
    /// Each run's figure.
    pub runs: Vec<f64>,
    /// Anything a reader must know about this figure.
    #[serde(default)]
    pub note: Option<String>,
}

impl Measurement {
    /// A figure from its runs.
    pub fn new(
        workload: &str,
        case: &str,
        backend: &str,
        subject: Subject,
        unit: &str,
        scale: String,
        runs: Vec<f64>,
    ) -> Self {
        Self {
            workload: workload.to_owned(),
            case: case.to_owned(),
            backend: backend.to_owned(),
            subject,
            value: median(&runs),
            higher_is_better: !matches!(unit, "ms" | "MB" | "s"),
            unit: unit.to_owned(),
            scale,
            runs,
            note: None,
        }
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

fn nan_if_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// The median (the mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

/// The `q`-quantile (0..=1) of latencies, nearest rank.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// `1234567` → `1,234,567`.
pub fn thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
