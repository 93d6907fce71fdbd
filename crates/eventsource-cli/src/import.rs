//! The `import` command: JSON Lines in the flat form into the store.
//!
//! The input is read line by line and stored in batches of
//! [`BATCH_SIZE`] events, one atomic append each, so memory stays bounded
//! whatever the file's size. The import is idempotent: events whose id is
//! already stored (or that the file repeats) are skipped, so an import that
//! stopped can simply be run again. It stops at the first line it cannot
//! store, after storing every event before that line and none after it, and
//! the error names the line.

mod batch;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{IsTerminal, Write};

use anyhow::{anyhow, bail, Context as _};
use eventsource::interchange::from_flat_json;
use eventsource::{EventStore, RawEvent, StreamId};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tracing::debug;
use uuid::Uuid;

use self::batch::{Batch, Fit, Writes};
use crate::arguments::Input;
use crate::database::{open_store, DatabaseUrl};

/// Events per append: large enough that a transaction's cost is shared by
/// many events, small enough to keep memory and a failed retry cheap.
const BATCH_SIZE: usize = 1_000;

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Events stored by this import.
    pub imported: u64,
    /// Events skipped because they were stored already (or repeated).
    pub already_present: u64,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} events, {} already present",
            self.imported, self.already_present
        )
    }
}

/// Runs the command: opens the input first (a missing file must not create
/// a database), then the store, imports, and prints the summary: on stdout
/// when the import completed, on stderr before the error when it stopped.
///
/// # Errors
///
/// When the input or the store cannot be opened, or a line cannot be
/// stored.
pub async fn run(url: &DatabaseUrl, input: &Input, out: &mut impl Write) -> anyhow::Result<()> {
    let (reader, size) = open_input(input).await?;
    let store = open_store(url).await?;
    let progress = progress_bar(size);

    let mut importer = Importer::new(store.as_ref(), progress.clone());
    let result = import_lines(reader, &mut importer).await;
    progress.finish_and_clear();

    match result {
        Ok(()) => writeln!(out, "{}", importer.summary)?,
        Err(error) => {
            eprintln!("{}", importer.summary);
            return Err(error);
        }
    }
    Ok(())
}

type Reader = Box<dyn AsyncBufRead + Unpin + Send>;

/// The input as a buffered reader, with its size in bytes when known.
async fn open_input(input: &Input) -> anyhow::Result<(Reader, Option<u64>)> {
    match input {
        Input::Stdin => Ok((Box::new(BufReader::new(tokio::io::stdin())), None)),
        Input::File(path) => {
            let cannot_read = || format!("cannot read {}", path.display());
            let file = tokio::fs::File::open(path).await.with_context(cannot_read)?;
            let metadata = file.metadata().await.with_context(cannot_read)?;
            if metadata.is_dir() {
                bail!("cannot read {}: it is a directory", path.display());
            }
            // A pipe or device has no length to measure progress against.
            let size = metadata.is_file().then_some(metadata.len());
            Ok((Box::new(BufReader::with_capacity(1 << 16, file)), size))
        }
    }
}

/// A progress bar on stderr, only when a person is watching it.
fn progress_bar(size: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match size {
        Some(size) => ProgressBar::new(size).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    }
}

/// Feeds every line to the importer. At the first line that cannot be
/// imported, the events before it are stored and the import stops.
async fn import_lines(mut reader: Reader, importer: &mut Importer<'_>) -> anyhow::Result<()> {
    let mut buffer = Vec::new();
    let mut line = 0u64;
    loop {
        buffer.clear();
        line += 1;
        let imported = match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) => return importer.flush().await,
            Ok(read) => {
                importer.progress.inc(read as u64);
                importer.import_line(line, &buffer).await
            }
            Err(error) => Err(anyhow::Error::new(error).context(format!("cannot read line {line}"))),
        };
        if let Err(error) = imported {
            importer.flush().await?;
            return Err(error);
        }
    }
}

/// Collects events into batches and stores each batch.
struct Importer<'a> {
    store: &'a dyn EventStore,
    batch: Batch,
    summary: ImportSummary,
    progress: ProgressBar,
}

impl<'a> Importer<'a> {
    fn new(store: &'a dyn EventStore, progress: ProgressBar) -> Self {
        Self {
            store,
            batch: Batch::default(),
            summary: ImportSummary::default(),
            progress,
        }
    }

    /// Parses one line of the input and adds its event; blank lines hold
    /// none.
    // TODO: cap the length of a line (and so the memory one line can take);
    // today a single huge line is read whole before it is parsed.
    async fn import_line(&mut self, line: u64, bytes: &[u8]) -> anyhow::Result<()> {
        let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("line {line}: not valid UTF-8"))?;
        if text.trim().is_empty() {
            return Ok(());
        }
        let event = from_flat_json(text).map_err(|error| anyhow!("line {line}: {error}"))?;
        self.add(line, event).await
    }

    /// Adds the event of `line`, storing the batch when it is full or when
    /// the event cannot join it.
    async fn add(&mut self, line: u64, event: RawEvent) -> anyhow::Result<()> {
        match self.batch.fit(line, &event)? {
            Fit::Duplicate => self.summary.already_present += 1,
            Fit::Fits => self.batch.push(line, event),
            Fit::NeedsNewBatch => {
                self.flush().await?;
                self.batch.push(line, event);
            }
        }
        if self.batch.len() >= BATCH_SIZE {
            self.flush().await?;
        }
        Ok(())
    }

    /// Stores the waiting events that are not stored yet.
    async fn flush(&mut self) -> anyhow::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        if batch.is_empty() {
            return Ok(());
        }
        let stored = self
            .store
            .existing_event_ids(&batch.event_ids())
            .await
            .context("cannot check which events are already stored")?;
        let conflict = self.first_conflict_with_store(&batch, &stored).await?;
        let (writes, skipped) = batch.into_writes(&stored);
        self.summary.already_present += skipped;
        if let Some((line, error)) = conflict {
            // Everything before the offending line is stored, nothing after.
            self.append(writes.before(line)).await?;
            return Err(error);
        }
        self.append(writes).await?;
        self.progress.set_message(self.summary.to_string());
        Ok(())
    }

    /// The first line whose event id is already stored for a *different*
    /// event (another stream, version, envelope or payload), with its error:
    /// skipping such an event as "already present" would lose it. One read
    /// per stream of the batch.
    async fn first_conflict_with_store(
        &self,
        batch: &Batch,
        stored: &HashSet<Uuid>,
    ) -> anyhow::Result<Option<(u64, anyhow::Error)>> {
        let mut by_stream: BTreeMap<StreamId, Vec<(u64, &RawEvent)>> = BTreeMap::new();
        for (line, event) in batch.already_stored(stored) {
            by_stream
                .entry(StreamId::of(event))
                .or_default()
                .push((line, event));
        }
        let mut conflicts = Vec::new();
        for (stream, events) in by_stream {
            let first = events
                .iter()
                .map(|(_, event)| event.envelope.aggregate_version)
                .min()
                .unwrap_or(1);
            let in_store = self
                .store
                .read_stream(&stream, first.saturating_sub(1))
                .await
                .context("cannot read the events already stored")?;
            for (line, event) in events {
                if !in_store.iter().any(|stored| stored.event == *event) {
                    conflicts.push((line, event.envelope.event_id));
                }
            }
        }
        Ok(conflicts.into_iter().min().map(|(line, event_id)| {
            let error =
                anyhow!("line {line}: field `event_id`: {event_id} is already stored for a different event");
            (line, error)
        }))
    }

    /// Appends the writes in one step. When the store refuses one line, the
    /// events before that line are appended on their own, so the import
    /// stops exactly there, as it does for a malformed line.
    async fn append(&mut self, mut writes: Writes) -> anyhow::Result<()> {
        let mut failure = None;
        while !writes.is_empty() {
            match self.store.append_streams(writes.as_slice()).await {
                Ok(result) => {
                    debug!(
                        events = result.positions.len(),
                        last_position = result.positions.last(),
                        "imported"
                    );
                    self.summary.imported += result.positions.len() as u64;
                    break;
                }
                Err(error) => {
                    let line = writes.line_of(&error);
                    failure = Some(writes.describe(error, line));
                    match line {
                        Some(line) => writes = writes.before(line),
                        None => break,
                    }
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }
}
