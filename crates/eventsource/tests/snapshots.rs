//! Loading from snapshots: the latest snapshot plus the events after it;
//! snapshots of another schema version ignored; tenants checked.

use std::sync::Arc;

use eventsource::{
    event_set, tenant_scope, Aggregate, DomainEvent, InMemoryEventStore, InMemorySnapshotStore, Repository,
    RepositoryError, Snapshot, SnapshotState, SnapshotStore, SnapshotStrategy, StreamId,
    TenantAwareRepository, TenantId,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Added {
    n: u64,
}
impl DomainEvent for Added {
    const EVENT_TYPE: &'static str = "Added";
    const AGGREGATE_TYPE: &'static str = "Sum";
}
event_set! { enum SumEvent: "Sum" { Added(Added) } }

#[derive(Default, Debug, Serialize, Deserialize)]
struct Sum {
    total: u64,
    applied: u64,
}
impl Aggregate for Sum {
    type Event = SumEvent;
    fn apply(&mut self, SumEvent::Added(added): &SumEvent) {
        self.total += added.n;
        self.applied += 1;
    }
}
impl SnapshotState for Sum {
    const SNAPSHOT_VERSION: u32 = 2;
}

struct Setup {
    repository: Repository<Sum, InMemoryEventStore>,
    snapshots: Arc<InMemorySnapshotStore>,
}

fn setup(every: u64) -> Setup {
    let snapshots = Arc::new(InMemorySnapshotStore::new());
    let repository = Repository::<Sum, _>::new(Arc::new(InMemoryEventStore::new()))
        .with_snapshots(Arc::clone(&snapshots) as _, SnapshotStrategy::EveryNEvents(every));
    Setup {
        repository,
        snapshots,
    }
}

async fn save_adds(
    repository: &Repository<Sum, InMemoryEventStore>,
    id: Uuid,
    tenant: Option<TenantId>,
    adds: u64,
) {
    let mut sum = match repository.load(id).await {
        Ok(sum) => sum,
        Err(RepositoryError::NotFound { .. }) => repository.create_new(id, tenant),
        Err(other) => panic!("{other}"),
    };
    for n in 1..=adds {
        sum.record(Added { n });
    }
    repository.save(&mut sum).await.unwrap();
}

#[tokio::test]
async fn a_save_crossing_the_interval_takes_a_snapshot() {
    let Setup {
        repository,
        snapshots,
    } = setup(10);
    let id = Uuid::new_v4();
    save_adds(&repository, id, None, 9).await;
    assert!(snapshots.load(&StreamId::new(id, "Sum")).await.unwrap().is_none());
    save_adds(&repository, id, None, 3).await;
    let snapshot = snapshots
        .load(&StreamId::new(id, "Sum"))
        .await
        .unwrap()
        .expect("a snapshot at 12");
    assert_eq!((snapshot.version, snapshot.schema_version), (12, 2));
    assert_eq!(snapshot.state["applied"], json!(12));
}

#[tokio::test]
async fn a_load_starts_from_the_snapshot_and_applies_only_later_events() {
    let Setup {
        repository,
        snapshots,
    } = setup(5);
    let id = Uuid::new_v4();
    save_adds(&repository, id, None, 5).await;
    save_adds(&repository, id, None, 2).await;

    // Mark the snapshot's state: a replay from the first event could not
    // produce this total.
    let stream = StreamId::new(id, "Sum");
    let mut snapshot = snapshots.load(&stream).await.unwrap().unwrap();
    snapshot.state = json!({"total": 1000, "applied": 5});
    snapshots.save(&snapshot).await.unwrap();

    let sum = repository.load(id).await.unwrap();
    assert_eq!(sum.state().total, 1000 + 1 + 2);
    assert_eq!(sum.state().applied, 7);
    assert_eq!(sum.version(), 7);
}

#[tokio::test]
async fn a_snapshot_of_another_schema_version_is_ignored() {
    let Setup {
        repository,
        snapshots,
    } = setup(5);
    let id = Uuid::new_v4();
    save_adds(&repository, id, None, 5).await;
    let stream = StreamId::new(id, "Sum");
    let mut snapshot = snapshots.load(&stream).await.unwrap().unwrap();
    snapshot.schema_version = 1;
    snapshot.state = json!({"total": 1000, "applied": 5});
    snapshots.save(&snapshot).await.unwrap();

    let sum = repository.load(id).await.unwrap();
    assert_eq!(sum.state().total, 15, "rebuilt from events");
}

#[tokio::test]
async fn a_snapshot_that_does_not_decode_is_ignored() {
    let Setup {
        repository,
        snapshots,
    } = setup(5);
    let id = Uuid::new_v4();
    save_adds(&repository, id, None, 5).await;
    let stream = StreamId::new(id, "Sum");
    let mut snapshot = snapshots.load(&stream).await.unwrap().unwrap();
    snapshot.state = json!({"total": "lots"});
    snapshots.save(&snapshot).await.unwrap();
    assert_eq!(repository.load(id).await.unwrap().state().total, 15);
}

#[tokio::test]
async fn a_snapshot_is_checked_for_tenant_like_events() {
    let Setup {
        repository,
        snapshots,
    } = setup(5);
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    let id = Uuid::new_v4();
    save_adds(&repository, id, Some(acme), 5).await;
    let tenant_aware = TenantAwareRepository::wrap(repository.clone());

    assert_eq!(
        tenant_scope(acme, tenant_aware.load(id))
            .await
            .unwrap()
            .state()
            .total,
        15
    );
    assert!(matches!(
        tenant_scope(globex, tenant_aware.load(id)).await,
        Err(RepositoryError::NotFound { .. })
    ));

    // A snapshot claiming another tenant makes the stream nobody's.
    let stream = StreamId::new(id, "Sum");
    let mut snapshot = snapshots.load(&stream).await.unwrap().unwrap();
    snapshot.tenant_id = Some(globex);
    snapshots.save(&snapshot).await.unwrap();
    assert!(matches!(
        tenant_scope(acme, tenant_aware.load(id)).await,
        Err(RepositoryError::NotFound { .. })
    ));
    assert!(matches!(
        tenant_scope(globex, tenant_aware.load(id)).await,
        Err(RepositoryError::NotFound { .. })
    ));
    assert!(!tenant_scope(globex, tenant_aware.exists(id)).await.unwrap());
}

#[test]
fn the_strategy_is_due_when_a_save_crosses_a_multiple() {
    let every_ten = SnapshotStrategy::EveryNEvents(10);
    assert!(!every_ten.due(0, 9));
    assert!(every_ten.due(9, 10));
    assert!(every_ten.due(5, 25));
    assert!(!every_ten.due(10, 19));
}

#[tokio::test]
async fn an_older_snapshot_never_replaces_a_newer_one() {
    let snapshots = InMemorySnapshotStore::new();
    let stream = StreamId::new(Uuid::new_v4(), "Sum");
    let at = |version| Snapshot {
        stream: stream.clone(),
        tenant_id: None,
        version,
        schema_version: 1,
        state: json!({}),
        taken_at: chrono::Utc::now(),
    };
    snapshots.save(&at(20)).await.unwrap();
    snapshots.save(&at(10)).await.unwrap();
    assert_eq!(snapshots.load(&stream).await.unwrap().unwrap().version, 20);
    snapshots.delete(&stream).await.unwrap();
    assert!(snapshots.load(&stream).await.unwrap().is_none());
}

#[tokio::test]
async fn a_snapshot_ahead_of_its_stream_is_ignored() {
    let Setup {
        repository,
        snapshots,
    } = setup(5);
    let id = Uuid::new_v4();
    save_adds(&repository, id, None, 5).await;
    let stream = StreamId::new(id, "Sum");
    let mut snapshot = snapshots.load(&stream).await.unwrap().unwrap();
    snapshot.version = 50;
    snapshot.state = json!({"total": 1000, "applied": 50});
    snapshots.save(&snapshot).await.unwrap();
    let sum = repository.load(id).await.unwrap();
    assert_eq!((sum.state().total, sum.version()), (15, 5));
}

/// Counts the loads of the snapshot store it wraps.
#[derive(Default)]
struct CountingSnapshots {
    inner: InMemorySnapshotStore,
    loads: std::sync::atomic::AtomicUsize,
}

impl CountingSnapshots {
    fn take_loads(&self) -> usize {
        self.loads.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl SnapshotStore for CountingSnapshots {
    async fn load(&self, stream: &StreamId) -> eventsource::StoreResult<Option<Snapshot>> {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.load(stream).await
    }
    async fn save(&self, snapshot: &Snapshot) -> eventsource::StoreResult<()> {
        self.inner.save(snapshot).await
    }
    async fn delete(&self, stream: &StreamId) -> eventsource::StoreResult<()> {
        self.inner.delete(stream).await
    }
}

#[tokio::test]
async fn another_tenants_snapshot_is_never_fetched() {
    let snapshots = Arc::new(CountingSnapshots::default());
    let repository = Repository::<Sum, _>::new(Arc::new(InMemoryEventStore::new()))
        .with_snapshots(Arc::clone(&snapshots) as _, SnapshotStrategy::EveryNEvents(5));
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    let id = Uuid::new_v4();
    let mut sum = repository.create_new(id, Some(acme));
    for n in 1..=10 {
        sum.record(Added { n });
    }
    repository.save(&mut sum).await.unwrap();
    let tenant_aware = TenantAwareRepository::wrap(repository);
    snapshots.take_loads();

    let foreign = tenant_scope(globex, tenant_aware.load(id)).await;
    assert!(matches!(foreign, Err(RepositoryError::NotFound { .. })));
    assert_eq!(snapshots.take_loads(), 0, "another tenant's snapshot was fetched");
    let missing = tenant_scope(globex, tenant_aware.load(Uuid::new_v4())).await;
    assert!(matches!(missing, Err(RepositoryError::NotFound { .. })));
    assert_eq!(snapshots.take_loads(), 0);

    let owned = tenant_scope(acme, tenant_aware.load(id)).await.unwrap();
    assert_eq!(owned.state().total, 55);
    assert_eq!(snapshots.take_loads(), 1, "the owner loads from the snapshot");
}
