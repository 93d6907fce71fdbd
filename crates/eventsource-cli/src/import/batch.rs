//! A batch of imported events and the one atomic append that stores it.
//!
//! A batch keeps the file's order: it holds *runs*, each a stretch of
//! consecutive lines of one stream, and becomes one `append_streams` call
//! with one write per run. The store assigns positions write by write, so
//! the stored order is the file's order only while no stream appears in
//! two runs of one batch; an event that would need a second run for its
//! stream starts a new batch instead (and the store refuses a stream twice
//! in one append anyway).
//!
//! Every event remembers its line, so whatever the store refuses is reported
//! with the line it came from.

use std::collections::{HashMap, HashSet};

use anyhow::anyhow;
use eventsource::{ExpectedVersion, RawEvent, StoreError, StreamId, StreamWrite};
use uuid::Uuid;

/// Where a new event goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    /// Its id is already in this batch: the file repeats the event.
    Duplicate,
    /// It can join this batch.
    Fits,
    /// Its stream already has an earlier run in this batch: storing it now
    /// would move it before the events between the two runs.
    NeedsNewBatch,
}

/// Events waiting to be stored, in file order.
#[derive(Default)]
pub struct Batch {
    runs: Vec<Run>,
    /// The last event of each stream in the batch.
    tails: HashMap<StreamId, Tail>,
    /// Where each waiting event is: its run and its index in the run.
    event_ids: HashMap<Uuid, (usize, usize)>,
}

/// Consecutive lines of one stream, with consecutive versions.
struct Run {
    stream: StreamId,
    lines: Vec<u64>,
    events: Vec<RawEvent>,
}

struct Tail {
    run: usize,
    version: u64,
    line: u64,
}

impl Batch {
    /// How many events wait.
    pub fn len(&self) -> usize {
        self.event_ids.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.event_ids.is_empty()
    }

    /// The ids of the waiting events.
    pub fn event_ids(&self) -> Vec<Uuid> {
        self.event_ids.keys().copied().collect()
    }

    /// The waiting events whose ids are in `stored`, with their lines.
    pub fn already_stored<'a>(
        &'a self,
        stored: &'a HashSet<Uuid>,
    ) -> impl Iterator<Item = (u64, &'a RawEvent)> {
        self.runs.iter().flat_map(move |run| {
            run.lines
                .iter()
                .zip(&run.events)
                .filter(move |(_, event)| stored.contains(&event.envelope.event_id))
                .map(|(line, event)| (*line, event))
        })
    }

    /// Where the event of `line` goes.
    ///
    /// # Errors
    ///
    /// When its version does not follow the previous event of its stream in
    /// the file: the file itself is inconsistent at this line.
    pub fn fit(&self, line: u64, event: &RawEvent) -> anyhow::Result<Fit> {
        let envelope = &event.envelope;
        if let Some(&(run, index)) = self.event_ids.get(&envelope.event_id) {
            // A repeated line is skipped; another event under a used id
            // would be lost if it were skipped too.
            if self.runs[run].events[index] == *event {
                return Ok(Fit::Duplicate);
            }
            return Err(anyhow!(
                "line {line}: field `event_id`: {} is already the id of a different event on line {}",
                envelope.event_id,
                self.runs[run].lines[index],
            ));
        }
        let Some(tail) = self.tails.get(&StreamId::of(event)) else {
            return Ok(Fit::Fits);
        };
        if envelope.aggregate_version != tail.version + 1 {
            return Err(anyhow!(
                "line {line}: field `aggregate_version`: {} {} goes from version {} (line {}) to {}; \
                 versions of a stream must follow each other",
                envelope.aggregate_type,
                envelope.aggregate_id,
                tail.version,
                tail.line,
                envelope.aggregate_version,
            ));
        }
        if tail.run + 1 == self.runs.len() {
            Ok(Fit::Fits)
        } else {
            Ok(Fit::NeedsNewBatch)
        }
    }

    /// Adds an event that [`Batch::fit`] said fits.
    pub fn push(&mut self, line: u64, event: RawEvent) {
        let stream = StreamId::of(&event);
        let continues_last_run = self.runs.last().is_some_and(|run| run.stream == stream);
        if !continues_last_run {
            self.runs.push(Run {
                stream: stream.clone(),
                lines: Vec::new(),
                events: Vec::new(),
            });
        }
        let run = self.runs.len() - 1;
        self.event_ids
            .insert(event.envelope.event_id, (run, self.runs[run].events.len()));
        self.tails.insert(
            stream,
            Tail {
                run,
                version: event.envelope.aggregate_version,
                line,
            },
        );
        self.runs[run].lines.push(line);
        self.runs[run].events.push(event);
    }

    /// The writes that store the events not in `stored`, and how many were
    /// left out because they are.
    pub fn into_writes(self, stored: &HashSet<Uuid>) -> (Writes, u64) {
        let mut writes = Writes::default();
        let mut skipped = 0;
        for run in self.runs {
            let (lines, events): (Vec<u64>, Vec<RawEvent>) = run
                .lines
                .into_iter()
                .zip(run.events)
                .filter(|(_, event)| {
                    let keep = !stored.contains(&event.envelope.event_id);
                    skipped += u64::from(!keep);
                    keep
                })
                .unzip();
            writes.push(lines, events);
        }
        (writes, skipped)
    }
}

/// The writes of one append, each with the lines of its events.
#[derive(Default)]
pub struct Writes {
    writes: Vec<StreamWrite>,
    lines: Vec<Vec<u64>>,
}

impl Writes {
    /// Adds a write for these events of one stream, expecting the stream to
    /// be at the version before the first of them; nothing for no events.
    fn push(&mut self, lines: Vec<u64>, events: Vec<RawEvent>) {
        let Some(first) = events.first() else {
            return;
        };
        let expected = ExpectedVersion::Exact(first.envelope.aggregate_version - 1);
        self.writes.push(StreamWrite { expected, events });
        self.lines.push(lines);
    }

    /// What to pass to `append_streams`.
    pub fn as_slice(&self) -> &[StreamWrite] {
        &self.writes
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// How many events the writes hold.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lines.iter().map(Vec::len).sum()
    }

    /// The writes of the events before `line` only.
    pub fn before(self, line: u64) -> Self {
        let mut kept = Self::default();
        for (write, lines) in self.writes.into_iter().zip(self.lines) {
            let (lines, events) = lines
                .into_iter()
                .zip(write.events)
                .filter(|(event_line, _)| *event_line < line)
                .unzip();
            kept.push(lines, events);
        }
        kept
    }

    /// The line the store's refusal is about, when it names one event or
    /// stream.
    pub fn line_of(&self, error: &StoreError) -> Option<u64> {
        let mut events = self
            .writes
            .iter()
            .zip(&self.lines)
            .flat_map(|(write, lines)| write.events.iter().zip(lines.iter().copied()));
        match error {
            StoreError::Concurrency { stream, .. } => events
                .find(|(event, _)| StreamId::of(event) == *stream)
                .map(|(_, line)| line),
            StoreError::DuplicateEvent { event_id } => events
                .find(|(event, _)| event.envelope.event_id == *event_id)
                .map(|(_, line)| line),
            _ => None,
        }
    }

    /// The store's refusal in the file's terms: the line (or the lines of
    /// the whole append) and what is wrong there.
    pub fn describe(&self, error: StoreError, line: Option<u64>) -> anyhow::Error {
        let Some(line) = line else {
            let all = self.lines.iter().flatten();
            let (first, last) = (all.clone().min(), all.max());
            return match (first, last) {
                (Some(first), Some(last)) => {
                    anyhow::Error::new(error).context(format!("lines {first}–{last}"))
                }
                _ => anyhow::Error::new(error),
            };
        };
        match error {
            StoreError::Concurrency {
                stream,
                expected: ExpectedVersion::Exact(before),
                actual,
            } => {
                let version = before + 1;
                let problem = if actual < before {
                    format!(
                        "version {version} of {stream} leaves a gap: the store holds versions up to {actual}"
                    )
                } else {
                    format!("version {version} of {stream} is already taken by another event in the store")
                };
                anyhow!("line {line}: field `aggregate_version`: {problem}")
            }
            other => anyhow::Error::new(other).context(format!("line {line}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use eventsource::{Envelope, Event, JsonObject};

    use super::*;

    fn event(stream: Uuid, version: u64) -> RawEvent {
        let mut envelope = Envelope::new("Happened", stream, "Thing");
        envelope.aggregate_version = version;
        Event {
            envelope,
            payload: JsonObject::new(),
        }
    }

    fn add(batch: &mut Batch, line: u64, event: RawEvent) -> Fit {
        let fit = batch.fit(line, &event).unwrap();
        if fit == Fit::Fits {
            batch.push(line, event);
        }
        fit
    }

    #[test]
    fn consecutive_events_of_one_stream_share_one_write() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut batch = Batch::default();
        for (line, event) in [(1, event(a, 1)), (2, event(a, 2)), (3, event(b, 4))] {
            assert_eq!(add(&mut batch, line, event), Fit::Fits);
        }
        let (writes, skipped) = batch.into_writes(&HashSet::new());
        assert_eq!(skipped, 0);
        assert_eq!(writes.as_slice().len(), 2);
        assert_eq!(writes.as_slice()[0].expected, ExpectedVersion::Exact(0));
        assert_eq!(writes.as_slice()[1].expected, ExpectedVersion::Exact(3));
    }

    #[test]
    fn a_stream_that_comes_back_after_another_starts_a_new_batch() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut batch = Batch::default();
        add(&mut batch, 1, event(a, 1));
        add(&mut batch, 2, event(b, 1));
        assert_eq!(batch.fit(3, &event(a, 2)).unwrap(), Fit::NeedsNewBatch);
    }

    #[test]
    fn a_repeated_event_id_is_a_duplicate_and_a_version_gap_names_both_lines() {
        let a = Uuid::new_v4();
        let mut batch = Batch::default();
        let first = event(a, 1);
        add(&mut batch, 1, first.clone());
        assert_eq!(batch.fit(2, &first).unwrap(), Fit::Duplicate);
        let error = batch.fit(3, &event(a, 3)).unwrap_err().to_string();
        assert!(
            error.starts_with("line 3: field `aggregate_version`:") && error.contains("(line 1)"),
            "{error}"
        );
    }

    #[test]
    fn stored_events_are_left_out_and_the_write_expects_what_precedes_the_rest() {
        let a = Uuid::new_v4();
        let mut batch = Batch::default();
        let (first, second) = (event(a, 1), event(a, 2));
        let stored = HashSet::from([first.envelope.event_id]);
        add(&mut batch, 1, first);
        add(&mut batch, 2, second);
        let (writes, skipped) = batch.into_writes(&stored);
        assert_eq!((skipped, writes.len()), (1, 1));
        assert_eq!(writes.as_slice()[0].expected, ExpectedVersion::Exact(1));
    }

    #[test]
    fn a_conflict_is_reported_at_the_first_line_of_its_stream() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut batch = Batch::default();
        add(&mut batch, 7, event(a, 1));
        add(&mut batch, 8, event(b, 3));
        add(&mut batch, 9, event(b, 4));
        let (writes, _) = batch.into_writes(&HashSet::new());
        let conflict = StoreError::Concurrency {
            stream: StreamId::new(b, "Thing"),
            expected: ExpectedVersion::Exact(2),
            actual: 1,
        };
        let line = writes.line_of(&conflict);
        assert_eq!(line, Some(8));
        let message = writes.describe(conflict, line).to_string();
        assert!(
            message.starts_with("line 8: field `aggregate_version`: version 3 of Thing"),
            "{message}"
        );
        assert!(message.contains("gap"), "{message}");
        assert_eq!(writes.before(8).len(), 1);
    }
}
