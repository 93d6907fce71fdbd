//! The `eventsource` command-line tool: migrate a store, run the
//! multi-tenant demo, import and export JSON Lines event logs, list a
//! tenant's events, audit trail and statistics, run the built-in
//! projections and manage the events they parked.
//!
//! This file holds the command-line grammar and the dispatch; each command
//! lives in its own module. Command output goes to stdout, diagnostics to
//! stderr (through `tracing`, level from `RUST_LOG`, default `warn`), and
//! every failure ends as one `error: …` line and a non-zero exit code.

mod arguments;
mod database;
mod demo;
mod dlq;
mod export;
mod import;
mod output;
mod projections;
mod query;
mod serve;
mod signals;
mod stats;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eventsource::TenantFilter;

use crate::arguments::{parse_limit, parse_tenant_filter, parse_tenant_id, parse_timestamp, Input};
use crate::database::{open_store, DatabaseUrl};
use crate::dlq::DlqCommand;
use crate::output::Format;
use crate::projections::ProjectionsCommand;

/// Event sourcing with first-class multi-tenancy.
#[derive(Debug, Parser)]
#[command(name = "eventsource", version)]
struct Cli {
    /// The event store: sqlite://PATH, sqlite::memory: or postgres://…
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "EVENTSOURCE_DATABASE_URL",
        default_value = "sqlite://eventsource.db",
        value_parser = DatabaseUrl::parse,
    )]
    database: DatabaseUrl,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or upgrade the schema (harmless to run again).
    Migrate,
    /// Run the multi-tenant guide's example against the store.
    Demo,
    /// Import events from JSON Lines in the flat form.
    ///
    /// Events already stored are skipped, so an import that stopped can
    /// simply be run again.
    Import {
        /// The file to read, or `-` for standard input.
        #[arg(value_name = "FILE")]
        input: Input,
    },
    /// Export events as JSON Lines in the flat form, in global order.
    Export {
        /// Only this tenant's events (a UUID), or `none` for events without
        /// a tenant; every event when absent.
        #[arg(long, value_name = "ID|none", value_parser = parse_tenant_filter)]
        tenant: Option<TenantFilter>,
        /// Only events of this aggregate type.
        #[arg(long, value_name = "TYPE")]
        aggregate_type: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// List a tenant's events.
    Events {
        /// The tenant (a UUID), or `none` for events without a tenant.
        #[arg(long, value_name = "ID|none", value_parser = parse_tenant_filter)]
        tenant: TenantFilter,
        /// Only events of this aggregate type.
        #[arg(long, value_name = "TYPE")]
        aggregate_type: Option<String>,
        /// Only events that occurred at or after this RFC 3339 instant.
        #[arg(long, value_name = "TIMESTAMP", value_parser = parse_timestamp)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only events that occurred before this RFC 3339 instant.
        #[arg(long, value_name = "TIMESTAMP", value_parser = parse_timestamp)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// At most this many events.
        #[arg(long, value_name = "N", value_parser = parse_limit)]
        limit: Option<u64>,
        /// How to print the result.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show a tenant's audit trail: who did what, when, in global order.
    Audit {
        /// The tenant (a UUID), or `none` for events without a tenant.
        #[arg(long, value_name = "ID|none", value_parser = parse_tenant_filter)]
        tenant: TenantFilter,
        /// How to print the result.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Count events and aggregates per tenant and aggregate type.
    Stats {
        /// How to print the result.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Run, rebuild and inspect the built-in projections (read models of
    /// orders).
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// List, retry and discard events that projections parked as dead
    /// letters.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Serve the multi-tenant HTTP API (orders, audit log, statistics) until
    /// Ctrl-C or SIGTERM. Requests carry a JWT bearer token naming their
    /// tenant (see `token`).
    Serve {
        /// The address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// A file holding the shared HS256 secret (at least 32 bytes).
        #[arg(long, value_name = "FILE")]
        jwt_secret_file: PathBuf,
    },
    /// Print a development token for a tenant, alone on the last line.
    Token {
        /// The tenant (a UUID).
        #[arg(long, value_name = "ID", value_parser = parse_tenant_id)]
        tenant: eventsource::TenantId,
        /// A file holding the shared HS256 secret (at least 32 bytes).
        #[arg(long, value_name = "FILE")]
        jwt_secret_file: PathBuf,
        /// How long the token stays valid, in hours.
        #[arg(long, value_name = "HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=8760))]
        valid_hours: u64,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return arguments::report_usage_error(error),
    };
    init_logging();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return report_failure(&anyhow::Error::new(error).context("cannot start the runtime")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report_failure(&error),
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());

    match cli.command {
        Command::Migrate => database::migrate(&cli.database, &mut out).await?,
        Command::Demo => demo::run(open_store(&cli.database).await?, &mut out).await?,
        Command::Import { input } => import::run(&cli.database, &input, &mut out).await?,
        Command::Export {
            tenant,
            aggregate_type,
            output,
        } => {
            let filter = query::filter(tenant.unwrap_or_default(), aggregate_type, None, None);
            let store = open_store(&cli.database).await?;
            export::run(store.as_ref(), filter, output.as_deref(), &mut out).await?;
        }
        Command::Events {
            tenant,
            aggregate_type,
            since,
            until,
            limit,
            format,
        } => {
            let filter = query::filter(tenant, aggregate_type, since, until);
            let store = open_store(&cli.database).await?;
            query::events(store.as_ref(), filter, limit, format, &mut out).await?;
        }
        Command::Audit { tenant, format } => {
            let store = open_store(&cli.database).await?;
            query::audit(store.as_ref(), tenant, format, &mut out).await?;
        }
        Command::Stats { format } => {
            stats::run(open_store(&cli.database).await?.as_ref(), format, &mut out).await?
        }
        Command::Projections(command) => projections::run(&cli.database, command, &mut out).await?,
        Command::Dlq(command) => dlq::run(&cli.database, command, &mut out).await?,
        Command::Serve {
            listen,
            jwt_secret_file,
        } => serve::serve(&cli.database, listen, &jwt_secret_file, &mut out).await?,
        Command::Token {
            tenant,
            jwt_secret_file,
            valid_hours,
        } => {
            let valid_for = std::time::Duration::from_secs(valid_hours.saturating_mul(3600));
            serve::token(tenant, &jwt_secret_file, valid_for, &mut out)?
        }
    }

    out.flush()?;
    Ok(())
}

/// Prints a failure as one line on stderr. A closed stdout (`eventsource
/// export | head`) is not a failure of the tool: the reader has all it
/// wanted.
fn report_failure(error: &anyhow::Error) -> ExitCode {
    let broken_pipe = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|cause| cause.kind() == io::ErrorKind::BrokenPipe);
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", one_line(error));
    ExitCode::FAILURE
}

/// The error and its causes as one line. Some errors repeat their cause in
/// their own message and also report it as their source; a cause already
/// said is not said again.
fn one_line(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string().replace(['\n', '\r'], " ");
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_repeated_in_its_parents_message_is_said_once() {
        let cause = io::Error::other("unable to open database file");
        let error = anyhow::Error::new(cause)
            .context("backend failed: unable to open database file")
            .context("cannot open x.db");
        assert_eq!(
            one_line(&error),
            "cannot open x.db: backend failed: unable to open database file"
        );
    }
}
