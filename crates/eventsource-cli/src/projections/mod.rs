//! The `projections` commands: the guide's built-in projections (order
//! summaries, orders with their lines, per-tenant order statistics) fed
//! from the store's events into read models kept in the same database.
//!
//! `list` shows where each projection stands, `run` catches up and follows
//! the feed live, `rebuild` replays a projection from the start, and `show`
//! prints a read model's documents. Every batch of a run commits its
//! documents, its parked events and its checkpoint in one transaction, so a
//! run stopped at any moment (Ctrl-C, a crash, `kill -9`) resumes where its
//! last batch committed and counts no event twice.

mod catalogue;
mod run;

use std::collections::BTreeMap;
use std::io::Write;

use clap::Subcommand;
use eventsource::interchange::format_timestamp;
use eventsource::projection::{Checkpoint, Projection, ProjectionRunner, RunnerOptions};
use eventsource::TenantFilter;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

pub use self::catalogue::{builtin, find, known_names};
use crate::arguments::parse_tenant_filter;
use crate::database::{self, DatabaseUrl};
use crate::output::{table, Format, JsonArrayWriter};

/// `eventsource projections …`.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Show where each projection stands: checkpoint, lag behind the end
    /// of the feed, events processed and events parked.
    List {
        /// How to print the result.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Catch up, then follow new events live until Ctrl-C or SIGTERM.
    ///
    /// Every projection runs side by side when NAME is absent. Stopping
    /// finishes and commits the batch under way, so the checkpoint is
    /// saved, and prints a summary line per projection.
    Run {
        /// One projection to run; all built-in ones when absent.
        #[arg(value_name = "NAME")]
        name: Option<String>,
        /// Catch up and exit instead of following the feed.
        #[arg(long)]
        once: bool,
        /// Events per batch (one transaction each).
        #[arg(long, hide = true, value_name = "N", value_parser = parse_batch_size)]
        batch_size: Option<usize>,
    },
    /// Remove a projection's read model, checkpoint and dead letters, and
    /// replay every event into it.
    Rebuild {
        /// The projection to rebuild.
        #[arg(value_name = "NAME")]
        name: String,
        /// Events per batch (one transaction each).
        #[arg(long, hide = true, value_name = "N", value_parser = parse_batch_size)]
        batch_size: Option<usize>,
    },
    /// Print a projection's documents, ordered by key.
    Show {
        /// The projection whose read model to print.
        #[arg(value_name = "NAME")]
        name: String,
        /// Only this tenant's documents (a UUID), or `none` for documents
        /// without a tenant; every document when absent.
        #[arg(long, value_name = "ID|none", value_parser = parse_tenant_filter)]
        tenant: Option<TenantFilter>,
        /// How to print the result.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// `--batch-size`: a whole number of at least one.
fn parse_batch_size(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(size) if size > 0 => Ok(size),
        _ => Err(format!("{text:?} is not a whole number of events above zero")),
    }
}

/// Runs a `projections` command.
///
/// # Errors
///
/// When a projection name is unknown, the store fails or stdout fails.
pub async fn run(url: &DatabaseUrl, command: ProjectionsCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        ProjectionsCommand::List { format } => list(url, format, out).await,
        ProjectionsCommand::Run {
            name,
            once,
            batch_size,
        } => {
            // Names are checked before the database is opened, so a typo
            // never creates a database file.
            let projections = match name {
                Some(name) => vec![find(&name)?],
                None => builtin(),
            };
            let backend = database::open(url).await?;
            let options = runner_options(batch_size);
            run::run(&backend, projections, once, options, out).await
        }
        ProjectionsCommand::Rebuild { name, batch_size } => {
            let projection = find(&name)?;
            let backend = database::open(url).await?;
            let runner = ProjectionRunner::new(backend.events, backend.models)
                .with_options(runner_options(batch_size));
            rebuild(&runner, projection.as_ref(), out).await
        }
        ProjectionsCommand::Show { name, tenant, format } => {
            show(url, &name, tenant.unwrap_or_default(), format, out).await
        }
    }
}

fn runner_options(batch_size: Option<usize>) -> RunnerOptions {
    let defaults = RunnerOptions::default();
    RunnerOptions {
        batch_size: batch_size.unwrap_or(defaults.batch_size),
        ..defaults
    }
}

/// One projection's standing, as `list` prints it.
struct Standing {
    name: String,
    checkpoint: Option<Checkpoint>,
    lag: u64,
    parked: u64,
}

/// `list`: every built-in projection (also those that never ran), then any
/// other projection the database holds a checkpoint of (one a program of
/// its own runs), by name.
async fn list(url: &DatabaseUrl, format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    let backend = database::open(url).await?;
    let head = backend.events.current_position().await?.unwrap_or(0);
    let mut checkpoints: BTreeMap<String, Checkpoint> = backend
        .models
        .checkpoints()
        .await?
        .into_iter()
        .map(|checkpoint| (checkpoint.projection.clone(), checkpoint))
        .collect();
    let names = known_names(backend.models.as_ref()).await?;
    let mut standings = Vec::with_capacity(names.len());
    for name in names {
        let checkpoint = checkpoints.remove(&name);
        let position = checkpoint.as_ref().map_or(0, |c| c.position);
        standings.push(Standing {
            lag: head.saturating_sub(position),
            parked: backend.models.dead_letter_count(&name).await?,
            checkpoint,
            name,
        });
    }

    match format {
        Format::Json => {
            let mut array = JsonArrayWriter::begin(out)?;
            for standing in standings {
                let checkpoint = standing.checkpoint.as_ref();
                let entry = json!({
                    "name": standing.name,
                    "position": checkpoint.map(|c| c.position),
                    "lag": standing.lag,
                    "events_processed": checkpoint.map_or(0, |c| c.events_processed),
                    "parked": standing.parked,
                    "updated_at": checkpoint.map(|c| format_timestamp(&c.updated_at)),
                });
                array.element(&entry.to_string())?;
            }
            array.end()?;
        }
        Format::Table => {
            let mut rows = table(&[
                "projection",
                "position",
                "lag",
                "events_processed",
                "parked",
                "updated_at",
            ]);
            for standing in standings {
                let checkpoint = standing.checkpoint.as_ref();
                rows.add_row([
                    standing.name.clone(),
                    checkpoint.map_or_else(|| "-".to_owned(), |c| c.position.to_string()),
                    standing.lag.to_string(),
                    checkpoint.map_or(0, |c| c.events_processed).to_string(),
                    standing.parked.to_string(),
                    checkpoint.map_or_else(|| "never".to_owned(), |c| format_timestamp(&c.updated_at)),
                ]);
            }
            writeln!(out, "{rows}")?;
        }
    }
    Ok(())
}

/// `rebuild`: reset, then replay the whole feed with a progress bar.
async fn rebuild(
    runner: &ProjectionRunner,
    projection: &dyn Projection,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let name = projection.name();
    let bar = position_bar(name);
    bar.set_draw_target(draw_target());
    let report = runner
        .rebuild(projection, |position, head| {
            bar.set_length(head);
            bar.set_position(position);
        })
        .await;
    bar.finish_and_clear();
    let report =
        report.map_err(|error| anyhow::Error::new(error).context(format!("cannot rebuild {name}")))?;
    writeln!(
        out,
        "rebuilt {name}: {} handled, {} parked, checkpoint at {}",
        report.handled,
        report.parked,
        describe_position(report.position)
    )?;
    Ok(())
}

/// `show`: a read model's documents that the tenant filter admits.
async fn show(
    url: &DatabaseUrl,
    name: &str,
    tenant: TenantFilter,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let backend = database::open(url).await?;
    let known = known_names(backend.models.as_ref()).await?;
    if !known.iter().any(|known| known == name) {
        anyhow::bail!("no projection named {name:?} (known: {})", known.join(", "));
    }
    let documents = backend.models.documents(name, tenant).await?;
    match format {
        Format::Json => {
            let mut array = JsonArrayWriter::begin(out)?;
            for document in documents {
                let entry = json!({
                    "tenant_id": document.tenant_id,
                    "key": document.key,
                    "value": document.value,
                });
                array.element(&entry.to_string())?;
            }
            array.end()?;
        }
        Format::Table => {
            let mut rows = table(&["tenant", "key", "value"]);
            for document in documents {
                rows.add_row([
                    document
                        .tenant_id
                        .map_or_else(|| "none".to_owned(), |tenant| tenant.to_string()),
                    document.key,
                    document.value.to_string(),
                ]);
            }
            writeln!(out, "{rows}")?;
        }
    }
    Ok(())
}

/// A projection's checkpoint in words: `position 328`, or `the start` for
/// one that has seen no event yet.
fn describe_position(position: Option<u64>) -> String {
    position.map_or_else(
        || "the start".to_owned(),
        |position| format!("position {position}"),
    )
}

/// A bar showing a projection's checkpoint against the end of the feed.
fn position_bar(name: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix:>18} {bar:40} {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(0).with_style(style).with_prefix(name.to_owned())
}

/// Progress is drawn on stderr, and only when a person is watching it.
fn draw_target() -> ProgressDrawTarget {
    use std::io::IsTerminal;

    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_size_is_a_whole_number_above_zero() {
        assert_eq!(parse_batch_size("50"), Ok(50));
        assert!(parse_batch_size("0").is_err());
        assert!(parse_batch_size("many").is_err());
    }

    #[test]
    fn a_position_is_described_in_words() {
        assert_eq!(describe_position(Some(328)), "position 328");
        assert_eq!(describe_position(None), "the start");
    }
}
