//! Prints a development token for a tenant, as `eventsource token` does:
//!
//! ```text
//! cargo run -p eventsource-service --example token -- \
//!     --tenant 6f1c2a9e-0b7d-4c55-9d6e-3f1a2b3c4d5e --jwt-secret-file jwt-secret
//! ```
//!
//! The token is valid for 24 hours and is printed alone on the last line.

use std::time::Duration;

use eventsource::TenantId;
use eventsource_axum::{issue_token, read_secret_file};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut tenant = None;
    let mut secret_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(name) = args.next() {
        let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
        match name.as_str() {
            "--tenant" => tenant = Some(value.parse::<TenantId>().map_err(|e| format!("--tenant: {e}"))?),
            "--jwt-secret-file" => secret_file = Some(value),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let tenant = tenant.ok_or("--tenant ID is required")?;
    let secret = read_secret_file(secret_file.ok_or("--jwt-secret-file FILE is required")?)?;

    let token = issue_token(&secret, tenant, Duration::from_secs(24 * 3600))?;
    eprintln!("a token for tenant {tenant}, valid for 24 hours:");
    println!("{token}");
    Ok(())
}
