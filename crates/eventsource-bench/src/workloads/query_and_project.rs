//! W3 (one tenant's Order events in a 30-day window, latency) and W4 (the
//! per-tenant statistics projection caught up over the whole data set), on
//! a store holding the data set.

use std::sync::Arc;
use std::time::Instant;

use eventsource::projection::{InMemoryProjectionStore, Projection, ProjectionRunner, ProjectionStore};
use eventsource::{EventFilter, ReadAllOptions, StreamWrite, TenantFilter};
use eventsource_examples::guide::projections::{tenant_statistics, TenantStatistics, TENANT_STATISTICS};
use futures::TryStreamExt;

use super::rate;
use crate::backend::{BackendKind, Environment, FreshStore};
use crate::ceiling;
use crate::dataset::{query_window, Dataset, Rng};
use crate::measure::{median, quantile, thousands, Measurement, Subject};

/// Aggregates per append while the data set is loaded (about 1,000 events).
const LOAD_BATCH: usize = 180;

/// Warm-up queries before W3's clock starts.
const WARM_UP_QUERIES: usize = 100;

/// Runs W3 and/or W4 on one backend.
pub async fn run(
    environment: &Environment,
    kind: BackendKind,
    dataset: &Dataset,
    repeat: usize,
    report_query: bool,
    report_projection: bool,
) -> anyhow::Result<Vec<Measurement>> {
    let backend = kind.name();
    let store = environment.fresh(kind).await?;
    let (_, loaded) = super::timed(load_dataset(&store, dataset)).await?;
    eprintln!(
        "W3/W4 {backend}: loaded {} events in {:.1} s ({:.0} events/s through append_streams)",
        dataset.events,
        loaded.as_secs_f64(),
        rate(dataset.events, loaded)
    );
    let size = format!(
        "{} events, {} tenants",
        thousands(dataset.events),
        thousands(dataset.tenants.len())
    );

    let mut out = Vec::new();
    if report_query {
        out.extend(query(&store, dataset, repeat, &size).await?);
    }
    if report_projection {
        out.extend(project(&store, dataset, repeat, &size).await?);
    }
    environment.close(store).await?;
    Ok(out)
}

/// Appends the data set through the store, about 1,000 events per call,
/// then lets the database gather statistics as it would on its own.
async fn load_dataset(store: &FreshStore, dataset: &Dataset) -> anyhow::Result<()> {
    let mut writes = Vec::with_capacity(LOAD_BATCH);
    for events in dataset.aggregates() {
        writes.push(StreamWrite {
            expected: eventsource::ExpectedVersion::NoStream,
            events,
        });
        if writes.len() == LOAD_BATCH {
            store.events.append_streams(&writes).await?;
            writes.clear();
        }
    }
    if !writes.is_empty() {
        store.events.append_streams(&writes).await?;
    }
    if let Some(sqlite) = &store.sqlite {
        sqlx::query("ANALYZE").execute(sqlite.pool()).await?;
    }
    if let Some(postgres) = &store.postgres {
        sqlx::query("VACUUM ANALYZE events")
            .execute(postgres.pool())
            .await?;
    }
    Ok(())
}

async fn query(
    store: &FreshStore,
    dataset: &Dataset,
    repeat: usize,
    size: &str,
) -> anyhow::Result<Vec<Measurement>> {
    let backend = store.kind.name();
    let (from, until) = query_window();
    let filter = |tenant| {
        EventFilter::tenant(TenantFilter::Tenant(tenant))
            .aggregate_type("Order")
            .occurred_between(Some(from), Some(until))
    };
    let mut order = dataset.tenants.clone();
    let mut rng = Rng::new(11);
    for index in (1..order.len()).rev() {
        order.swap(index, rng.below(index as u64 + 1) as usize);
    }

    for &tenant in order.iter().take(WARM_UP_QUERIES) {
        store.events.events_by_type(filter(tenant), None).await?;
    }
    let (mut p50, mut p99, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..repeat {
        eprintln!("W3 {backend}: run {} of {repeat}", run + 1);
        let mut latencies = Vec::with_capacity(order.len());
        for &tenant in &order {
            let started = Instant::now();
            let events = store.events.events_by_type(filter(tenant), None).await?;
            latencies.push(started.elapsed().as_secs_f64() * 1_000.0);
            rows.push(events.len() as f64);
        }
        p50.push(quantile(&latencies, 0.50));
        p99.push(quantile(&latencies, 0.99));
    }
    let scale = format!(
        "{size}; {} queries a run, {:.0} events each (median)",
        order.len(),
        median(&rows)
    );
    Ok(vec![
        Measurement::new(
            "W3",
            "tenant query p50",
            backend,
            Subject::Ours,
            "ms",
            scale.clone(),
            p50,
        ),
        Measurement::new("W3", "tenant query p99", backend, Subject::Ours, "ms", scale, p99),
    ])
}

async fn project(
    store: &FreshStore,
    dataset: &Dataset,
    repeat: usize,
    size: &str,
) -> anyhow::Result<Vec<Measurement>> {
    let backend = store.kind.name();
    let projection = tenant_statistics();
    let event_types = projection.event_types().unwrap_or_default();
    let page = eventsource::projection::RunnerOptions::default().batch_size;

    let (models, stand_in): (Arc<dyn ProjectionStore>, bool) = match store.projections() {
        Some(models) => (models, false),
        None => (Arc::new(InMemoryProjectionStore::new()), true),
    };
    let (mut caught_up, mut selected) = (Vec::new(), Vec::new());
    let mut handled = 0;
    for run in 0..repeat {
        eprintln!("W4 {backend}: run {} of {repeat}", run + 1);
        models.reset(TENANT_STATISTICS).await?;
        let runner = ProjectionRunner::new(Arc::clone(&store.events), Arc::clone(&models));
        let started = Instant::now();
        let report = runner.catch_up(&projection, |_, _| {}).await?;
        caught_up.push(rate(dataset.events, started.elapsed()));
        handled = report.handled;
        check_statistics(models.as_ref(), dataset).await?;

        let started = Instant::now();
        let read = paged_select(store, &event_types, page).await?;
        selected.push(rate(dataset.events, started.elapsed()));
        anyhow::ensure!(
            read as u64 == handled,
            "the SELECT read {read} rows, the projection {handled}"
        );
    }

    let scale = format!(
        "{size}; {} events handled, checkpoint every {page}",
        thousands(handled as usize)
    );
    let case = if stand_in {
        "catch-up, read model in memory (stand-in)"
    } else {
        "catch-up"
    };
    let mut ours = Measurement::new(
        "W4",
        case,
        backend,
        Subject::Ours,
        "events/s",
        scale.clone(),
        caught_up,
    );
    if stand_in {
        ours = ours.with_note("the PostgreSQL projection store is pending; events are read from PostgreSQL");
    }
    let baseline_note = match store.kind {
        BackendKind::Memory => "the store's own filtered read_all (no SQL)",
        _ => "plain paged SELECT of the same rows (same filter, page size), columns read",
    };
    let mut out = vec![
        ours,
        Measurement::new(
            "W4",
            case,
            backend,
            Subject::Ceiling,
            "events/s",
            scale.clone(),
            selected,
        )
        .with_note(baseline_note),
    ];
    if stand_in {
        out.push(
            Measurement::new(
                "W4",
                "catch-up",
                backend,
                Subject::Ours,
                "events/s",
                scale,
                Vec::new(),
            )
            .with_note("pending: no PostgreSQL projection store yet"),
        );
    }
    Ok(out)
}

/// Reads the projection's rows without the runner.
async fn paged_select(store: &FreshStore, event_types: &[String], page: usize) -> anyhow::Result<usize> {
    if let Some(sqlite) = &store.sqlite {
        return ceiling::sqlite_paged_select(sqlite.pool(), event_types, page as i64).await;
    }
    if let Some(postgres) = &store.postgres {
        return ceiling::postgres_paged_select(postgres.pool(), event_types, page as i64).await;
    }
    let mut filter = EventFilter::all();
    filter.event_types = event_types.to_vec();
    let options = ReadAllOptions {
        filter,
        page_size: page,
        ..ReadAllOptions::default()
    };
    let events: Vec<_> = store.events.read_all(options).try_collect().await?;
    Ok(events.len())
}

/// Every tenant has 80 orders, all shipped.
async fn check_statistics(models: &dyn ProjectionStore, dataset: &Dataset) -> anyhow::Result<()> {
    let documents = models.documents(TENANT_STATISTICS, TenantFilter::Any).await?;
    anyhow::ensure!(
        documents.len() == dataset.tenants.len(),
        "{} documents",
        documents.len()
    );
    for document in documents {
        let statistics: TenantStatistics = serde_json::from_value(document.value)?;
        anyhow::ensure!(
            statistics.order_count == 80 && statistics.shipped_count == 80,
            "wrong statistics: {statistics:?}"
        );
    }
    Ok(())
}
