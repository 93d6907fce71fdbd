//! Runs the reference service, as `eventsource serve` does:
//!
//! ```text
//! cargo run -p eventsource-service --example serve -- \
//!     --listen 127.0.0.1:8080 --jwt-secret-file jwt-secret [--database sqlite://events.db]
//! ```
//!
//! Logs go to standard error (`RUST_LOG` filters them, default `info`).

use std::net::SocketAddr;
use std::path::PathBuf;

use eventsource_axum::TenantAuth;
use eventsource_service::{serve, AppState};
use tracing_subscriber::EnvFilter;

struct Arguments {
    listen: SocketAddr,
    secret_file: PathBuf,
    database: String,
}

fn arguments() -> Result<Arguments, String> {
    let mut listen = None;
    let mut secret_file = None;
    let mut database = "sqlite://eventsource.db".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(name) = args.next() {
        let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
        match name.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|e| format!("--listen: {e}"))?),
            "--jwt-secret-file" => secret_file = Some(PathBuf::from(value)),
            "--database" => database = value,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Arguments {
        listen: listen.ok_or("--listen ADDR is required")?,
        secret_file: secret_file.ok_or("--jwt-secret-file FILE is required")?,
        database,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let arguments = arguments()?;

    let auth = TenantAuth::hs256_from_file(&arguments.secret_file)?;
    let state = AppState::open_sqlite(&arguments.database, auth).await?;
    let listener = tokio::net::TcpListener::bind(arguments.listen).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    serve(listener, state, async {
        // An error here means no signal handler could be installed: stop.
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
