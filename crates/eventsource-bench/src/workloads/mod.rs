//! The whole workloads, each on our stores beside its raw-SQL ceiling.

pub mod append_and_load;
pub mod import;
pub mod query_and_project;

use std::future::Future;
use std::time::{Duration, Instant};

/// Runs `work` and returns its result and how long it took.
pub async fn timed<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<(T, Duration)> {
    let started = Instant::now();
    let value = work.await?;
    Ok((value, started.elapsed()))
}

/// Splits `items` into `parts` contiguous, nearly equal slices.
pub fn partition<T: Clone>(items: &[T], parts: usize) -> Vec<Vec<T>> {
    let parts = parts.max(1);
    let size = items.len().div_ceil(parts).max(1);
    items.chunks(size).map(<[T]>::to_vec).collect()
}

/// Events (or anything) per second.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}
