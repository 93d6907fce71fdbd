//! Projections through the runner on the in-memory stores: catch-up, live
//! following, retries and dead letters, rebuilds and tenant filters.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventsource::projection::{
    DeclarativeProjection, DocumentKey, InMemoryProjectionStore, Projection, ProjectionRunner,
    ProjectionStore, RetryPolicy, RunnerOptions,
};
use eventsource::{
    DomainEvent, Envelope, EventStore, ExpectedVersion, InMemoryEventStore, RawEvent, TenantFilter, TenantId,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Counted {
    amount: u64,
}
impl DomainEvent for Counted {
    const EVENT_TYPE: &'static str = "Counted";
    const AGGREGATE_TYPE: &'static str = "Counter";
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Total {
    events: u64,
    amount: u64,
}

fn raw(event_type: &str, tenant: Option<TenantId>, payload: serde_json::Value) -> RawEvent {
    let mut envelope = Envelope::new(event_type, Uuid::new_v4(), "Counter");
    envelope.tenant_id = tenant;
    let serde_json::Value::Object(payload) = payload else {
        panic!("payload must be an object")
    };
    RawEvent { envelope, payload }
}

async fn append(store: &InMemoryEventStore, event: RawEvent) {
    store
        .append(ExpectedVersion::NoStream, vec![event])
        .await
        .unwrap();
}

fn totals(name: &str) -> DeclarativeProjection<Total> {
    DeclarativeProjection::<Total>::new(name)
        .keyed_by(DocumentKey::per_tenant)
        .on::<Counted>(|event, total| {
            let total = total.get_or_insert_with(Total::default);
            total.events += 1;
            total.amount += event.payload.amount;
            Ok(())
        })
}

fn fast_runner(events: &Arc<InMemoryEventStore>, models: &Arc<InMemoryProjectionStore>) -> ProjectionRunner {
    ProjectionRunner::new(Arc::clone(events) as _, Arc::clone(models) as _).with_options(RunnerOptions {
        batch_size: 4,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(1),
            multiplier: 2.0,
            max_delay: Duration::from_millis(5),
        },
        poll_interval: Duration::from_millis(20),
    })
}

async fn total_of(models: &InMemoryProjectionStore, name: &str, tenant: Option<TenantId>) -> Option<Total> {
    let key = tenant.map_or_else(|| "none".to_owned(), |t| t.to_string());
    models
        .document(name, tenant, &key)
        .await
        .unwrap()
        .map(|v| serde_json::from_value(v).unwrap())
}

#[tokio::test]
async fn catching_up_applies_every_event_once_and_records_the_checkpoint() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    let tenant = Some(TenantId::new_random());
    for amount in 1..=10 {
        append(&events, raw("Counted", tenant, json!({"amount": amount}))).await;
    }
    let runner = fast_runner(&events, &models);
    let projection = totals("totals");

    let mut progress = Vec::new();
    let report = runner
        .catch_up(&projection, |position, head| progress.push((position, head)))
        .await
        .unwrap();
    assert_eq!(
        (report.handled, report.parked, report.position),
        (10, 0, Some(10))
    );
    assert_eq!(progress.last(), Some(&(10, 10)));
    assert_eq!(
        total_of(&models, "totals", tenant).await,
        Some(Total {
            events: 10,
            amount: 55
        })
    );
    let checkpoint = models.checkpoint("totals").await.unwrap().unwrap();
    assert_eq!((checkpoint.position, checkpoint.events_processed), (10, 10));
    assert_eq!(runner.lag("totals").await.unwrap(), 0);

    // Running again finds nothing new and changes nothing.
    let again = runner.catch_up(&projection, |_, _| {}).await.unwrap();
    assert_eq!((again.handled, again.parked), (0, 0));
    assert_eq!(total_of(&models, "totals", tenant).await.unwrap().events, 10);
}

#[tokio::test]
async fn events_without_a_handler_are_skipped_without_decoding() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    // A payload no handler could decode: it must never be looked at.
    append(
        &events,
        raw("Unrelated", None, json!({"amount": "not a number", "x": [1, 2]})),
    )
    .await;
    append(&events, raw("Counted", None, json!({"amount": 2}))).await;
    append(&events, raw("Unrelated", None, json!({}))).await;
    let runner = fast_runner(&events, &models);

    let report = runner.catch_up(&totals("totals"), |_, _| {}).await.unwrap();
    assert_eq!((report.handled, report.parked), (1, 0));
    assert!(models.dead_letters(None).await.unwrap().is_empty());
    assert_eq!(
        models.checkpoint("totals").await.unwrap().unwrap().position,
        3,
        "skipped events are passed over"
    );
    assert_eq!(runner.lag("totals").await.unwrap(), 0);
}

#[tokio::test]
async fn a_poison_event_is_retried_then_parked_and_processing_goes_on() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    append(&events, raw("Counted", None, json!({"amount": 1}))).await;
    append(&events, raw("Counted", None, json!({"amount": 666}))).await;
    append(&events, raw("Counted", None, json!({"amount": 2}))).await;
    let tries = Arc::new(AtomicU32::new(0));
    let broken = Arc::new(AtomicBool::new(true));
    let projection = {
        let (tries, broken) = (Arc::clone(&tries), Arc::clone(&broken));
        DeclarativeProjection::<Total>::new("picky")
            .keyed_by(DocumentKey::per_tenant)
            .on::<Counted>(move |event, total| {
                let total = total.get_or_insert_with(Total::default);
                // The change below must be rolled back when the handler fails.
                total.events += 1;
                if event.payload.amount == 666 {
                    tries.fetch_add(1, Ordering::SeqCst);
                    if broken.load(Ordering::SeqCst) {
                        return Err("amount 666 is cursed".into());
                    }
                }
                total.amount += event.payload.amount;
                Ok(())
            })
    };
    let runner = fast_runner(&events, &models);

    let report = runner.catch_up(&projection, |_, _| {}).await.unwrap();
    assert_eq!((report.handled, report.parked), (2, 1));
    assert_eq!(tries.load(Ordering::SeqCst), 3, "three attempts before parking");
    assert_eq!(
        total_of(&models, "picky", None).await,
        Some(Total { events: 2, amount: 3 })
    );
    let letters = models.dead_letters(Some("picky")).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].position, letters[0].attempts), (2, 3));
    assert!(
        letters[0].error.contains("amount 666 is cursed"),
        "{}",
        letters[0].error
    );

    // A retry that fails again keeps it parked with one more attempt.
    assert!(!runner
        .retry_dead_letter(&projection, letters[0].id)
        .await
        .unwrap());
    assert_eq!(models.dead_letters(Some("picky")).await.unwrap()[0].attempts, 4);

    // Once the cause is fixed, a retry applies it and removes the letter.
    broken.store(false, Ordering::SeqCst);
    assert!(runner
        .retry_dead_letter(&projection, letters[0].id)
        .await
        .unwrap());
    assert!(models.dead_letters(Some("picky")).await.unwrap().is_empty());
    assert_eq!(
        total_of(&models, "picky", None).await,
        Some(Total {
            events: 3,
            amount: 669
        })
    );
}

#[tokio::test]
async fn a_parked_event_can_be_discarded() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    append(&events, raw("Counted", None, json!({"amount": "NaN"}))).await;
    let runner = fast_runner(&events, &models);
    let projection = totals("totals");
    runner.catch_up(&projection, |_, _| {}).await.unwrap();
    let letters = models.dead_letters(Some("totals")).await.unwrap();
    assert_eq!(letters.len(), 1, "a payload that does not decode is parked");
    assert!(letters[0].error.contains("Counted"), "{}", letters[0].error);

    runner.discard_dead_letter("totals", letters[0].id).await.unwrap();
    assert!(models.dead_letters(None).await.unwrap().is_empty());
    assert!(
        runner.discard_dead_letter("totals", letters[0].id).await.is_err(),
        "discarding twice is an error"
    );
}

#[tokio::test]
async fn a_rebuild_gives_an_identical_read_model() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    let tenants: Vec<Option<TenantId>> =
        vec![Some(TenantId::new_random()), Some(TenantId::new_random()), None];
    for i in 0..30_u64 {
        append(
            &events,
            raw("Counted", tenants[i as usize % 3], json!({"amount": i * 7})),
        )
        .await;
    }
    let runner = fast_runner(&events, &models);
    let projection = totals("totals");
    runner.catch_up(&projection, |_, _| {}).await.unwrap();
    let before = models.documents("totals", TenantFilter::Any).await.unwrap();

    let report = runner.rebuild(&projection, |_, _| {}).await.unwrap();
    assert_eq!(report.handled, 30);
    assert_eq!(
        models.documents("totals", TenantFilter::Any).await.unwrap(),
        before
    );
    assert_eq!(
        models
            .checkpoint("totals")
            .await
            .unwrap()
            .unwrap()
            .events_processed,
        30
    );
}

#[tokio::test]
async fn a_tenant_filtered_projection_sees_only_that_tenant() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    for tenant in [Some(acme), Some(globex), None, Some(acme)] {
        append(&events, raw("Counted", tenant, json!({"amount": 1}))).await;
    }
    let runner = fast_runner(&events, &models);
    let projection = totals("acme_totals").for_tenant(TenantFilter::Tenant(acme));
    runner.catch_up(&projection, |_, _| {}).await.unwrap();

    let documents = models.documents("acme_totals", TenantFilter::Any).await.unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].tenant_id, Some(acme));
    assert_eq!(
        total_of(&models, "acme_totals", Some(acme)).await.unwrap().events,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn side_by_side_projections_follow_live_and_save_their_checkpoint_on_shutdown() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    append(&events, raw("Counted", None, json!({"amount": 1}))).await;
    let runner = fast_runner(&events, &models);
    let (stop, stopped) = tokio::sync::watch::channel(false);

    let tasks: Vec<_> = ["fast", "slow"]
        .into_iter()
        .map(|name| {
            let runner = runner.clone();
            let mut stopped = stopped.clone();
            let projection: Arc<dyn Projection> = if name == "slow" {
                Arc::new(totals(name).on::<Counted>(|event, total| {
                    std::thread::sleep(Duration::from_millis(2));
                    let total = total.get_or_insert_with(Total::default);
                    total.events += 1;
                    total.amount += event.payload.amount;
                    Ok(())
                }))
            } else {
                Arc::new(totals(name))
            };
            tokio::spawn(async move {
                runner
                    .run(projection, async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await;
            })
        })
        .collect();

    for amount in 2..=40 {
        append(&events, raw("Counted", None, json!({"amount": amount}))).await;
        if amount % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let expected = Total {
        events: 40,
        amount: 820,
    };
    for name in ["fast", "slow"] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while total_of(&models, name, None).await.as_ref() != Some(&expected) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} did not catch up live"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    stop.send(true).unwrap();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("shutdown is prompt")
            .unwrap();
    }
    for name in ["fast", "slow"] {
        assert_eq!(models.checkpoint(name).await.unwrap().unwrap().position, 40);
    }
}

#[test]
fn backoff_grows_exponentially_up_to_the_cap() {
    let policy = RetryPolicy {
        max_attempts: 5,
        initial_delay: Duration::from_millis(10),
        multiplier: 3.0,
        max_delay: Duration::from_millis(200),
    };
    let delays: Vec<u128> = (1..=5)
        .map(|attempt| policy.delay_after(attempt).as_millis())
        .collect();
    assert_eq!(delays, [10, 30, 90, 200, 200]);
}
