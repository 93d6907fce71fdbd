//! Feeding projections from the global feed: catch up from the checkpoint
//! in batches, then follow live, with retries and dead letters.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::{FutureExt, TryStreamExt};
use tracing::{debug, info, warn};

use super::cache::DocumentCache;
use super::store::{ProjectionStore, ProjectionTx};
use super::{Projection, ProjectionError};
use crate::event::StoredEvent;
use crate::store::{EventFilter, EventStore, ReadAllOptions};

/// How often and how patiently a failing event is retried before it is
/// parked.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, including the first (at least 1).
    pub max_attempts: u32,
    /// The wait before the second try.
    pub initial_delay: Duration,
    /// Each further wait is the previous one times this.
    pub multiplier: f64,
    /// No wait is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_delay: Duration::from_millis(20),
            multiplier: 2.0,
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempt`-th failed try (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = self.multiplier.max(1.0).powi(attempt.saturating_sub(1) as i32);
        self.initial_delay.mul_f64(factor).min(self.max_delay)
    }
}

/// How the runner reads and waits.
#[derive(Clone, Debug, PartialEq)]
pub struct RunnerOptions {
    /// Events per batch; one batch is one transaction of the read model.
    pub batch_size: usize,
    /// Retries before parking.
    pub retry: RetryPolicy,
    /// The longest wait for new events while following live.
    pub poll_interval: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// What one catch-up did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatchUpReport {
    /// Events handled successfully.
    pub handled: u64,
    /// Events parked as dead letters.
    pub parked: u64,
    /// The checkpoint afterwards.
    pub position: Option<u64>,
}

/// A batch of events read before its transaction began.
struct ReadBatch {
    /// The checkpoint it was read after.
    after: Option<u64>,
    /// The feed's head just before the read.
    head: Option<u64>,
    /// At most a batch of the projection's events after `after`.
    events: Vec<StoredEvent>,
}

/// Runs projections against an event store and a projection store.
#[derive(Clone)]
pub struct ProjectionRunner {
    events: Arc<dyn EventStore>,
    models: Arc<dyn ProjectionStore>,
    options: RunnerOptions,
}

impl ProjectionRunner {
    /// A runner with default options.
    pub fn new(events: Arc<dyn EventStore>, models: Arc<dyn ProjectionStore>) -> Self {
        Self {
            events,
            models,
            options: RunnerOptions::default(),
        }
    }

    /// Replaces the options.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// The projection store.
    pub fn models(&self) -> &Arc<dyn ProjectionStore> {
        &self.models
    }

    /// How far behind the end of the feed a projection is: the current
    /// position minus its checkpoint.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::Store`].
    pub async fn lag(&self, projection: &str) -> Result<u64, ProjectionError> {
        let head = self.events.current_position().await?.unwrap_or(0);
        let position = self
            .models
            .checkpoint(projection)
            .await?
            .map_or(0, |c| c.position);
        Ok(head.saturating_sub(position))
    }

    /// Processes the next batch after the checkpoint and commits it with
    /// the new checkpoint. Returns what it did; `handled + parked == 0`
    /// means the projection had caught up.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::Store`] when reading events or committing fails;
    /// nothing of the batch is committed then.
    pub async fn run_batch(&self, projection: &dyn Projection) -> Result<CatchUpReport, ProjectionError> {
        let (report, _) = self.run_batch_reading_ahead(projection, None, false).await?;
        Ok(report)
    }

    /// Runs one batch, `ahead` if it was read already. With `read_next`,
    /// a full batch reads the one after it while it commits, and returns
    /// it for the next call.
    async fn run_batch_reading_ahead(
        &self,
        projection: &dyn Projection,
        ahead: Option<ReadBatch>,
        read_next: bool,
    ) -> Result<(CatchUpReport, Option<ReadBatch>), ProjectionError> {
        let name = projection.name();
        let (tx, batch) = self.begin_batch(projection, ahead).await?;
        let mut documents = DocumentCache::new(tx);
        let (mut tx, batch, mut report): (Box<dyn ProjectionTx + '_>, _, _) = match self
            .apply_cached(projection, &batch.events, &mut documents)
            .await
        {
            Ok(report) => (Box::new(documents), batch, report),
            Err(ProjectionError::Store(error)) => {
                // One document that cannot be read or written (a value
                // the store refuses, one that no longer parses) fails
                // the batch's read or write as a whole. Applied one at
                // a time, it fails only its own event, which is parked
                // as it would have been before the cache.
                warn!(
                    projection = name,
                    %error,
                    "the batch's documents could not be read or written together; applying its events one at a time"
                );
                drop(documents);
                let (mut tx, batch) = self.begin_batch(projection, Some(batch)).await?;
                let report = self.apply_each(projection, &batch.events, tx.as_mut()).await?;
                (tx, batch, report)
            }
            Err(other) => return Err(other),
        };
        let ReadBatch { after, head, events } = batch;
        let last_read = events.last().map(|event| event.position);
        let caught_up = events.len() < self.options.batch_size;
        let position = if caught_up { last_read.max(head) } else { last_read };
        let mut next = None;
        if position > after {
            tx.advance_checkpoint(position.unwrap_or(0), events.len() as u64)
                .await?;
            if read_next && !caught_up {
                next = self.commit_reading_next(projection, tx, position).await?;
            } else {
                tx.commit().await?;
            }
        }
        report.position = position.max(after);
        debug!(
            projection = name,
            position = report.position,
            handled = report.handled,
            parked = report.parked,
            "batch committed"
        );
        Ok((report, next))
    }

    /// Applies a batch through the document cache: its documents read in
    /// one request when the projection names them, and the changed ones
    /// written in one request at the end.
    async fn apply_cached(
        &self,
        projection: &dyn Projection,
        events: &[StoredEvent],
        documents: &mut DocumentCache<'_>,
    ) -> Result<CatchUpReport, ProjectionError> {
        if let Some(keys) = projection.document_keys(events) {
            documents.prefetch(keys).await?;
        }
        let report = self.apply_each(projection, events, documents).await?;
        documents.flush().await?;
        Ok(report)
    }

    /// Applies each event of a batch, with retries, parking the failures.
    async fn apply_each(
        &self,
        projection: &dyn Projection,
        events: &[StoredEvent],
        tx: &mut dyn ProjectionTx,
    ) -> Result<CatchUpReport, ProjectionError> {
        let mut report = CatchUpReport::default();
        for event in events {
            if self.apply_with_retries(projection, event, tx).await? {
                report.handled += 1;
            } else {
                report.parked += 1;
            }
        }
        Ok(report)
    }

    /// Begins the transaction of a batch: `ahead`, or one read afresh from
    /// the committed checkpoint, provided the checkpoint is still where the
    /// batch was read from.
    async fn begin_batch(
        &self,
        projection: &dyn Projection,
        mut ahead: Option<ReadBatch>,
    ) -> Result<(Box<dyn ProjectionTx + '_>, ReadBatch), ProjectionError> {
        let name = projection.name();
        loop {
            let batch = match ahead.take() {
                Some(batch) => batch,
                None => {
                    // Read outside the transaction: on SQLite an open
                    // projection transaction holds the only write lock, and
                    // reading the feed through the same pool while writers
                    // queue for that lock could leave it no connection to
                    // read with.
                    let after = self.models.checkpoint(name).await?.map(|c| c.position);
                    self.read_after(projection, after).await?
                }
            };

            // The checkpoint is checked again inside the transaction that
            // moves it: if another runner moved it since (one aborted while
            // its commit was on the way, say), this batch is stale.
            let mut tx = self.models.begin(name).await?;
            if tx.checkpoint_position().await? == batch.after {
                return Ok((tx, batch));
            }
            debug!(projection = name, "checkpoint moved while reading; reading again");
        }
    }

    /// Commits a batch while reading the one after `position`, its new
    /// checkpoint. The read waits on nothing the commit holds (the commit
    /// goes on while the read waits for a connection), and the next
    /// transaction checks that the checkpoint is indeed `position`. A
    /// failed read is only logged: the next batch is read again then.
    async fn commit_reading_next(
        &self,
        projection: &dyn Projection,
        tx: Box<dyn ProjectionTx + '_>,
        position: Option<u64>,
    ) -> Result<Option<ReadBatch>, ProjectionError> {
        let (committed, next) = tokio::join!(tx.commit(), self.read_after(projection, position));
        committed?;
        match next {
            Ok(next) => Ok(Some(next)),
            Err(error) => {
                debug!(projection = projection.name(), %error, "reading ahead failed");
                Ok(None)
            }
        }
    }

    /// The batch after `after`.
    async fn read_after(
        &self,
        projection: &dyn Projection,
        after: Option<u64>,
    ) -> Result<ReadBatch, ProjectionError> {
        // Every event up to `head` is visible to the read below, so events
        // the filter skipped up to there are done.
        let head = self.events.current_position().await?;
        let events = self.read_batch(projection, after).await?;
        Ok(ReadBatch { after, head, events })
    }

    async fn read_batch(
        &self,
        projection: &dyn Projection,
        after: Option<u64>,
    ) -> Result<Vec<StoredEvent>, ProjectionError> {
        let event_types = projection.event_types();
        if event_types.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let filter = EventFilter {
            tenant: projection.tenant_filter(),
            event_types: event_types.unwrap_or_default(),
            ..EventFilter::default()
        };
        let options = ReadAllOptions {
            after,
            limit: Some(self.options.batch_size as u64),
            filter,
            page_size: self.options.batch_size,
        };
        Ok(self.events.read_all(options).try_collect().await?)
    }

    /// Applies one event, retrying with backoff; parks it after the last
    /// try. Returns whether it was handled.
    async fn apply_with_retries(
        &self,
        projection: &dyn Projection,
        event: &StoredEvent,
        tx: &mut dyn ProjectionTx,
    ) -> Result<bool, ProjectionError> {
        let policy = &self.options.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            tx.savepoint().await?;
            let Err(error) = projection.apply(event, tx).await else {
                return Ok(true);
            };
            tx.rollback_to_savepoint().await?;
            if attempt >= policy.max_attempts.max(1) {
                warn!(
                    projection = projection.name(),
                    position = event.position,
                    event_type = %event.event.envelope.event_type,
                    tenant = ?event.event.envelope.tenant_id,
                    attempts = attempt,
                    %error,
                    "event parked as a dead letter"
                );
                tx.park(event, &error.to_string(), attempt, Utc::now()).await?;
                return Ok(false);
            }
            tokio::time::sleep(policy.delay_after(attempt)).await;
        }
    }

    /// Processes batches until the projection has caught up with the end of
    /// the feed, reporting the checkpoint and the head after each batch.
    ///
    /// # Errors
    ///
    /// As [`Self::run_batch`]; batches committed before the error stay.
    pub async fn catch_up(
        &self,
        projection: &dyn Projection,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<CatchUpReport, ProjectionError> {
        let mut total = CatchUpReport::default();
        let mut ahead = None;
        loop {
            let (batch, next) = self
                .run_batch_reading_ahead(projection, ahead.take(), true)
                .await?;
            ahead = next;
            total.handled += batch.handled;
            total.parked += batch.parked;
            total.position = batch.position;
            let head = self.events.current_position().await?.unwrap_or(0);
            progress(batch.position.unwrap_or(0), head);
            if batch.handled + batch.parked == 0 || batch.position >= Some(head) {
                return Ok(total);
            }
        }
    }

    /// Catches up, then follows the feed live until `shutdown` completes,
    /// and returns what it did. Shutdown is checked between batches: a
    /// batch under way is finished and committed with its checkpoint. A
    /// failing batch is rolled back, logged and retried after a pause.
    pub async fn run(
        &self,
        projection: Arc<dyn Projection>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> CatchUpReport {
        tokio::pin!(shutdown);
        let name = projection.name().to_owned();
        info!(projection = %name, "projection started");
        let mut total = CatchUpReport::default();
        while (&mut shutdown).now_or_never().is_none() {
            let wait = match self.run_batch(projection.as_ref()).await {
                Ok(report) => {
                    total.handled += report.handled;
                    total.parked += report.parked;
                    total.position = report.position;
                    if report.handled + report.parked > 0 {
                        continue;
                    }
                    self.events
                        .wait_for_events(report.position, self.options.poll_interval)
                }
                Err(error) => {
                    warn!(projection = %name, %error, "batch failed; retrying");
                    Box::pin(async {
                        tokio::time::sleep(self.options.poll_interval).await;
                        Ok(())
                    })
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                _ = wait => {}
            }
        }
        info!(projection = %name, position = total.position, handled = total.handled, parked = total.parked, "projection stopped");
        total
    }

    /// Removes the projection's read model, checkpoint and dead letters,
    /// then replays the whole feed into it.
    ///
    /// # Errors
    ///
    /// As [`Self::catch_up`].
    pub async fn rebuild(
        &self,
        projection: &dyn Projection,
        progress: impl FnMut(u64, u64) + Send,
    ) -> Result<CatchUpReport, ProjectionError> {
        self.models.reset(projection.name()).await?;
        self.catch_up(projection, progress).await
    }

    /// Applies a parked event again. On success the dead letter is removed
    /// and `true` returned; on failure it stays parked with one more attempt
    /// and the new error, and `false` is returned.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::NotFound`] when the projection has no such dead
    /// letter or its event is gone, [`ProjectionError::Store`].
    pub async fn retry_dead_letter(
        &self,
        projection: &dyn Projection,
        id: u64,
    ) -> Result<bool, ProjectionError> {
        let name = projection.name();
        let letter = self
            .models
            .dead_letters(Some(name))
            .await?
            .into_iter()
            .find(|letter| letter.id == id)
            .ok_or_else(|| ProjectionError::NotFound(format!("dead letter {id} of projection {name}")))?;
        let options = ReadAllOptions {
            after: letter.position.checked_sub(1),
            limit: Some(1),
            ..ReadAllOptions::default()
        };
        let events: Vec<StoredEvent> = self.events.read_all(options).try_collect().await?;
        let event = events
            .into_iter()
            .find(|event| {
                event.position == letter.position && event.event.envelope.event_id == letter.event_id
            })
            .ok_or_else(|| {
                ProjectionError::NotFound(format!(
                    "event {} at position {}",
                    letter.event_id, letter.position
                ))
            })?;

        // The letter is taken inside the transaction, after a savepoint:
        // if a retry or a discard got to it since it was read above, the
        // removal finds nothing and nothing of this attempt is kept; if the
        // event fails again, rolling back to the savepoint puts the letter
        // back and `park` counts the attempt on it. Applied on the
        // transaction itself (database savepoints), as the one-at-a-time
        // path of a batch does.
        let mut tx = self.models.begin(name).await?;
        tx.savepoint().await?;
        if !tx.remove_dead_letter(id).await? {
            return Err(ProjectionError::NotFound(format!(
                "dead letter {id} of projection {name}"
            )));
        }
        let handled = match projection.apply(&event, tx.as_mut()).await {
            Ok(()) => true,
            Err(error) => {
                tx.rollback_to_savepoint().await?;
                tx.park(&event, &error.to_string(), 1, Utc::now()).await?;
                false
            }
        };
        tx.commit().await?;
        Ok(handled)
    }

    /// Drops a parked event for good.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::NotFound`] when the projection has no such dead
    /// letter, [`ProjectionError::Store`].
    pub async fn discard_dead_letter(&self, projection: &str, id: u64) -> Result<(), ProjectionError> {
        let mut tx = self.models.begin(projection).await?;
        if !tx.remove_dead_letter(id).await? {
            return Err(ProjectionError::NotFound(format!(
                "dead letter {id} of projection {projection}"
            )));
        }
        tx.commit().await?;
        Ok(())
    }
}
