//! W1 (append through the repository, one aggregate per save) and W2
//! (rehydrate the aggregates W1 saved; one long stream with and without a
//! snapshot), with their raw-SQL ceilings.

use std::sync::Arc;

use eventsource::{tenant_scope, EventStore, Repository, SnapshotStrategy, TenantAwareRepository, TenantId};
use eventsource_examples::guide::order::Order;
use uuid::Uuid;

use super::{partition, rate, timed};
use crate::backend::{BackendKind, Environment};
use crate::ceiling;
use crate::dataset::{record_order, tenants, Rng};
use crate::domain::{Account, Deposited};
use crate::measure::{thousands, Measurement, Subject};
use crate::scale::{Scale, EVENTS_PER_ORDER};

/// One saved order: its tenant and id.
pub type SavedOrder = (TenantId, Uuid);

/// Concurrent writers (and readers) of the "4 concurrent" cases.
const CONCURRENT: usize = 4;

/// Runs W1 and/or W2 on one backend.
pub async fn run(
    environment: &Environment,
    kind: BackendKind,
    scale: &Scale,
    repeat: usize,
    report_append: bool,
    report_load: bool,
) -> anyhow::Result<Vec<Measurement>> {
    let backend = kind.name();
    let tenants = tenants(1, scale.append_tenants);
    let events = scale.append_events();
    let aggregates = scale.append_tenants * scale.aggregates_per_tenant;
    let append_scale = format!(
        "{} tenants × {} aggregates × {EVENTS_PER_ORDER} events = {} events",
        thousands(scale.append_tenants),
        scale.aggregates_per_tenant,
        thousands(events)
    );
    let load_scale = format!(
        "{} aggregates of {EVENTS_PER_ORDER} events",
        thousands(aggregates)
    );
    let mut out = Vec::new();

    let mut appended: [Vec<f64>; 2] = Default::default();
    let mut loaded: [Vec<f64>; 2] = Default::default();
    let mut raw_loaded: [Vec<f64>; 2] = Default::default();
    for run in 0..repeat {
        for (slot, writers) in [1, CONCURRENT].into_iter().enumerate() {
            if slot == 1 && !report_append {
                continue;
            }
            eprintln!("W1 {backend}: run {} of {repeat}, {writers} writer(s)", run + 1);
            let store = environment.fresh(kind).await?;
            let seed = 1_000 + run as u64;
            let (saved, elapsed) = timed(append(
                Arc::clone(&store.events),
                &tenants,
                scale.aggregates_per_tenant,
                writers,
                seed,
            ))
            .await?;
            appended[slot].push(rate(events, elapsed));

            if slot == 0 && report_load {
                for (slot, readers) in [1, CONCURRENT].into_iter().enumerate() {
                    eprintln!("W2 {backend}: run {} of {repeat}, {readers} reader(s)", run + 1);
                    let (_, elapsed) = timed(load(Arc::clone(&store.events), &saved, readers)).await?;
                    loaded[slot].push(rate(saved.len(), elapsed));
                    if let Some(elapsed) = ceiling::load(&store, &saved, readers).await? {
                        raw_loaded[slot].push(rate(saved.len(), elapsed));
                    }
                }
            }
            environment.close(store).await?;
        }
    }

    for (slot, writers) in [1, CONCURRENT].into_iter().enumerate() {
        let case = format!("append, {writers} writer{}", if writers == 1 { "" } else { "s" });
        if report_append {
            out.push(Measurement::new(
                "W1",
                &case,
                backend,
                Subject::Ours,
                "events/s",
                append_scale.clone(),
                appended[slot].clone(),
            ));
            if kind != BackendKind::Memory {
                let mut runs = Vec::new();
                for run in 0..repeat {
                    eprintln!(
                        "W1 {backend} ceiling: run {} of {repeat}, {writers} writer(s)",
                        run + 1
                    );
                    let orders =
                        ceiling::order_rows(&tenants, scale.aggregates_per_tenant, 5_000 + run as u64);
                    let elapsed = ceiling::append(environment, kind, &orders, writers).await?;
                    runs.push(rate(events, elapsed));
                }
                let note = match kind {
                    BackendKind::Sqlite => "sqlx, no library: BEGIN IMMEDIATE; one 10-row INSERT; COMMIT",
                    _ => "psql: one 10-row INSERT per transaction (autocommit), same table and trigger",
                };
                out.push(
                    Measurement::new(
                        "W1",
                        &case,
                        backend,
                        Subject::Ceiling,
                        "events/s",
                        append_scale.clone(),
                        runs,
                    )
                    .with_note(note),
                );
            }
        }
        if report_load {
            let case = format!("load, {writers} reader{}", if writers == 1 { "" } else { "s" });
            out.push(Measurement::new(
                "W2",
                &case,
                backend,
                Subject::Ours,
                "aggregates/s",
                load_scale.clone(),
                loaded[slot].clone(),
            ));
            if !raw_loaded[slot].is_empty() {
                out.push(
                    Measurement::new(
                        "W2",
                        &case,
                        backend,
                        Subject::Ceiling,
                        "aggregates/s",
                        load_scale.clone(),
                        raw_loaded[slot].clone(),
                    )
                    .with_note("sqlx, no library: the stream's SELECT, columns read, nothing decoded"),
                );
            }
        }
    }

    if report_load {
        out.extend(long_stream(environment, kind, scale, repeat).await?);
    }
    Ok(out)
}

/// W1: `writers` tasks, each saving whole orders of its share of the
/// tenants through the tenant-aware repository, one save per order.
pub async fn append(
    store: Arc<dyn EventStore>,
    tenants: &[TenantId],
    per_tenant: usize,
    writers: usize,
    seed: u64,
) -> anyhow::Result<Vec<SavedOrder>> {
    let mut tasks = Vec::new();
    for (index, share) in partition(tenants, writers).into_iter().enumerate() {
        let orders = TenantAwareRepository::<Order>::new(Arc::clone(&store));
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed * 1_000 + index as u64);
            let mut saved = Vec::with_capacity(share.len() * per_tenant);
            for tenant in share {
                let result = tenant_scope(tenant, async {
                    for _ in 0..per_tenant {
                        let id = rng.uuid();
                        let mut order = orders.create_new(id)?;
                        record_order(&mut order, &mut rng);
                        orders.save(&mut order).await?;
                        saved.push((tenant, id));
                    }
                    Ok::<_, eventsource::RepositoryError>(())
                })
                .await;
                result?;
            }
            Ok::<_, anyhow::Error>(saved)
        }));
    }
    let mut saved = Vec::new();
    for task in tasks {
        saved.extend(task.await??);
    }
    Ok(saved)
}

/// W2: `readers` tasks, each loading its share of the orders through the
/// tenant-aware repository.
pub async fn load(store: Arc<dyn EventStore>, orders: &[SavedOrder], readers: usize) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for share in partition(orders, readers) {
        let repository = TenantAwareRepository::<Order>::new(Arc::clone(&store));
        tasks.push(tokio::spawn(async move {
            for (tenant, id) in share {
                let order = tenant_scope(tenant, repository.load(id)).await?;
                debug_assert_eq!(order.version(), EVENTS_PER_ORDER as u64);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// W2's long stream: one account of `long_stream_events` deposits, loaded
/// by replaying every event and from a snapshot at its last version.
async fn long_stream(
    environment: &Environment,
    kind: BackendKind,
    scale: &Scale,
    repeat: usize,
) -> anyhow::Result<Vec<Measurement>> {
    let backend = kind.name();
    let store = environment.fresh(kind).await?;
    let length = scale.long_stream_events;
    let stream_scale = format!("1 aggregate of {} events", thousands(length as usize));
    let snapshots = store.snapshots();
    let tenant = TenantId::from_uuid(Uuid::from_u128(7));
    let id = Uuid::from_u128(0xACC0);

    eprintln!("W2 {backend}: building the long stream of {length} events");
    let mut writer = Repository::<Account>::new(Arc::clone(&store.events));
    if let Some(snapshots) = &snapshots {
        writer = writer.with_snapshots(Arc::clone(snapshots), SnapshotStrategy::EveryNEvents(length));
    }
    let mut account = writer.create_new(id, Some(tenant));
    let mut rng = Rng::new(99);
    while account.version() < length {
        let chunk = scale.long_stream_chunk.min(length - account.version());
        for _ in 0..chunk {
            account.record(Deposited {
                cents: 1 + rng.below(10_000),
            });
        }
        writer.save(&mut account).await?;
    }

    let replaying = Repository::<Account>::new(Arc::clone(&store.events));
    // One untimed load of each kind first: the figures are of a warm
    // process (connections open, statements prepared), not of its start.
    replaying.load(id).await?;
    writer.load(id).await?;
    let mut replayed = Vec::new();
    let mut from_snapshot = Vec::new();
    for run in 0..repeat {
        eprintln!("W2 {backend}: long stream, run {} of {repeat}", run + 1);
        let (loaded, elapsed) = timed(async { Ok(replaying.load(id).await?) }).await?;
        anyhow::ensure!(loaded.version() == length, "the long stream did not load whole");
        replayed.push(elapsed.as_secs_f64() * 1_000.0);
        if snapshots.is_some() {
            let (loaded, elapsed) = timed(async { Ok(writer.load(id).await?) }).await?;
            anyhow::ensure!(loaded.state() == account.state(), "the snapshot load differs");
            from_snapshot.push(elapsed.as_secs_f64() * 1_000.0);
        }
    }
    environment.close(store).await?;

    let mut out = vec![Measurement::new(
        "W2",
        "long stream, no snapshot",
        backend,
        Subject::Ours,
        "ms",
        stream_scale.clone(),
        replayed,
    )];
    let with_snapshot = if from_snapshot.is_empty() {
        Measurement::new(
            "W2",
            "long stream, snapshot",
            backend,
            Subject::Ours,
            "ms",
            stream_scale,
            Vec::new(),
        )
        .with_note("pending: this backend has no snapshot store yet")
    } else {
        Measurement::new(
            "W2",
            "long stream, snapshot",
            backend,
            Subject::Ours,
            "ms",
            stream_scale,
            from_snapshot,
        )
    };
    out.push(with_snapshot);
    Ok(out)
}
