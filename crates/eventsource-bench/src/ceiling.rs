//! Raw-SQL ceilings: the same rows, the same statement shape, batch size,
//! concurrency and durability, without the library.
//!
//! - SQLite (W1): sqlx on a pool with the store's settings (WAL,
//!   `synchronous = FULL`), one `BEGIN IMMEDIATE`, one 10-row `INSERT`,
//!   `COMMIT` per order.
//! - PostgreSQL (W1): `psql` running one 10-row `INSERT` per order in
//!   autocommit, into the same migrated table (indexes and the trigger that
//!   serialises appends included), from 1 or 4 concurrent clients.
//! - W2: each order's stream read with the store's own `SELECT` through
//!   sqlx, every column read as a plain value and nothing decoded further.
//! - W4: the projection's rows read with a plain paged `SELECT`.
//! - W5: `COPY` of the same rows from CSV by `psql`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use eventsource::{AggregateRoot, Event, RawEvent, TenantId};
use eventsource_examples::guide::order::Order;
use eventsource_postgres::PostgresEventStore;
use eventsource_sqlite::SqliteEventStore;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, QueryBuilder, Row, Sqlite, SqlitePool};
use uuid::Uuid;

use crate::backend::{BackendKind, Environment, FreshStore};
use crate::dataset::{record_order, Rng, CSV_COLUMNS};
use crate::workloads::append_and_load::SavedOrder;
use crate::workloads::partition;

/// The orders of W1 as rows, generated before any clock starts.
pub fn order_rows(tenants: &[TenantId], per_tenant: usize, seed: u64) -> Vec<Vec<RawEvent>> {
    let mut rng = Rng::new(seed);
    let mut orders = Vec::with_capacity(tenants.len() * per_tenant);
    for &tenant in tenants {
        for _ in 0..per_tenant {
            let mut root = AggregateRoot::<Order>::new(rng.uuid(), Some(tenant));
            record_order(&mut root, &mut rng);
            let events = root
                .uncommitted_events()
                .iter()
                .map(Event::to_raw)
                .collect::<Result<Vec<_>, _>>()
                .expect("orders serialise");
            orders.push(events);
        }
    }
    orders
}

/// W1's ceiling on a fresh database: the rows of `orders`, one order per
/// transaction, from `writers` concurrent clients.
pub async fn append(
    environment: &Environment,
    kind: BackendKind,
    orders: &[Vec<RawEvent>],
    writers: usize,
) -> anyhow::Result<Duration> {
    match kind {
        BackendKind::Memory => bail!("no ceiling without a database"),
        BackendKind::Sqlite => sqlite_append(environment, orders, writers).await,
        BackendKind::Postgres => postgres_append(environment, orders, writers).await,
    }
}

async fn sqlite_append(
    environment: &Environment,
    orders: &[Vec<RawEvent>],
    writers: usize,
) -> anyhow::Result<Duration> {
    let folder = environment.sqlite_folder()?;
    let path = folder.join("events.db");
    // The library only creates the schema; every write below is plain sqlx.
    let schema = SqliteEventStore::open(&format!("sqlite://{}", path.display())).await?;
    schema.pool().close().await;
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;

    let shares = partition(orders, writers);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for share in shares {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for order in share {
                let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlite_insert(&order).build().execute(&mut *transaction).await?;
                transaction.commit().await?;
            }
            Ok::<_, sqlx::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    pool.close().await;
    environment.remove_folder(&folder);
    Ok(elapsed)
}

/// The library's SQLite `INSERT` for these rows, in the same text formats.
fn sqlite_insert(events: &[RawEvent]) -> QueryBuilder<'static, Sqlite> {
    let mut query: QueryBuilder<'static, Sqlite> = QueryBuilder::new(
        "INSERT INTO events (event_id, event_type, event_version, timestamp, aggregate_id, aggregate_type, \
         version, tenant_id, actor_id, correlation_id, causation_id, metadata, payload) ",
    );
    query.push_values(events.iter(), |mut row, event| {
        let e = &event.envelope;
        row.push_bind(e.event_id.hyphenated().to_string())
            .push_bind(e.event_type.clone())
            .push_bind(i64::from(e.event_version))
            .push_bind(e.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
            .push_bind(e.aggregate_id.hyphenated().to_string())
            .push_bind(e.aggregate_type.clone())
            .push_bind(e.aggregate_version as i64)
            .push_bind(e.tenant_id.map(|t| t.as_uuid().hyphenated().to_string()))
            .push_bind(e.actor_id.clone())
            .push_bind(e.correlation_id.hyphenated().to_string())
            .push_bind(e.causation_id.map(|c| c.hyphenated().to_string()))
            .push_bind(serde_json::to_string(&e.metadata).unwrap_or_default())
            .push_bind(serde_json::to_string(&event.payload).unwrap_or_default());
    });
    query.push(" RETURNING global_position");
    query
}

async fn postgres_append(
    environment: &Environment,
    orders: &[Vec<RawEvent>],
    clients: usize,
) -> anyhow::Result<Duration> {
    let database = environment.create_database().await?;
    let url = environment.postgres_url(&database);
    // The library only creates the schema (with its trigger); psql writes.
    let schema = PostgresEventStore::open(&url).await?;
    schema.pool().close().await;

    let folder = environment.sqlite_folder()?;
    let mut scripts = Vec::new();
    for (index, share) in partition(orders, clients).into_iter().enumerate() {
        let path = folder.join(format!("client-{index}.sql"));
        let mut script = String::with_capacity(share.len() * 4_096);
        for order in &share {
            script.push_str(&postgres_insert(order));
        }
        std::fs::write(&path, script)?;
        scripts.push(path);
    }

    let started = Instant::now();
    let mut children = Vec::new();
    for script in &scripts {
        children.push(psql(&url).arg("-f").arg(script).spawn()?);
    }
    for mut child in children {
        let status = child.wait().await?;
        anyhow::ensure!(status.success(), "psql failed: {status}");
    }
    let elapsed = started.elapsed();

    let stored: i64 = {
        let pool = PgPool::connect(&url).await?;
        let count = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        count
    };
    anyhow::ensure!(
        stored as usize == orders.iter().map(Vec::len).sum::<usize>(),
        "psql stored {stored} rows"
    );
    environment.remove_folder(&folder);
    environment.drop_database(&database).await?;
    Ok(elapsed)
}

/// A `psql` command on `url` that stops at the first error and prints
/// nothing else.
pub fn psql(url: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("psql");
    command
        .arg("-X")
        .arg("-q")
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-d")
        .arg(url)
        .stdout(std::process::Stdio::null());
    command
}

/// One multi-row `INSERT` statement of literal values.
fn postgres_insert(events: &[RawEvent]) -> String {
    let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let optional = |value: Option<String>| value.map_or_else(|| "NULL".to_owned(), |v| quote(&v));
    let mut sql = format!("INSERT INTO events ({CSV_COLUMNS}) VALUES ");
    for (index, event) in events.iter().enumerate() {
        let e = &event.envelope;
        if index > 0 {
            sql.push(',');
        }
        let _ = write!(
            sql,
            "('{}','{}',{},{},{},{},{},{},'{}',{},'{}',{},{})",
            e.event_id,
            e.aggregate_id,
            quote(&e.aggregate_type),
            quote(&e.event_type),
            e.event_version,
            optional(e.tenant_id.map(|t| t.to_string())),
            optional(e.actor_id.clone()),
            e.aggregate_version,
            e.occurred_at.format("%Y-%m-%d %H:%M:%S%.6f+00"),
            quote(&serde_json::to_string(&event.payload).unwrap_or_default()),
            e.correlation_id,
            optional(e.causation_id.map(|c| c.to_string())),
            quote(&serde_json::to_string(&e.metadata).unwrap_or_default()),
        );
    }
    sql.push_str(";\n");
    sql
}

/// W2's ceiling: the orders' streams read by `readers` concurrent tasks
/// with the store's own statement; `None` without a database.
pub async fn load(
    store: &FreshStore,
    orders: &[SavedOrder],
    readers: usize,
) -> anyhow::Result<Option<Duration>> {
    if let Some(sqlite) = &store.sqlite {
        return Ok(Some(sqlite_load(sqlite.pool(), orders, readers).await?));
    }
    if let Some(postgres) = &store.postgres {
        return Ok(Some(postgres_load(postgres.pool(), orders, readers).await?));
    }
    Ok(None)
}

const SQLITE_COLUMNS: &str =
    "global_position, event_id, event_type, event_version, timestamp, aggregate_id, \
     aggregate_type, version, tenant_id, actor_id, correlation_id, causation_id, metadata, payload";

async fn sqlite_load(pool: &SqlitePool, orders: &[SavedOrder], readers: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for share in partition(orders, readers) {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let sql = format!(
                "SELECT {SQLITE_COLUMNS} FROM events WHERE aggregate_id = ? AND aggregate_type = ? \
                 AND version > ? ORDER BY version"
            );
            let mut read = 0usize;
            for (_, id) in share {
                let rows = sqlx::query(&sql)
                    .bind(id.hyphenated().to_string())
                    .bind("Order")
                    .bind(0_i64)
                    .fetch_all(&pool)
                    .await?;
                for row in &rows {
                    read += sqlite_row_bytes(row)?;
                }
            }
            Ok::<_, sqlx::Error>(read)
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

fn sqlite_row_bytes(row: &sqlx::sqlite::SqliteRow) -> Result<usize, sqlx::Error> {
    let mut bytes = row.try_get::<i64, _>(0)? as usize;
    for index in [1, 2, 4, 5, 6, 10, 12, 13] {
        bytes += row.try_get::<String, _>(index)?.len();
    }
    bytes += row.try_get::<i64, _>(3)? as usize + row.try_get::<i64, _>(7)? as usize;
    for index in [8, 9, 11] {
        bytes += row.try_get::<Option<String>, _>(index)?.map_or(0, |s| s.len());
    }
    Ok(bytes)
}

/// The store's stream statement.
const READ_STREAM: &str = "SELECT global_position, event_id, event_type, event_version, \"timestamp\", \
     aggregate_id, aggregate_type, version, tenant_id, actor_id, correlation_id, causation_id, \
     metadata::text AS metadata, payload::text AS payload FROM events \
     WHERE aggregate_id = $1 AND aggregate_type = $2 AND version > $3 ORDER BY version";

type PostgresRow = (
    i64,
    Uuid,
    String,
    i32,
    DateTime<Utc>,
    Uuid,
    String,
    i32,
    Option<Uuid>,
    Option<String>,
    Uuid,
    Option<Uuid>,
    String,
    String,
);

async fn postgres_load(pool: &PgPool, orders: &[SavedOrder], readers: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for share in partition(orders, readers) {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut read = 0usize;
            for (_, id) in share {
                let rows: Vec<PostgresRow> = sqlx::query_as(READ_STREAM)
                    .bind(id)
                    .bind("Order")
                    .bind(0_i64)
                    .fetch_all(&pool)
                    .await?;
                read += rows.iter().map(|row| row.13.len()).sum::<usize>();
            }
            Ok::<_, sqlx::Error>(read)
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// W4's baseline on SQLite: the projection's rows (its event types, in
/// position order) read with a plain paged `SELECT`; returns the rows read.
pub async fn sqlite_paged_select(
    pool: &SqlitePool,
    event_types: &[String],
    page: i64,
) -> anyhow::Result<usize> {
    let placeholders = vec!["?"; event_types.len()].join(", ");
    let sql = format!(
        "SELECT {SQLITE_COLUMNS} FROM events WHERE global_position > ? AND event_type IN ({placeholders}) \
         ORDER BY global_position LIMIT ?"
    );
    let (mut after, mut read) = (0_i64, 0usize);
    loop {
        let mut query = sqlx::query(&sql).bind(after);
        for event_type in event_types {
            query = query.bind(event_type.clone());
        }
        let rows = query.bind(page).fetch_all(pool).await?;
        for row in &rows {
            sqlite_row_bytes(row)?;
        }
        read += rows.len();
        match rows.last() {
            Some(last) if rows.len() as i64 == page => after = last.try_get(0)?,
            _ => return Ok(read),
        }
    }
}

/// W4's baseline on PostgreSQL (see [`sqlite_paged_select`]).
pub async fn postgres_paged_select(
    pool: &PgPool,
    event_types: &[String],
    page: i64,
) -> anyhow::Result<usize> {
    let sql = "SELECT global_position, event_id, event_type, event_version, \"timestamp\", aggregate_id, \
               aggregate_type, version, tenant_id, actor_id, correlation_id, causation_id, \
               metadata::text AS metadata, payload::text AS payload FROM events \
               WHERE global_position > $1 AND event_type = ANY($2) ORDER BY global_position LIMIT $3";
    let (mut after, mut read) = (0_i64, 0usize);
    loop {
        let rows: Vec<PostgresRow> = sqlx::query_as(sql)
            .bind(after)
            .bind(event_types)
            .bind(page)
            .fetch_all(pool)
            .await?;
        read += rows.len();
        match rows.last() {
            Some(last) if rows.len() as i64 == page => after = last.0,
            _ => return Ok(read),
        }
    }
}

/// W5's ceiling: `COPY` of the data set's CSV into a fresh migrated
/// database by `psql`; returns how long the `COPY` took.
pub async fn postgres_copy(environment: &Environment, csv: &Path) -> anyhow::Result<Duration> {
    let database = environment.create_database().await?;
    let url = environment.postgres_url(&database);
    let schema = PostgresEventStore::open(&url).await?;
    schema.pool().close().await;
    let csv = std::fs::canonicalize(csv).with_context(|| format!("no {}", csv.display()))?;
    let copy = format!(
        "\\copy events ({CSV_COLUMNS}) FROM '{}' WITH (FORMAT csv)",
        csv.display()
    );
    let started = Instant::now();
    let status = psql(&url).arg("-c").arg(&copy).status().await?;
    let elapsed = started.elapsed();
    environment.drop_database(&database).await?;
    anyhow::ensure!(status.success(), "psql \\copy failed: {status}");
    Ok(elapsed)
}
