//! The `export` command: events as JSON Lines in the flat form, in global
//! order, streamed from the store page by page.
//!
//! The output is what `import` reads, so export → import → export gives the
//! same lines; a file written with `--output` appears only once it is
//! complete, so a failed export never leaves a truncated log that looks
//! whole.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use eventsource::interchange::to_flat_json;
use eventsource::{EventFilter, EventStore, ReadAllOptions};
use futures::TryStreamExt;

/// Exports the events `filter` selects to `output`, or to `out` when no
/// file is named (and then says how many events went to the file).
///
/// # Errors
///
/// When the store or the output fails.
pub async fn run(
    store: &dyn EventStore,
    filter: EventFilter,
    output: Option<&Path>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            let written = to_file(store, filter, path).await?;
            writeln!(out, "exported {written} events to {}", path.display())?;
        }
        None => {
            write(store, filter, out).await?;
        }
    }
    Ok(())
}

/// Writes the events `filter` selects to `out`, one per line; returns how
/// many.
async fn write(store: &dyn EventStore, filter: EventFilter, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut feed = store.read_all(ReadAllOptions::filtered(filter));
    let mut written = 0;
    while let Some(stored) = feed.try_next().await? {
        out.write_all(to_flat_json(&stored.event).as_bytes())?;
        out.write_all(b"\n")?;
        written += 1;
    }
    Ok(written)
}

/// Writes the export to `path` through a temporary file beside it that is
/// renamed into place when everything is written; on failure `path` is left
/// as it was.
async fn to_file(store: &dyn EventStore, filter: EventFilter, path: &Path) -> anyhow::Result<u64> {
    let partial = partial_path(path);
    let result = write_file(store, filter, &partial).await;
    match result {
        Ok(written) => {
            fs::rename(&partial, path)
                .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))?;
            Ok(written)
        }
        Err(error) => {
            // The partial file is useless; a failure to remove it must not
            // hide the error that matters.
            let _ = fs::remove_file(&partial);
            Err(error)
        }
    }
}

async fn write_file(store: &dyn EventStore, filter: EventFilter, partial: &Path) -> anyhow::Result<u64> {
    let file = File::create(partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let mut out = BufWriter::new(file);
    let written = write(store, filter, &mut out).await?;
    let file = out.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    Ok(written)
}

/// `dir/events.jsonl` → `dir/.events.jsonl.partial`.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "export".into(), |name| name.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.partial"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_file_sits_beside_the_target() {
        assert_eq!(
            partial_path(Path::new("out/events.jsonl")),
            Path::new("out/.events.jsonl.partial")
        );
    }
}
