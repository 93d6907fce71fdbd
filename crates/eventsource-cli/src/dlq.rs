//! The `dlq` commands: events that projections parked as dead letters after
//! their retries, listed, applied again, or dropped for good.
//!
//! A dead letter is found by its id across every projection unless
//! `--projection` names one. Retrying needs the projection's code, so only
//! the built-in projections' dead letters can be retried here; any dead
//! letter can be listed and discarded.
//!
//! A retry that fails again is a failure of the command (one `error:` line,
//! exit code 1), so a script can tell "fixed" from "still parked"; the
//! dead letter stays parked with one more attempt and the new error.

use std::io::Write;

use anyhow::bail;
use clap::Subcommand;
use eventsource::interchange::format_timestamp;
use eventsource::projection::{DeadLetter, ProjectionRunner};
use serde_json::json;

use crate::database::{self, Backend, DatabaseUrl};
use crate::output::{table, Format, JsonArrayWriter};
use crate::projections::{builtin, known_names};

/// `eventsource dlq …`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List parked events in position order.
    List {
        /// Only this projection's dead letters.
        #[arg(long, value_name = "NAME")]
        projection: Option<String>,
        /// How to print the result.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Apply a parked event again.
    ///
    /// On success the dead letter is removed. When the event fails again it
    /// stays parked (one more attempt, the new error) and the command exits
    /// with code 1.
    Retry {
        /// The dead letter's id, as `dlq list` shows it.
        #[arg(value_name = "ID")]
        id: u64,
        /// The projection it belongs to; searched across all when absent.
        #[arg(long, value_name = "NAME")]
        projection: Option<String>,
    },
    /// Drop a parked event for good; the projection never applies it.
    Discard {
        /// The dead letter's id, as `dlq list` shows it.
        #[arg(value_name = "ID")]
        id: u64,
        /// The projection it belongs to; searched across all when absent.
        #[arg(long, value_name = "NAME")]
        projection: Option<String>,
    },
}

/// Runs a `dlq` command.
///
/// # Errors
///
/// When a projection or dead letter is unknown, a retried event fails
/// again, or the store or stdout fails.
pub async fn run(url: &DatabaseUrl, command: DlqCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let backend = database::open(url).await?;
    match command {
        DlqCommand::List { projection, format } => {
            check_projection(&backend, projection.as_deref()).await?;
            let letters = backend.models.dead_letters(projection.as_deref()).await?;
            list(&letters, format, out)
        }
        DlqCommand::Retry { id, projection } => {
            let letter = find(&backend, id, projection.as_deref()).await?;
            retry(&backend, &letter, out).await
        }
        DlqCommand::Discard { id, projection } => {
            let letter = find(&backend, id, projection.as_deref()).await?;
            let runner = ProjectionRunner::new(backend.events, backend.models);
            runner.discard_dead_letter(&letter.projection, id).await?;
            writeln!(out, "discarded {}", describe(&letter))?;
            Ok(())
        }
    }
}

/// Refuses a `--projection` the database and the tool know nothing of, so
/// a misspelt name is not answered with an empty list.
async fn check_projection(backend: &Backend, projection: Option<&str>) -> anyhow::Result<()> {
    let Some(projection) = projection else {
        return Ok(());
    };
    let known = known_names(backend.models.as_ref()).await?;
    if !known.iter().any(|name| name == projection) {
        bail!("no projection named {projection:?} (known: {})", known.join(", "));
    }
    Ok(())
}

/// The dead letter `id`, of `projection` when given.
async fn find(backend: &Backend, id: u64, projection: Option<&str>) -> anyhow::Result<DeadLetter> {
    check_projection(backend, projection).await?;
    let letters = backend.models.dead_letters(projection).await?;
    match letters.into_iter().find(|letter| letter.id == id) {
        Some(letter) => Ok(letter),
        None => match projection {
            Some(projection) => bail!("projection {projection} has no dead letter {id}"),
            None => bail!("there is no dead letter {id}"),
        },
    }
}

/// `dead letter 3 of tenant_statistics (OrderCreated at position 17)`.
fn describe(letter: &DeadLetter) -> String {
    format!(
        "dead letter {} of {} ({} {} at position {})",
        letter.id, letter.projection, letter.event_type, letter.event_id, letter.position
    )
}

async fn retry(backend: &Backend, letter: &DeadLetter, out: &mut impl Write) -> anyhow::Result<()> {
    let Some(projection) = builtin()
        .into_iter()
        .find(|projection| projection.name() == letter.projection)
    else {
        bail!(
            "{} belongs to a projection this tool cannot run; retry it from the program that defines {}",
            describe(letter),
            letter.projection
        );
    };
    let runner = ProjectionRunner::new(backend.events.clone(), backend.models.clone());
    if runner.retry_dead_letter(projection.as_ref(), letter.id).await? {
        writeln!(out, "retried {}: handled, and no longer parked", describe(letter))?;
        return Ok(());
    }

    let again = backend
        .models
        .dead_letters(Some(&letter.projection))
        .await?
        .into_iter()
        .find(|parked| parked.id == letter.id);
    match again {
        Some(again) => bail!(
            "{} failed again and stays parked (attempts: {}): {}",
            describe(&again),
            again.attempts,
            again.error
        ),
        None => bail!("{} failed again", describe(letter)),
    }
}

fn list(letters: &[DeadLetter], format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let mut array = JsonArrayWriter::begin(out)?;
            for letter in letters {
                let entry = json!({
                    "id": letter.id,
                    "projection": letter.projection,
                    "position": letter.position,
                    "event_id": letter.event_id,
                    "event_type": letter.event_type,
                    "tenant_id": letter.tenant_id,
                    "attempts": letter.attempts,
                    "error": letter.error,
                    "first_failed_at": format_timestamp(&letter.first_failed_at),
                    "last_failed_at": format_timestamp(&letter.last_failed_at),
                });
                array.element(&entry.to_string())?;
            }
            array.end()?;
        }
        Format::Table => {
            let mut rows = table(&[
                "id",
                "projection",
                "position",
                "event_id",
                "event_type",
                "tenant",
                "attempts",
                "error",
                "first_failed_at",
                "last_failed_at",
            ]);
            for letter in letters {
                rows.add_row([
                    letter.id.to_string(),
                    letter.projection.clone(),
                    letter.position.to_string(),
                    letter.event_id.to_string(),
                    letter.event_type.clone(),
                    letter
                        .tenant_id
                        .map_or_else(|| "none".to_owned(), |tenant| tenant.to_string()),
                    letter.attempts.to_string(),
                    letter.error.clone(),
                    format_timestamp(&letter.first_failed_at),
                    format_timestamp(&letter.last_failed_at),
                ]);
            }
            writeln!(out, "{rows}")?;
        }
    }
    Ok(())
}
