//! `projections run`: each projection in a task of its own catches up with
//! the feed (a progress bar per projection on a terminal), then follows new
//! events live until Ctrl-C or SIGTERM, or stops once caught up with
//! `--once`.
//!
//! A stop request is honoured between batches, never inside one: the batch
//! under way is finished and committed with its checkpoint, then each
//! projection prints a summary line. A second request stops at once; the
//! batches under way are then rolled back, which loses no work either,
//! since they are done again at the next start. Progress is drawn on
//! stderr; the caught-up and summary lines go to stdout.
//!
//! The tasks drive the runner batch by batch (rather than through
//! [`ProjectionRunner::run`]) so that a stop never cancels a batch and the
//! summary can count what this run did.
//!
//! On a database with one writer at a time (SQLite), the tasks take turns
//! through a fair lock, one batch each. Left to the database's own lock,
//! the task that just committed starts its next batch at once while the
//! others back off and sleep in SQLite's busy handler, so one projection
//! could run to the end before the others start.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use eventsource::projection::{CatchUpReport, Projection, ProjectionError, ProjectionRunner, RunnerOptions};
use eventsource::EventStore;
use indicatif::{MultiProgress, ProgressBar};
use tokio::sync::{mpsc, watch, Mutex};
use tracing::warn;

use super::{describe_position, draw_target, position_bar};
use crate::database::Backend;
use crate::signals::StopSignals;

/// What one projection did in this run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    handled: u64,
    parked: u64,
    /// The checkpoint after the last committed batch.
    position: Option<u64>,
}

impl Totals {
    fn add(&mut self, batch: &CatchUpReport) {
        self.handled += batch.handled;
        self.parked += batch.parked;
        self.position = batch.position;
    }
}

/// What a projection's task tells the command.
#[derive(Debug)]
enum Report {
    /// It reached the end of the feed.
    CaughtUp { projection: String, totals: Totals },
    /// It stopped on request, after committing its last batch.
    Stopped {
        projection: String,
        totals: Totals,
        caught_up: bool,
    },
    /// It failed; its task returns the error.
    Failed,
}

impl Report {
    /// The line printed for it, if any.
    fn line(&self) -> Option<String> {
        match self {
            Self::CaughtUp { projection, totals } => Some(format!(
                "{projection}: caught up at {}: {} handled, {} parked",
                describe_position(totals.position),
                totals.handled,
                totals.parked
            )),
            Self::Stopped {
                projection,
                totals,
                caught_up,
            } => Some(format!(
                "{projection}: stopped at {}{}: {} handled, {} parked in this run",
                describe_position(totals.position),
                if *caught_up { "" } else { " before catching up" },
                totals.handled,
                totals.parked
            )),
            Self::Failed => None,
        }
    }
}

/// Runs `projections` side by side until each has caught up (`once`) or
/// until a stop request, printing a line per projection as it catches up
/// and as it stops.
///
/// # Errors
///
/// When a projection fails while catching up (the others are stopped
/// gracefully first), when a second stop request comes before the
/// projections stopped, or when stdout fails.
pub async fn run(
    backend: &Backend,
    projections: Vec<Arc<dyn Projection>>,
    once: bool,
    options: RunnerOptions,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut signals = StopSignals::install().context("cannot listen for stop requests")?;
    let (stop, stop_requests) = watch::channel(false);
    let (reports, mut inbox) = mpsc::unbounded_channel();
    let bars = MultiProgress::with_draw_target(draw_target());
    let runner = ProjectionRunner::new(Arc::clone(&backend.events), Arc::clone(&backend.models))
        .with_options(options.clone());
    let turns = backend.one_writer_at_a_time.then(|| Arc::new(Mutex::new(())));

    let mut tasks = Vec::with_capacity(projections.len());
    for projection in projections {
        let worker = Worker {
            bar: bars.add(position_bar(projection.name())),
            runner: runner.clone(),
            turns: turns.clone(),
            events: Arc::clone(&backend.events),
            projection,
            stop: stop_requests.clone(),
            reports: reports.clone(),
            poll_interval: options.poll_interval,
        };
        tasks.push(tokio::spawn(worker.run(once)));
    }
    // The inbox closes when the last task has ended.
    drop(reports);

    let running = tasks.len();
    let mut caught_up = 0;
    let mut said_following = false;
    let mut stopping = false;
    loop {
        tokio::select! {
            report = inbox.recv() => {
                let Some(report) = report else { break };
                match &report {
                    Report::CaughtUp { .. } => caught_up += 1,
                    Report::Failed => {
                        stop.send_replace(true);
                    }
                    Report::Stopped { .. } => {}
                }
                if let Some(line) = report.line() {
                    bars.suspend(|| {
                        writeln!(out, "{line}")?;
                        out.flush()
                    })?;
                }
                if caught_up == running && !once && !stopping && !said_following {
                    said_following = true;
                    if std::io::stderr().is_terminal() {
                        eprintln!("following new events; Ctrl-C stops");
                    }
                }
            }
            signal = signals.next() => {
                if stopping {
                    bail!(
                        "stopped by a second {signal} signal; the batches under way were rolled back \
                         and will be done again at the next run"
                    );
                }
                stopping = true;
                stop.send_replace(true);
            }
        }
    }

    let mut failure = None;
    for task in tasks {
        let outcome = task
            .await
            .unwrap_or_else(|error| Err(anyhow!("a projection's task ended abnormally: {error}")));
        if let Err(error) = outcome {
            failure.get_or_insert(error);
        }
    }
    failure.map_or(Ok(()), Err)
}

/// One projection's task.
struct Worker {
    runner: ProjectionRunner,
    /// Held while a batch runs, when batches must take turns.
    turns: Option<Arc<Mutex<()>>>,
    events: Arc<dyn EventStore>,
    projection: Arc<dyn Projection>,
    stop: watch::Receiver<bool>,
    reports: mpsc::UnboundedSender<Report>,
    bar: ProgressBar,
    poll_interval: Duration,
}

impl Worker {
    async fn run(mut self, once: bool) -> anyhow::Result<()> {
        let outcome = self.work(once).await;
        if outcome.is_err() {
            self.report(Report::Failed);
        }
        outcome.with_context(|| format!("projection {}", self.projection.name()))
    }

    async fn work(&mut self, once: bool) -> anyhow::Result<()> {
        // A run stopped before its first batch still says where the
        // projection stands.
        let checkpoint = self.runner.models().checkpoint(self.projection.name()).await?;
        let mut totals = Totals {
            position: checkpoint.map(|checkpoint| checkpoint.position),
            ..Totals::default()
        };
        let caught_up = self.catch_up(&mut totals).await;
        self.bar.finish_and_clear();
        if !caught_up? {
            self.stopped(totals, false);
            return Ok(());
        }
        self.report(Report::CaughtUp {
            projection: self.projection.name().to_owned(),
            totals,
        });
        if once {
            return Ok(());
        }

        self.follow(&mut totals).await;
        self.stopped(totals, true);
        Ok(())
    }

    /// Runs the next batch, in turn with the other projections where the
    /// database needs that.
    async fn batch(&self) -> Result<CatchUpReport, ProjectionError> {
        let _turn = match &self.turns {
            // tokio's mutex is fair: waiters get it in the order they asked.
            Some(turns) => Some(turns.lock().await),
            None => None,
        };
        self.runner.run_batch(self.projection.as_ref()).await
    }

    fn stop_requested(&self) -> bool {
        *self.stop.borrow()
    }

    fn report(&self, report: Report) {
        // The command reads reports until every task has ended, so the
        // inbox is open while this task runs.
        let _ = self.reports.send(report);
    }

    fn stopped(&self, totals: Totals, caught_up: bool) {
        self.report(Report::Stopped {
            projection: self.projection.name().to_owned(),
            totals,
            caught_up,
        });
    }

    /// Runs batches until the projection has caught up with the end of the
    /// feed; returns `false` when a stop request came first.
    async fn catch_up(&mut self, totals: &mut Totals) -> anyhow::Result<bool> {
        loop {
            if self.stop_requested() {
                return Ok(false);
            }
            let batch = self.batch().await?;
            totals.add(&batch);
            let head = self.events.current_position().await?.unwrap_or(0);
            self.bar.set_length(head);
            self.bar.set_position(batch.position.unwrap_or(0));
            if batch.handled + batch.parked == 0 || batch.position >= Some(head) {
                return Ok(true);
            }
        }
    }

    /// Follows the feed until a stop request: a batch whenever events may
    /// have arrived. A failing batch (the database briefly unreachable) is
    /// logged and tried again after a pause, as a long-running worker
    /// should.
    async fn follow(&mut self, totals: &mut Totals) {
        loop {
            if self.stop_requested() {
                return;
            }
            let pause: Pin<Box<dyn Future<Output = ()> + Send>> = match self.batch().await {
                Ok(batch) if batch.handled + batch.parked > 0 => {
                    totals.add(&batch);
                    continue;
                }
                Ok(batch) => {
                    totals.add(&batch);
                    let events = Arc::clone(&self.events);
                    let poll_interval = self.poll_interval;
                    Box::pin(async move {
                        if let Err(error) = events.wait_for_events(batch.position, poll_interval).await {
                            warn!(%error, "waiting for new events failed");
                            tokio::time::sleep(poll_interval).await;
                        }
                    })
                }
                Err(error) => {
                    warn!(projection = self.projection.name(), %error, "batch failed; trying again");
                    Box::pin(tokio::time::sleep(self.poll_interval))
                }
            };
            tokio::select! {
                _ = self.stop.wait_for(|stop| *stop) => return,
                () = pause => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_where_a_projection_stopped_and_what_it_did() {
        let totals = Totals {
            handled: 10,
            parked: 1,
            position: Some(328),
        };
        let caught_up = Report::CaughtUp {
            projection: "tenant_statistics".into(),
            totals,
        };
        assert_eq!(
            caught_up.line().unwrap(),
            "tenant_statistics: caught up at position 328: 10 handled, 1 parked"
        );
        let stopped = Report::Stopped {
            projection: "tenant_statistics".into(),
            totals,
            caught_up: false,
        };
        assert_eq!(
            stopped.line().unwrap(),
            "tenant_statistics: stopped at position 328 before catching up: 10 handled, 1 parked in this run"
        );
        assert_eq!(Report::Failed.line(), None);
    }
}
