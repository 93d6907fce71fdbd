//! W5: the `eventsource import` command (release binary) on the data set's
//! JSON Lines, its rate and peak memory (`/usr/bin/time -v`), and `COPY` of
//! the same rows as the ceiling.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;

use super::rate;
use crate::backend::{BackendKind, Environment};
use crate::ceiling;
use crate::dataset::Dataset;
use crate::measure::{thousands, Measurement, Subject};

/// What one run of the command came to.
enum Outcome {
    Imported { seconds: f64, peak_mb: f64 },
    Unsupported(String),
}

/// Runs W5 on the backends that have a database.
pub async fn run(
    environment: &Environment,
    backends: &[BackendKind],
    dataset: &Dataset,
    repeat: usize,
    cli: &Path,
) -> anyhow::Result<Vec<Measurement>> {
    anyhow::ensure!(
        cli.exists(),
        "{} is missing: build it with `cargo build --release -p eventsource-cli`",
        cli.display()
    );
    let scale = format!("{} events, JSON Lines", thousands(dataset.events));
    let mut out = Vec::new();
    for &kind in backends {
        if kind == BackendKind::Memory {
            continue;
        }
        let backend = kind.name();
        let (mut rates, mut peaks) = (Vec::new(), Vec::new());
        let mut stand_in = None;
        for run in 0..repeat {
            eprintln!("W5 {backend}: run {} of {repeat}", run + 1);
            let through_cli = stand_in.is_none();
            match import_once(environment, kind, dataset, cli, through_cli).await? {
                Outcome::Imported { seconds, peak_mb } => {
                    rates.push(dataset.events as f64 / seconds);
                    peaks.push(peak_mb);
                }
                Outcome::Unsupported(reason) => {
                    eprintln!("W5 {backend}: the CLI cannot import here ({reason}); running the library's import path");
                    stand_in = Some(reason);
                    let Outcome::Imported { seconds, peak_mb } =
                        import_once(environment, kind, dataset, cli, false).await?
                    else {
                        anyhow::bail!("the stand-in import is unsupported too");
                    };
                    rates.push(dataset.events as f64 / seconds);
                    peaks.push(peak_mb);
                }
            }
        }
        let note = stand_in.map(|reason| {
            format!(
                "stand-in: the CLI cannot import here yet ({reason}); the same import path (flat lines, \
                 batches of 1,000, id check, append_streams) run by `bench --import-into` in a child process"
            )
        });
        let mut import = Measurement::new(
            "W5",
            "import",
            backend,
            Subject::Ours,
            "events/s",
            scale.clone(),
            rates,
        );
        let mut peak = Measurement::new(
            "W5",
            "import peak memory",
            backend,
            Subject::Ours,
            "MB",
            scale.clone(),
            peaks,
        );
        if let Some(note) = &note {
            import = import.with_note(note.clone());
            peak = peak.with_note(note.clone());
        }
        out.push(import);
        out.push(peak);

        if kind == BackendKind::Postgres {
            let mut copies = Vec::new();
            for run in 0..repeat {
                eprintln!("W5 {backend} COPY: run {} of {repeat}", run + 1);
                let elapsed = ceiling::postgres_copy(environment, &dataset.csv).await?;
                copies.push(rate(dataset.events, elapsed));
            }
            out.push(
                Measurement::new(
                    "W5",
                    "import",
                    backend,
                    Subject::Ceiling,
                    "events/s",
                    scale.clone(),
                    copies,
                )
                .with_note("psql \\copy FROM CSV into the same migrated table (indexes, trigger)"),
            );
        }
    }
    Ok(out)
}

/// The import path of the library as the CLI runs it (read a line, parse
/// the flat form, batch 1,000 events in runs of consecutive streams, skip
/// ids already stored, one `append_streams` per batch), for a backend the
/// CLI cannot open yet. Runs in a child process (`bench --import-into URL
/// FILE`) so that `/usr/bin/time` measures its peak memory alone.
pub async fn library_import(url: &str, file: &Path) -> anyhow::Result<u64> {
    use std::collections::HashSet;
    use std::sync::Arc;

    use eventsource::interchange::from_flat_json;
    use eventsource::{EventStore, ExpectedVersion, RawEvent, StreamId, StreamWrite};
    use tokio::io::AsyncBufReadExt;

    let store: Arc<dyn EventStore> = if url.starts_with("sqlite:") {
        Arc::new(eventsource_sqlite::SqliteEventStore::open(url).await?)
    } else {
        Arc::new(eventsource_postgres::PostgresEventStore::open(url).await?)
    };
    let reader = tokio::io::BufReader::with_capacity(1 << 16, tokio::fs::File::open(file).await?);
    let mut lines = reader.lines();
    let mut writes: Vec<StreamWrite> = Vec::new();
    let mut streams: HashSet<StreamId> = HashSet::new();
    let mut pending = 0usize;
    let mut imported = 0u64;

    async fn flush(store: &dyn EventStore, writes: &mut Vec<StreamWrite>) -> anyhow::Result<u64> {
        if writes.is_empty() {
            return Ok(0);
        }
        let ids: Vec<_> = writes
            .iter()
            .flat_map(|w| &w.events)
            .map(|e| e.envelope.event_id)
            .collect();
        let stored = store.existing_event_ids(&ids).await?;
        anyhow::ensure!(stored.is_empty(), "the data set was imported twice");
        let result = store.append_streams(writes).await?;
        writes.clear();
        Ok(result.positions.len() as u64)
    }

    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let event: RawEvent = from_flat_json(&line)?;
        let stream = StreamId::of(&event);
        let continues = writes
            .last()
            .is_some_and(|w| StreamId::of(&w.events[0]) == stream);
        if !continues && streams.contains(&stream) {
            imported += flush(store.as_ref(), &mut writes).await?;
            streams.clear();
            pending = 0;
        }
        if continues {
            writes.last_mut().expect("checked above").events.push(event);
        } else {
            let expected = ExpectedVersion::Exact(event.envelope.aggregate_version - 1);
            streams.insert(stream);
            writes.push(StreamWrite {
                expected,
                events: vec![event],
            });
        }
        pending += 1;
        if pending >= 1_000 {
            imported += flush(store.as_ref(), &mut writes).await?;
            streams.clear();
            pending = 0;
        }
    }
    imported += flush(store.as_ref(), &mut writes).await?;
    Ok(imported)
}

async fn import_once(
    environment: &Environment,
    kind: BackendKind,
    dataset: &Dataset,
    cli: &Path,
    through_cli: bool,
) -> anyhow::Result<Outcome> {
    let (url, cleanup): (String, Box<dyn FnOnce() -> Option<String>>) = match kind {
        BackendKind::Sqlite => {
            let folder = environment.sqlite_folder()?;
            let url = format!("sqlite://{}", folder.join("events.db").display());
            (
                url,
                Box::new(move || {
                    let _ = std::fs::remove_dir_all(&folder);
                    None
                }),
            )
        }
        _ => {
            let database = environment.create_database().await?;
            (
                environment.postgres_url(&database),
                Box::new(move || Some(database)),
            )
        }
    };

    let started = Instant::now();
    let mut command = tokio::process::Command::new("/usr/bin/time");
    command.arg("-v");
    if through_cli {
        command
            .arg(cli)
            .arg("--database")
            .arg(&url)
            .arg("import")
            .arg(&dataset.jsonl);
    } else {
        command
            .arg(std::env::current_exe()?)
            .arg("--import-into")
            .arg(&url)
            .arg(&dataset.jsonl);
    }
    let output = command
        .output()
        .await
        .context("cannot run /usr/bin/time (apt-get install time)")?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();

    let outcome = if output.status.success() {
        let peak_kb: f64 = stderr
            .lines()
            .find_map(|line| line.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|value| value.trim().parse().ok())
            .context("no peak memory in the output of /usr/bin/time")?;
        anyhow::ensure!(
            stdout.contains(&format!("imported {} events", dataset.events)),
            "the import did not store every event: {stdout}"
        );
        Outcome::Imported {
            seconds,
            peak_mb: peak_kb / 1024.0,
        }
    } else if stderr.contains("not built yet") || stderr.contains("not supported") {
        let reason = stderr
            .lines()
            .find(|line| line.contains("not built yet") || line.contains("not supported"))
            .unwrap_or("unsupported")
            .trim()
            .to_owned();
        Outcome::Unsupported(reason)
    } else {
        anyhow::bail!("the import failed: {stderr}");
    };

    if let Some(database) = cleanup() {
        environment.drop_database(&database).await?;
    }
    Ok(outcome)
}
