//! Load on the reference service over loopback: N concurrent clients, each
//! acting for one of several tenants, place, change and read orders for a
//! fixed time; the run prints requests per second and p50/p99 latency,
//! overall and per kind of request, as Markdown rows for BENCHMARKS.md.
//!
//! ```text
//! cargo bench -p eventsource-service --bench load
//! EVENTSOURCE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/eventsource_bench \
//!     cargo bench -p eventsource-service --features postgres --bench load
//! ```
//!
//! Settings (environment): `EVENTSOURCE_BENCH_CLIENTS` (default 16),
//! `EVENTSOURCE_BENCH_TENANTS` (8), `EVENTSOURCE_BENCH_SECONDS` (10, at most
//! 300). The server and the clients share the machine's cores, as on one
//! host behind a local proxy; the figures are the service's throughput
//! with that overhead included.
//!
//! Each client repeats one cycle: place an order, add an item, read the
//! order, and every fourth cycle ship it, every eighth list the tenant's
//! orders, every sixteenth read its figures.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eventsource::TenantId;
use eventsource_axum::{issue_token, TenantAuth};
use eventsource_service::AppState;
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use uuid::Uuid;

const SECRET: &[u8] = b"benchmark secret: thirty-two bytes or more";

struct Settings {
    clients: usize,
    tenants: usize,
    duration: Duration,
}

impl Settings {
    fn from_env() -> Self {
        let read = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or(default)
        };
        Self {
            clients: read("EVENTSOURCE_BENCH_CLIENTS", 16).clamp(1, 512) as usize,
            tenants: read("EVENTSOURCE_BENCH_TENANTS", 8).clamp(1, 512) as usize,
            duration: Duration::from_secs(read("EVENTSOURCE_BENCH_SECONDS", 10).clamp(1, 300)),
        }
    }
}

/// One timed request.
struct Sample {
    kind: &'static str,
    latency: Duration,
    ok: bool,
}

/// One client's loop until `deadline`.
async fn client(base: String, token: String, deadline: Instant) -> Vec<Sample> {
    let http = reqwest::Client::new();
    let mut samples = Vec::new();
    let mut cycle = 0u64;
    while Instant::now() < deadline {
        cycle += 1;
        let created = timed(&mut samples, "POST /orders", 201, async {
            http.post(format!("{base}/orders"))
                .bearer_auth(&token)
                .json(&json!({"customer_id": Uuid::new_v4(), "total_amount": "12.50"}))
                .send()
                .await
        })
        .await;
        let Some(order) = created.and_then(|body| body["order_id"].as_str().map(str::to_owned)) else {
            continue;
        };
        let item = json!({"sku": "SKU-1", "name": "Widget", "quantity": 2, "unit_price": "4.25"});
        timed(&mut samples, "POST /orders/{id}/items", 200, async {
            http.post(format!("{base}/orders/{order}/items"))
                .bearer_auth(&token)
                .json(&item)
                .send()
                .await
        })
        .await;
        timed(&mut samples, "GET /orders/{id}", 200, async {
            http.get(format!("{base}/orders/{order}"))
                .bearer_auth(&token)
                .send()
                .await
        })
        .await;
        if cycle.is_multiple_of(4) {
            timed(&mut samples, "POST /orders/{id}/ship", 200, async {
                http.post(format!("{base}/orders/{order}/ship"))
                    .bearer_auth(&token)
                    .json(&json!({"tracking_number": "1Z999"}))
                    .send()
                    .await
            })
            .await;
        }
        if cycle.is_multiple_of(8) {
            timed(&mut samples, "GET /orders", 200, async {
                http.get(format!("{base}/orders?limit=20"))
                    .bearer_auth(&token)
                    .send()
                    .await
            })
            .await;
        }
        if cycle.is_multiple_of(16) {
            timed(&mut samples, "GET /stats", 200, async {
                http.get(format!("{base}/stats")).bearer_auth(&token).send().await
            })
            .await;
        }
    }
    samples
}

/// Sends a request, reads its body, records its latency and whether it had
/// the expected status; returns the JSON body of a successful one.
async fn timed(
    samples: &mut Vec<Sample>,
    kind: &'static str,
    expected: u16,
    request: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) -> Option<Value> {
    let started = Instant::now();
    let outcome = match request.await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await.ok();
            (status == expected).then_some(body).flatten()
        }
        Err(_) => None,
    };
    samples.push(Sample {
        kind,
        latency: started.elapsed(),
        ok: outcome.is_some(),
    });
    outcome.and_then(|body| serde_json::from_slice(&body).ok())
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * fraction).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}

fn report(backend: &str, settings: &Settings, elapsed: Duration, samples: &[Sample]) {
    let mut by_kind: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for sample in samples {
        by_kind.entry(sample.kind).or_default().push(sample.latency);
    }
    let failed = samples.iter().filter(|sample| !sample.ok).count();
    let mut all: Vec<Duration> = samples.iter().map(|sample| sample.latency).collect();
    all.sort();

    println!(
        "\n### {backend}: {} clients, {} tenants, {:.1} s\n",
        settings.clients,
        settings.tenants,
        elapsed.as_secs_f64()
    );
    println!("| requests | requests/s | p50 ms | p99 ms | failed |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {:.0} | {} | {} | {failed} |",
        all.len(),
        all.len() as f64 / elapsed.as_secs_f64(),
        millis(percentile(&all, 0.50)),
        millis(percentile(&all, 0.99)),
    );
    println!("\n| request | count | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    for (kind, mut latencies) in by_kind {
        latencies.sort();
        println!(
            "| `{kind}` | {} | {} | {} |",
            latencies.len(),
            millis(percentile(&latencies, 0.50)),
            millis(percentile(&latencies, 0.99)),
        );
    }
}

/// Serves `state` on a loopback port, runs the clients, stops, reports.
async fn run(backend: &str, settings: &Settings, state: AppState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let base = format!(
        "http://{}",
        listener.local_addr().expect("the listener has an address")
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventsource_service::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let tenants: Vec<TenantId> = (0..settings.tenants).map(|_| TenantId::new_random()).collect();
    let deadline = Instant::now() + settings.duration;
    let started = Instant::now();
    let clients: Vec<_> = (0..settings.clients)
        .map(|n| {
            let tenant = tenants[n % tenants.len()];
            let token =
                issue_token(SECRET, tenant, Duration::from_secs(3600)).expect("the secret is long enough");
            tokio::spawn(client(base.clone(), token, deadline))
        })
        .collect();
    let mut samples = Vec::new();
    for client in clients {
        samples.extend(client.await.expect("a client does not panic"));
    }
    let elapsed = started.elapsed();

    let _ = stop.send(());
    server
        .await
        .expect("the server does not panic")
        .expect("the server stops cleanly");
    report(backend, settings, elapsed, &samples);
}

fn auth() -> TenantAuth {
    TenantAuth::hs256(SECRET).expect("the secret is long enough")
}

async fn sqlite(settings: &Settings) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", folder.path().join("events.db").display());
    let state = AppState::open_sqlite(&url, auth())
        .await
        .expect("the SQLite store opens");
    run("SQLite (file, WAL)", settings, state).await;
}

#[cfg(feature = "postgres")]
async fn postgres(settings: &Settings) {
    use eventsource_postgres::{PostgresEventStore, PostgresProjectionStore};

    let Ok(url) = std::env::var("EVENTSOURCE_BENCH_POSTGRES_URL") else {
        println!("\nPostgreSQL: EVENTSOURCE_BENCH_POSTGRES_URL is not set; skipped.");
        return;
    };
    let events = PostgresEventStore::open(&url)
        .await
        .expect("the PostgreSQL store opens");
    let models = PostgresProjectionStore::new(&events);
    let state = AppState::new(std::sync::Arc::new(events), std::sync::Arc::new(models), auth());
    run("PostgreSQL", settings, state).await;
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_settings: &Settings) {
    println!("\nPostgreSQL: built without the `postgres` feature; skipped.");
}

fn main() {
    let settings = Settings::from_env();
    let runtime = Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        sqlite(&settings).await;
        postgres(&settings).await;
    });
}
