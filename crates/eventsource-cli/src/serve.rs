//! The `serve` and `token` commands: the reference multi-tenant HTTP
//! service on the store `--database` names, and development tokens for it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use eventsource::TenantId;
use eventsource_axum::{issue_token, read_secret_file, TenantAuth};
use eventsource_service::AppState;

use crate::database::{self, DatabaseUrl};
use crate::signals::StopSignals;

/// Serves the API on `listen` until Ctrl-C or SIGTERM, then finishes the
/// requests under way and stops.
///
/// # Errors
///
/// When the secret file, the database or the address cannot be used.
pub async fn serve(
    url: &DatabaseUrl,
    listen: SocketAddr,
    secret_file: &Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let auth = TenantAuth::hs256_from_file(secret_file)?;
    let state = match url {
        // The service gives SQLite's read models a connection pool of their
        // own, so projection batches never starve request handlers.
        DatabaseUrl::Sqlite(sqlite_url) => AppState::open_sqlite(sqlite_url, auth)
            .await
            .with_context(|| format!("cannot open {url}"))?,
        DatabaseUrl::Postgres(_) => {
            let backend = database::open(url).await?;
            AppState::new(Arc::clone(&backend.events), Arc::clone(&backend.models), auth)
        }
    };
    let mut signals = StopSignals::install().context("cannot listen for Ctrl-C")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    out.flush()?;

    eventsource_service::serve(listener, state, async move {
        let _ = signals.next().await;
    })
    .await
    .context("the service failed")?;
    writeln!(out, "stopped")?;
    Ok(())
}

/// Prints a token for `tenant`, signed with the secret in `secret_file`,
/// alone on the last line.
///
/// # Errors
///
/// When the secret file cannot be read or is too short.
pub fn token(
    tenant: TenantId,
    secret_file: &Path,
    valid_for: Duration,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let secret = read_secret_file(secret_file)?;
    let token = issue_token(&secret, tenant, valid_for)?;
    eprintln!(
        "a token for tenant {tenant}, valid for {} hours:",
        valid_for.as_secs() / 3600
    );
    writeln!(out, "{token}")?;
    Ok(())
}
