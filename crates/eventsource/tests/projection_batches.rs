//! What the runner sends to the projection store within one batch: a failing
//! event's document changes are undone while the batch's other changes of
//! the same documents stay, and a batch reads and writes its documents in
//! one request each.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use eventsource::projection::{
    Checkpoint, DeadLetter, DeclarativeProjection, Document, DocumentKey, InMemoryProjectionStore,
    Projection, ProjectionError, ProjectionRunner, ProjectionStore, ProjectionTx, RetryPolicy, RunnerOptions,
};
use eventsource::{
    Envelope, EventStore, ExpectedVersion, InMemoryEventStore, RawEvent, StoreResult, StoredEvent,
    TenantFilter, TenantId,
};
use serde_json::{json, Value};
use uuid::Uuid;

async fn append_amount(events: &InMemoryEventStore, tenant: Option<TenantId>, amount: u64) {
    let mut envelope = Envelope::new("Counted", Uuid::new_v4(), "Counter");
    envelope.tenant_id = tenant;
    let serde_json::Value::Object(payload) = json!({ "amount": amount }) else {
        unreachable!("an object literal")
    };
    events
        .append(ExpectedVersion::NoStream, vec![RawEvent { envelope, payload }])
        .await
        .unwrap();
}

fn runner(events: &Arc<InMemoryEventStore>, models: Arc<dyn ProjectionStore>) -> ProjectionRunner {
    ProjectionRunner::new(Arc::clone(events) as _, models).with_options(RunnerOptions {
        batch_size: 100,
        retry: RetryPolicy {
            max_attempts: 2,
            initial_delay: Duration::from_millis(1),
            multiplier: 1.0,
            max_delay: Duration::from_millis(1),
        },
        poll_interval: Duration::from_millis(20),
    })
}

/// Adds each event's amount to the document `total`; an amount of 666
/// first changes `total`, deletes `kept` and writes `stray`, then fails.
struct Ledger;

#[async_trait]
impl Projection for Ledger {
    fn name(&self) -> &str {
        "ledger"
    }

    async fn apply(&self, event: &StoredEvent, model: &mut dyn ProjectionTx) -> Result<(), ProjectionError> {
        let amount = event.event.payload["amount"].as_u64().unwrap_or(0);
        let total = model
            .get(None, "total")
            .await?
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        model.put(None, "total", &json!(total + amount)).await?;
        if amount == 666 {
            model.delete(None, "kept").await?;
            model.put(None, "stray", &json!("from a failing event")).await?;
            return Err(ProjectionError::Handler("amount 666 is cursed".into()));
        }
        Ok(())
    }
}

async fn document(models: &InMemoryProjectionStore, key: &str) -> Option<Value> {
    models.document("ledger", None, key).await.unwrap()
}

#[tokio::test]
async fn a_parked_events_changes_are_undone_and_the_batchs_other_changes_stay() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    let mut tx = models.begin("ledger").await.unwrap();
    tx.put(None, "kept", &json!("from before")).await.unwrap();
    tx.commit().await.unwrap();
    for amount in [1, 2, 666, 3, 4] {
        append_amount(&events, None, amount).await;
    }

    let report = runner(&events, models.clone())
        .catch_up(&Ledger, |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (report.handled, report.parked),
        (4, 1),
        "one batch, one event parked"
    );
    assert_eq!(
        document(&models, "total").await,
        Some(json!(10)),
        "the changes before and after the failing event, and none of its own"
    );
    assert_eq!(document(&models, "kept").await, Some(json!("from before")));
    assert_eq!(document(&models, "stray").await, None);
    let letters = models.dead_letters(Some("ledger")).await.unwrap();
    assert_eq!(
        (letters.len(), letters[0].position, letters[0].attempts),
        (1, 3, 2)
    );
}

#[tokio::test]
async fn a_failed_retry_of_a_dead_letter_changes_no_document() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    for amount in [5, 666] {
        append_amount(&events, None, amount).await;
    }
    let runner = runner(&events, models.clone());
    runner.catch_up(&Ledger, |_, _| {}).await.unwrap();
    let letter = models.dead_letters(Some("ledger")).await.unwrap()[0].id;

    assert!(!runner.retry_dead_letter(&Ledger, letter).await.unwrap());
    assert_eq!(document(&models, "total").await, Some(json!(5)));
    assert_eq!(document(&models, "stray").await, None);
    assert_eq!(models.dead_letters(Some("ledger")).await.unwrap()[0].attempts, 3);
}

#[tokio::test]
async fn a_successful_retry_of_a_dead_letter_writes_its_document() {
    let (events, models) = (
        Arc::new(InMemoryEventStore::new()),
        Arc::new(InMemoryProjectionStore::new()),
    );
    append_amount(&events, None, 7).await;
    let runner = runner(&events, models.clone());
    let mut tx = models.begin("ledger").await.unwrap();
    tx.park(&first_event(&events).await, "flaky", 1, Utc::now())
        .await
        .unwrap();
    tx.advance_checkpoint(1, 1).await.unwrap();
    tx.commit().await.unwrap();
    let letter = models.dead_letters(Some("ledger")).await.unwrap()[0].id;

    assert!(runner.retry_dead_letter(&Ledger, letter).await.unwrap());
    assert_eq!(document(&models, "total").await, Some(json!(7)));
    assert!(models.dead_letters(None).await.unwrap().is_empty());
}

async fn first_event(events: &InMemoryEventStore) -> StoredEvent {
    use futures::TryStreamExt;
    let all: Vec<StoredEvent> = events.read_all(Default::default()).try_collect().await.unwrap();
    all.into_iter().next().unwrap()
}

/// How often each kind of document request reached the store.
#[derive(Default)]
struct Requests {
    get: AtomicUsize,
    get_many: AtomicUsize,
    put: AtomicUsize,
    put_many: AtomicUsize,
}

/// The in-memory store, counting the document requests of its
/// transactions. Once `discard` is armed, its next transaction starts only
/// after that dead letter was discarded: a discard that commits between a
/// retry's reading of the letter and its transaction.
#[derive(Default)]
struct Counting {
    inner: InMemoryProjectionStore,
    requests: Arc<Requests>,
    discard: std::sync::Mutex<Option<u64>>,
}

#[async_trait]
impl ProjectionStore for Counting {
    async fn begin(&self, projection: &str) -> StoreResult<Box<dyn ProjectionTx + '_>> {
        let armed = self.discard.lock().unwrap().take();
        if let Some(id) = armed {
            let mut tx = self.inner.begin(projection).await?;
            assert!(tx.remove_dead_letter(id).await?);
            tx.commit().await?;
        }
        Ok(Box::new(CountingTx {
            inner: self.inner.begin(projection).await?,
            requests: Arc::clone(&self.requests),
        }))
    }

    async fn checkpoint(&self, projection: &str) -> StoreResult<Option<Checkpoint>> {
        self.inner.checkpoint(projection).await
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        self.inner.checkpoints().await
    }

    async fn dead_letters(&self, projection: Option<&str>) -> StoreResult<Vec<DeadLetter>> {
        self.inner.dead_letters(projection).await
    }

    async fn document(
        &self,
        projection: &str,
        tenant: Option<TenantId>,
        key: &str,
    ) -> StoreResult<Option<Value>> {
        self.inner.document(projection, tenant, key).await
    }

    async fn documents(&self, projection: &str, tenant: TenantFilter) -> StoreResult<Vec<Document>> {
        self.inner.documents(projection, tenant).await
    }

    async fn reset(&self, projection: &str) -> StoreResult<()> {
        self.inner.reset(projection).await
    }
}

struct CountingTx<'a> {
    inner: Box<dyn ProjectionTx + 'a>,
    requests: Arc<Requests>,
}

#[async_trait]
impl ProjectionTx for CountingTx<'_> {
    async fn checkpoint_position(&mut self) -> StoreResult<Option<u64>> {
        self.inner.checkpoint_position().await
    }

    async fn get(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<Option<Value>> {
        self.requests.get.fetch_add(1, Ordering::SeqCst);
        self.inner.get(tenant, key).await
    }

    async fn get_many(&mut self, keys: &[DocumentKey]) -> StoreResult<Vec<Option<Value>>> {
        self.requests.get_many.fetch_add(1, Ordering::SeqCst);
        self.inner.get_many(keys).await
    }

    async fn put(&mut self, tenant: Option<TenantId>, key: &str, value: &Value) -> StoreResult<()> {
        self.requests.put.fetch_add(1, Ordering::SeqCst);
        self.inner.put(tenant, key, value).await
    }

    async fn put_many(&mut self, documents: &[Document]) -> StoreResult<()> {
        self.requests.put_many.fetch_add(1, Ordering::SeqCst);
        self.inner.put_many(documents).await
    }

    async fn delete(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<()> {
        self.inner.delete(tenant, key).await
    }

    async fn savepoint(&mut self) -> StoreResult<()> {
        self.inner.savepoint().await
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        self.inner.rollback_to_savepoint().await
    }

    async fn park(
        &mut self,
        event: &StoredEvent,
        error: &str,
        attempts: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.park(event, error, attempts, at).await
    }

    async fn remove_dead_letter(&mut self, id: u64) -> StoreResult<bool> {
        self.inner.remove_dead_letter(id).await
    }

    async fn advance_checkpoint(&mut self, position: u64, processed: u64) -> StoreResult<()> {
        self.inner.advance_checkpoint(position, processed).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.inner.commit().await
    }
}

#[tokio::test]
async fn a_declarative_batch_reads_its_documents_once_and_writes_them_once() {
    let events = Arc::new(InMemoryEventStore::new());
    let models = Arc::new(Counting::default());
    let tenants: Vec<Option<TenantId>> = (0..3)
        .map(|_| Some(TenantId::new_random()))
        .chain([None])
        .collect();
    for round in 0..20 {
        append_amount(&events, tenants[round % tenants.len()], 1).await;
    }
    let projection = DeclarativeProjection::<u64>::new("per_tenant")
        .keyed_by(DocumentKey::per_tenant)
        .on::<Counted>(|_, count| {
            *count.get_or_insert(0) += 1;
            Ok(())
        });

    let report = runner(&events, models.clone())
        .catch_up(&projection, |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.handled, 20);
    let requests = &models.requests;
    assert_eq!(
        (
            requests.get_many.load(Ordering::SeqCst),
            requests.get.load(Ordering::SeqCst)
        ),
        (1, 0),
        "one read for the batch's four documents"
    );
    assert_eq!(
        (
            requests.put_many.load(Ordering::SeqCst),
            requests.put.load(Ordering::SeqCst)
        ),
        (1, 0),
        "one write for the batch's four documents"
    );
    for tenant in tenants {
        let key = DocumentKey::per_tenant(&Envelope {
            tenant_id: tenant,
            ..Envelope::new("Counted", Uuid::new_v4(), "Counter")
        })
        .key;
        assert_eq!(
            models.document("per_tenant", tenant, &key).await.unwrap(),
            Some(json!(5))
        );
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Counted {
    amount: u64,
}

impl eventsource::DomainEvent for Counted {
    const EVENT_TYPE: &'static str = "Counted";
    const AGGREGATE_TYPE: &'static str = "Counter";
}

#[tokio::test]
async fn a_retry_of_a_letter_discarded_meanwhile_applies_nothing_and_parks_nothing() {
    for amount in [7, 666] {
        let events = Arc::new(InMemoryEventStore::new());
        let models = Arc::new(Counting::default());
        append_amount(&events, None, amount).await;
        let mut tx = models.inner.begin("ledger").await.unwrap();
        tx.park(&first_event(&events).await, "flaky", 1, Utc::now())
            .await
            .unwrap();
        tx.advance_checkpoint(1, 1).await.unwrap();
        tx.commit().await.unwrap();
        let letter = models.inner.dead_letters(Some("ledger")).await.unwrap()[0].id;

        *models.discard.lock().unwrap() = Some(letter);
        let retried = runner(&events, models.clone())
            .retry_dead_letter(&Ledger, letter)
            .await;
        assert!(
            matches!(retried, Err(ProjectionError::NotFound(_))),
            "amount {amount}: {retried:?}"
        );
        assert_eq!(
            models.inner.document("ledger", None, "total").await.unwrap(),
            None,
            "amount {amount}: the event was applied although its letter was gone"
        );
        assert!(
            models.inner.dead_letters(None).await.unwrap().is_empty(),
            "amount {amount}: the discarded letter came back"
        );
    }
}
