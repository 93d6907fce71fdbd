//! Deterministic data: the orders W1 saves, and the data set of W3–W5
//! (1,000 events per tenant over a year), written once as JSON Lines in the
//! flat interchange form (W5's input, and what the Python side loads) and as
//! CSV for PostgreSQL's `COPY` (W5's ceiling).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use eventsource::interchange::to_flat_json;
use eventsource::{AggregateRoot, Event, EventSet, RawEvent, TenantId};
use eventsource_examples::guide::order::{Order, OrderCreated, OrderEvent, OrderItemAdded, OrderShipped};
use eventsource_examples::guide::task::{TaskCompleted, TaskCreated, TaskEvent};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::scale::{Scale, DATASET_EVENTS_PER_TENANT};

/// A small, fast, seedable generator (SplitMix64): the same seed gives the
/// same data on every run, in Rust and, through the files, in Python.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// A random (version 4) UUID.
    pub fn uuid(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// An amount between 1.00 and 500.00.
    pub fn amount(&mut self) -> Decimal {
        Decimal::new(100 + self.below(49_900) as i64, 2)
    }
}

/// `count` tenants, the same for a seed.
pub fn tenants(seed: u64, count: usize) -> Vec<TenantId> {
    let mut rng = Rng::new(seed);
    (0..count).map(|_| TenantId::from_uuid(rng.uuid())).collect()
}

/// Records a whole order on `root`: created, eight items, shipped (the 10
/// events W1 saves at once).
pub fn record_order(root: &mut AggregateRoot<Order>, rng: &mut Rng) {
    root.record(order_created(rng));
    for item in 0..8 {
        root.record(order_item(rng, item));
    }
    root.record(order_shipped(rng));
}

fn order_created(rng: &mut Rng) -> OrderCreated {
    OrderCreated {
        customer_id: rng.uuid(),
        total_amount: rng.amount(),
    }
}

fn order_item(rng: &mut Rng, item: u64) -> OrderItemAdded {
    let product = rng.below(10_000);
    OrderItemAdded {
        sku: format!("SKU-{product:05}"),
        name: format!("Product {product} (line {item})"),
        quantity: 1 + rng.below(5) as u32,
        unit_price: rng.amount(),
    }
}

fn order_shipped(rng: &mut Rng) -> OrderShipped {
    OrderShipped {
        tracking_number: format!("TRK{:012}", rng.below(1_000_000_000_000)),
    }
}

/// The end of the data set's year: every event occurred before it, and W3's
/// window is the 30 days before it.
pub fn dataset_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a fixed, valid date")
}

/// W3's window: the 30 days before [`dataset_end`].
pub fn query_window() -> (DateTime<Utc>, DateTime<Utc>) {
    (dataset_end() - Duration::days(30), dataset_end())
}

/// The seed of the data set's tenants.
const DATASET_TENANT_SEED: u64 = 3;

/// The data set of W3–W5: for each tenant 80 orders of 10 events and 100
/// tasks of 2 (1,000 events), each aggregate started at a random instant of
/// the year before [`dataset_end`] and its events a minute apart. The
/// aggregates of all tenants interleave; each aggregate's events are
/// consecutive, as if saved at once.
pub struct Dataset {
    /// Its tenants.
    pub tenants: Vec<TenantId>,
    /// The JSON Lines file (flat form).
    pub jsonl: PathBuf,
    /// The CSV file of the same rows in the columns of `events`.
    pub csv: PathBuf,
    /// How many events it holds.
    pub events: usize,
}

/// Aggregates per tenant: 80 orders and 100 tasks, mixed 4 to 5.
const AGGREGATES_PER_TENANT: usize = 180;

impl Dataset {
    /// Writes the files unless a previous run already did.
    pub async fn prepare(data_dir: &Path, scale: &Scale) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let stem = format!("dataset-v1-{}", scale.dataset_tenants);
        let dataset = Self {
            tenants: tenants(DATASET_TENANT_SEED, scale.dataset_tenants),
            jsonl: data_dir.join(format!("{stem}.jsonl")),
            csv: data_dir.join(format!("{stem}.csv")),
            events: scale.dataset_tenants * DATASET_EVENTS_PER_TENANT,
        };
        if !dataset.jsonl.exists() || !dataset.csv.exists() {
            eprintln!(
                "writing the data set of {} events to {}",
                dataset.events,
                dataset.jsonl.display()
            );
            let tenants = dataset.tenants.clone();
            let (jsonl, csv) = (dataset.jsonl.clone(), dataset.csv.clone());
            tokio::task::spawn_blocking(move || write_files(&tenants, &jsonl, &csv)).await??;
        }
        Ok(dataset)
    }

    /// The aggregates, in order, each as the events of one stream.
    pub fn aggregates(&self) -> impl Iterator<Item = Vec<RawEvent>> + Send + 'static {
        aggregates(self.tenants.clone())
    }
}

fn aggregates(tenants: Vec<TenantId>) -> impl Iterator<Item = Vec<RawEvent>> + Send + 'static {
    let mut rng = Rng::new(17);
    let year_seconds = 364 * 24 * 3600;
    let start_of_year = dataset_end() - Duration::days(365);
    (0..AGGREGATES_PER_TENANT).flat_map(move |round| {
        let batch: Vec<Vec<RawEvent>> = tenants
            .iter()
            .map(|&tenant| {
                let started = start_of_year
                    + Duration::seconds(rng.below(year_seconds) as i64)
                    + Duration::microseconds(rng.below(1_000_000) as i64);
                if round % 9 < 4 {
                    order_events(&mut rng, tenant, started)
                } else {
                    task_events(&mut rng, tenant, started)
                }
            })
            .collect();
        batch.into_iter()
    })
}

fn order_events(rng: &mut Rng, tenant: TenantId, started: DateTime<Utc>) -> Vec<RawEvent> {
    let id = rng.uuid();
    let mut payloads = vec![OrderEvent::from(order_created(rng))];
    for item in 0..8 {
        payloads.push(order_item(rng, item).into());
    }
    payloads.push(order_shipped(rng).into());
    stamp(rng, tenant, id, started, payloads)
}

fn task_events(rng: &mut Rng, tenant: TenantId, started: DateTime<Utc>) -> Vec<RawEvent> {
    let id = rng.uuid();
    let number = rng.below(1_000_000);
    let payloads = vec![
        TaskEvent::from(TaskCreated {
            title: format!("Task {number}"),
            description: Some("Follow up with the customer".to_owned()),
            assigned_to: Some(format!("user-{}", number % 50)),
        }),
        TaskCompleted {
            completed_by: Some(format!("user-{}", number % 50)),
        }
        .into(),
    ];
    stamp(rng, tenant, id, started, payloads)
}

/// Builds the envelopes: versions from 1, a minute apart, one correlation
/// id per aggregate, ids from the generator.
fn stamp<E: EventSet>(
    rng: &mut Rng,
    tenant: TenantId,
    aggregate_id: Uuid,
    started: DateTime<Utc>,
    payloads: Vec<E>,
) -> Vec<RawEvent> {
    let correlation_id = rng.uuid();
    payloads
        .into_iter()
        .enumerate()
        .map(|(index, payload)| {
            let mut event = Event::<E>::new(aggregate_id, payload).with_tenant(tenant);
            let envelope = &mut event.envelope;
            envelope.event_id = rng.uuid();
            envelope.aggregate_version = index as u64 + 1;
            envelope.occurred_at = started + Duration::minutes(index as i64);
            envelope.correlation_id = correlation_id;
            envelope.actor_id = Some("bench".to_owned());
            event.to_raw().expect("the guide's payloads serialise to objects")
        })
        .collect()
}

fn write_files(tenants: &[TenantId], jsonl: &Path, csv: &Path) -> anyhow::Result<()> {
    let partial = |path: &Path| {
        let mut name = path.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    };
    let mut lines = BufWriter::with_capacity(1 << 20, std::fs::File::create(partial(jsonl))?);
    let mut rows = BufWriter::with_capacity(1 << 20, std::fs::File::create(partial(csv))?);
    for aggregate in aggregates(tenants.to_vec()) {
        for event in &aggregate {
            lines.write_all(to_flat_json(event).as_bytes())?;
            lines.write_all(b"\n")?;
            write_csv_row(&mut rows, event)?;
        }
    }
    lines.flush()?;
    rows.flush()?;
    drop((lines, rows));
    std::fs::rename(partial(jsonl), jsonl).context("cannot finish the JSON Lines file")?;
    std::fs::rename(partial(csv), csv).context("cannot finish the CSV file")?;
    Ok(())
}

/// The columns of the CSV rows, as `COPY` names them.
pub const CSV_COLUMNS: &str =
    "event_id, aggregate_id, aggregate_type, event_type, event_version, tenant_id, \
     actor_id, version, \"timestamp\", payload, correlation_id, causation_id, metadata";

/// One row in PostgreSQL's CSV format (an unquoted empty field is NULL).
pub fn write_csv_row(out: &mut impl Write, event: &RawEvent) -> std::io::Result<()> {
    let e = &event.envelope;
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let optional = |value: Option<String>| value.map(|v| quoted(&v)).unwrap_or_default();
    writeln!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{},{},{}",
        e.event_id,
        e.aggregate_id,
        quoted(&e.aggregate_type),
        quoted(&e.event_type),
        e.event_version,
        e.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
        optional(e.actor_id.clone()),
        e.aggregate_version,
        e.occurred_at.format("%Y-%m-%d %H:%M:%S%.6f+00"),
        quoted(&serde_json::to_string(&event.payload)?),
        e.correlation_id,
        e.causation_id.map(|c| c.to_string()).unwrap_or_default(),
        quoted(&serde_json::to_string(&e.metadata)?),
    )
}
