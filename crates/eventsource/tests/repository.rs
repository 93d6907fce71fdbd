//! Aggregates through the plain and the tenant-aware repository, on the
//! in-memory store.

use std::sync::Arc;

use eventsource::{
    event_set, tenant_scope, Aggregate, DecodeError, DomainEvent, Event, EventStore, ExpectedVersion,
    InMemoryEventStore, RawEvent, Repository, RepositoryError, TenancyError, TenantAwareRepository,
    TenantEvent, TenantId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Opened {
    owner: String,
}
impl DomainEvent for Opened {
    const EVENT_TYPE: &'static str = "AccountOpened";
    const AGGREGATE_TYPE: &'static str = "Account";
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Deposited {
    cents: u64,
}
impl DomainEvent for Deposited {
    const EVENT_TYPE: &'static str = "MoneyDeposited";
    const AGGREGATE_TYPE: &'static str = "Account";
    const EVENT_VERSION: u32 = 2;
}

event_set! {
    enum AccountEvent: "Account" {
        Opened(Opened),
        Deposited(Deposited),
    }
}

#[derive(Default, Debug)]
struct Account {
    owner: String,
    balance: u64,
}

impl Aggregate for Account {
    type Event = AccountEvent;

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened(e) => self.owner = e.owner.clone(),
            AccountEvent::Deposited(e) => self.balance += e.cents,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Noted {
    text: String,
}
impl DomainEvent for Noted {
    const EVENT_TYPE: &'static str = "Noted";
    const AGGREGATE_TYPE: &'static str = "Note";
}
event_set! { enum NoteEvent: "Note" { Noted(Noted) } }

#[derive(Default)]
struct Note;
impl Aggregate for Note {
    type Event = NoteEvent;
    fn apply(&mut self, _: &NoteEvent) {}
}

fn store() -> Arc<InMemoryEventStore> {
    Arc::new(InMemoryEventStore::new())
}

async fn opened_account(repository: &Repository<Account, InMemoryEventStore>) -> Uuid {
    let id = Uuid::new_v4();
    let mut account = repository.create_new(id, None);
    account.record(Opened { owner: "ada".into() });
    account.record(Deposited { cents: 500 });
    repository.save(&mut account).await.unwrap();
    id
}

#[tokio::test]
async fn a_saved_aggregate_loads_with_its_state_and_version() {
    let repository = Repository::<Account, _>::new(store());
    let id = opened_account(&repository).await;

    let account = repository.load(id).await.unwrap();
    assert_eq!(
        (account.state().owner.as_str(), account.state().balance),
        ("ada", 500)
    );
    assert_eq!(account.version(), 2);
    assert_eq!(account.next_version(), 3);
    assert!(account.uncommitted_events().is_empty());
    assert!(repository.exists(id).await.unwrap());
    assert!(!repository.exists(Uuid::new_v4()).await.unwrap());
}

#[tokio::test]
async fn recorded_events_carry_their_type_version_and_stream() {
    let repository = Repository::<Account, _>::new(store());
    let id = opened_account(&repository).await;
    let stored = repository
        .store()
        .read_stream(&eventsource::StreamId::new(id, "Account"), 0)
        .await
        .unwrap();
    let envelope = &stored[1].event.envelope;
    assert_eq!(envelope.event_type, "MoneyDeposited");
    assert_eq!(envelope.event_version, 2);
    assert_eq!(
        (envelope.aggregate_type.as_str(), envelope.aggregate_version),
        ("Account", 2)
    );
    assert_ne!(stored[0].event.envelope.correlation_id, envelope.correlation_id);
}

#[tokio::test]
async fn a_stale_copy_gets_a_conflict_with_expected_and_actual_versions() {
    let repository = Repository::<Account, _>::new(store());
    let id = opened_account(&repository).await;
    let mut first = repository.load(id).await.unwrap();
    let mut second = repository.load(id).await.unwrap();

    first.record(Deposited { cents: 1 });
    repository.save(&mut first).await.unwrap();
    second.record(Deposited { cents: 2 });
    match repository.save(&mut second).await {
        Err(RepositoryError::Concurrency { expected, actual, .. }) => {
            assert_eq!(expected, ExpectedVersion::Exact(2));
            assert_eq!(actual, 3);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        second.uncommitted_events().len(),
        1,
        "a failed save keeps the new events"
    );
    assert_eq!(repository.load(id).await.unwrap().state().balance, 501);
}

#[tokio::test]
async fn saving_without_new_events_does_nothing() {
    let store = store();
    let repository = Repository::<Account, _>::new(Arc::clone(&store));
    let id = opened_account(&repository).await;
    let mut account = repository.load(id).await.unwrap();
    repository.save(&mut account).await.unwrap();
    assert_eq!(store.current_position().await.unwrap(), Some(2));
}

#[tokio::test]
async fn loading_a_missing_aggregate_is_not_found() {
    let repository = Repository::<Account, _>::new(store());
    let id = Uuid::new_v4();
    match repository.load(id).await {
        Err(RepositoryError::NotFound {
            aggregate_id,
            aggregate_type,
        }) => {
            assert_eq!((aggregate_id, aggregate_type), (id, "Account"));
        }
        other => panic!("expected not found, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stream_of_another_aggregate_type_is_refused() {
    let store = store();
    let accounts = Repository::<Account, _>::new(Arc::clone(&store));
    let notes = Repository::<Note, _>::new(Arc::clone(&store));
    let id = opened_account(&accounts).await;

    match notes.load(id).await {
        Err(RepositoryError::WrongAggregateType { expected, found, .. }) => {
            assert_eq!((expected, found.as_str()), ("Note", "Account"));
        }
        other => panic!(
            "expected a wrong aggregate type error, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[tokio::test]
async fn an_unknown_stored_event_type_is_named_and_readable_raw() {
    let store = store();
    let id = Uuid::new_v4();
    let raw = RawEvent {
        envelope: eventsource::Envelope::new("AccountFrozen", id, "Account"),
        payload: eventsource::JsonObject::new(),
    };
    store
        .append(ExpectedVersion::NoStream, vec![raw.clone()])
        .await
        .unwrap();

    let error = Repository::<Account, _>::new(Arc::clone(&store))
        .load(id)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RepositoryError::Decode(DecodeError::UnknownEventType { event_type, .. }) if event_type == "AccountFrozen"),
        "{error:?}"
    );
    assert!(error.to_string().contains("AccountFrozen"));
    let read: RawEvent = store
        .read_stream(&eventsource::StreamId::new(id, "Account"), 0)
        .await
        .unwrap()[0]
        .event
        .clone();
    assert_eq!(read, raw, "the raw event is always readable");
}

#[test]
fn an_event_caused_by_another_inherits_tenant_and_correlation() {
    let tenant = TenantId::new_random();
    let parent = Event::<AccountEvent>::new(Uuid::new_v4(), Opened { owner: "x".into() }).with_tenant(tenant);
    let child = Event::<AccountEvent>::new(Uuid::new_v4(), Deposited { cents: 1 }).caused_by(&parent);
    assert_eq!(child.envelope.tenant_id, Some(tenant));
    assert_eq!(child.envelope.correlation_id, parent.envelope.correlation_id);
    assert_eq!(child.envelope.causation_id, Some(parent.envelope.event_id));
    assert_ne!(child.envelope.event_id, parent.envelope.event_id);
}

#[tokio::test]
async fn tenant_events_need_a_tenant_context() {
    let id = Uuid::new_v4();
    assert_eq!(
        TenantEvent::<AccountEvent>::from_context(id, Deposited { cents: 1 }).unwrap_err(),
        TenancyError::ContextNotSet
    );
    assert!(Event::<AccountEvent>::with_tenant_context(id, Deposited { cents: 1 }).is_err());
    let tenant = TenantId::new_random();
    let event = tenant_scope(tenant, async {
        TenantEvent::<AccountEvent>::from_context(id, Deposited { cents: 1 })
    })
    .await
    .unwrap();
    assert_eq!(event.tenant_id(), tenant);
    assert_eq!(event.event().envelope.tenant_id, Some(tenant));
}

mod tenant_aware {
    use super::*;

    async fn account_of(
        repository: &TenantAwareRepository<Account, InMemoryEventStore>,
        tenant: TenantId,
    ) -> Uuid {
        tenant_scope(tenant, async {
            let id = Uuid::new_v4();
            let mut account = repository.create_new(id).unwrap();
            account.record(Opened {
                owner: tenant.to_string(),
            });
            repository.save(&mut account).await.unwrap();
            id
        })
        .await
    }

    #[tokio::test]
    async fn create_new_stamps_the_current_tenant_on_every_event() {
        let store = store();
        let repository = TenantAwareRepository::<Account, _>::new(Arc::clone(&store));
        let tenant = TenantId::new_random();
        let id = account_of(&repository, tenant).await;
        let stored = store
            .read_stream(&eventsource::StreamId::new(id, "Account"), 0)
            .await
            .unwrap();
        assert_eq!(stored[0].event.envelope.tenant_id, Some(tenant));
        let loaded = tenant_scope(tenant, repository.load(id)).await.unwrap();
        assert_eq!(loaded.tenant_id(), Some(tenant));
    }

    #[tokio::test]
    async fn another_tenants_aggregate_is_reported_exactly_like_a_missing_one() {
        let repository = TenantAwareRepository::<Account, _>::new(store());
        let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
        let acme_account = account_of(&repository, acme).await;

        let foreign = tenant_scope(globex, repository.load(acme_account))
            .await
            .unwrap_err();
        let missing_id = Uuid::new_v4();
        let missing = tenant_scope(globex, repository.load(missing_id))
            .await
            .unwrap_err();
        assert!(matches!(foreign, RepositoryError::NotFound { .. }));
        assert_eq!(
            foreign.to_string().replace(&acme_account.to_string(), "ID"),
            missing.to_string().replace(&missing_id.to_string(), "ID")
        );
        assert!(!foreign.to_string().contains(&acme.to_string()));
        assert!(!tenant_scope(globex, repository.exists(acme_account))
            .await
            .unwrap());
        assert!(tenant_scope(acme, repository.exists(acme_account)).await.unwrap());
    }

    #[tokio::test]
    async fn saving_an_event_of_another_tenant_is_refused_and_nothing_is_written() {
        let store = store();
        let repository = TenantAwareRepository::<Account, _>::new(Arc::clone(&store));
        let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
        let id = account_of(&repository, acme).await;

        let error = tenant_scope(acme, async {
            let mut account = repository.load(id).await.unwrap();
            account.record(Deposited { cents: 5 });
            let foreign = Event::new(id, Deposited { cents: 7 }).with_tenant(globex);
            account.record_event(foreign);
            repository.save(&mut account).await.unwrap_err()
        })
        .await;
        assert!(
            matches!(error, RepositoryError::TenantMismatch { .. }),
            "{error:?}"
        );
        assert!(!error.to_string().contains(&globex.to_string()));
        assert_eq!(store.current_position().await.unwrap(), Some(1));

        // An aggregate created for one tenant cannot be saved in another's scope.
        let mut acme_new = tenant_scope(acme, async { repository.create_new(Uuid::new_v4()) })
            .await
            .unwrap();
        acme_new.record(Opened { owner: "x".into() });
        let error = tenant_scope(globex, repository.save(&mut acme_new))
            .await
            .unwrap_err();
        assert!(
            matches!(error, RepositoryError::TenantMismatch { .. }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn reusing_another_tenants_id_does_not_disclose_its_version() {
        let repository = TenantAwareRepository::<Account, _>::new(store());
        let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
        let id = account_of(&repository, acme).await;

        let error = tenant_scope(globex, async {
            let mut account = AccountRoot::new(id, Some(globex));
            account.record(Opened {
                owner: "mallory".into(),
            });
            repository.save(&mut account).await.unwrap_err()
        })
        .await;
        assert!(
            matches!(error, RepositoryError::IdUnavailable { .. }),
            "{error:?}"
        );
    }

    type AccountRoot = eventsource::AggregateRoot<Account>;

    #[tokio::test]
    async fn every_operation_outside_a_tenant_scope_fails_clearly() {
        let repository = TenantAwareRepository::<Account, _>::new(store());
        let id = Uuid::new_v4();
        assert!(matches!(
            repository.create_new(id),
            Err(RepositoryError::Tenancy(TenancyError::ContextNotSet))
        ));
        assert!(matches!(
            repository.load(id).await,
            Err(RepositoryError::Tenancy(_))
        ));
        assert!(matches!(
            repository.exists(id).await,
            Err(RepositoryError::Tenancy(_))
        ));
        let mut account = AccountRoot::new(id, None);
        account.record(Opened { owner: "x".into() });
        assert!(matches!(
            repository.save(&mut account).await,
            Err(RepositoryError::Tenancy(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_tenants_only_ever_load_their_own_aggregates() {
        let repository = TenantAwareRepository::<Account, _>::new(store());
        let tenants: Vec<TenantId> = (0..20).map(|_| TenantId::new_random()).collect();
        let mut owned = Vec::new();
        for &tenant in &tenants {
            owned.push((tenant, account_of(&repository, tenant).await));
        }
        let all_ids: Arc<Vec<Uuid>> = Arc::new(owned.iter().map(|(_, id)| *id).collect());

        let tasks: Vec<_> = owned
            .iter()
            .map(|&(tenant, mine)| {
                let (repository, all_ids) = (repository.clone(), Arc::clone(&all_ids));
                tokio::spawn(tenant_scope(tenant, async move {
                    let mut loaded = 0;
                    for id in all_ids.iter() {
                        tokio::task::yield_now().await;
                        match repository.load(*id).await {
                            Ok(account) => {
                                assert_eq!(*id, mine, "loaded an aggregate of another tenant");
                                assert_eq!(account.state().owner, tenant.to_string());
                                loaded += 1;
                            }
                            Err(RepositoryError::NotFound { .. }) => assert_ne!(*id, mine),
                            Err(other) => panic!("{other}"),
                        }
                    }
                    loaded
                }))
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
    }
}

mod equal_work {
    //! Turning away another tenant's aggregate must cost the store exactly
    //! what a missing id costs, whatever the other stream's length: the
    //! store calls are recorded and compared.

    use std::collections::HashSet;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use eventsource::{
        AppendResult, EventFilter, ReadAllOptions, StoreResult, StoredEvent, StreamId, StreamWrite,
        TenantFilter, TenantStats,
    };
    use futures::stream::BoxStream;

    use super::*;

    #[derive(Default)]
    struct Recording {
        inner: InMemoryEventStore,
        calls: Mutex<Vec<&'static str>>,
    }

    impl Recording {
        fn record(&self, call: &'static str) {
            self.calls.lock().unwrap().push(call);
        }

        fn take(&self) -> Vec<&'static str> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }
    }

    #[async_trait]
    impl EventStore for Recording {
        async fn append_streams(&self, writes: &[StreamWrite]) -> StoreResult<AppendResult> {
            self.inner.append_streams(writes).await
        }
        async fn read_stream(&self, stream: &StreamId, after: u64) -> StoreResult<Vec<StoredEvent>> {
            self.record("read_stream");
            self.inner.read_stream(stream, after).await
        }
        async fn stream_version(&self, stream: &StreamId) -> StoreResult<u64> {
            self.record("stream_version");
            self.inner.stream_version(stream).await
        }
        async fn first_event_tenant(&self, stream: &StreamId) -> StoreResult<Option<Option<TenantId>>> {
            self.record("first_event_tenant");
            self.inner.first_event_tenant(stream).await
        }
        async fn read_stream_of_tenant(
            &self,
            stream: &StreamId,
            after: u64,
            tenant: TenantId,
        ) -> StoreResult<Vec<StoredEvent>> {
            self.record("read_stream_of_tenant");
            self.inner.read_stream_of_tenant(stream, after, tenant).await
        }
        async fn aggregate_types_of(&self, id: Uuid, tenant: TenantFilter) -> StoreResult<Vec<String>> {
            self.record("aggregate_types_of");
            self.inner.aggregate_types_of(id, tenant).await
        }
        fn read_all(&self, options: ReadAllOptions) -> BoxStream<'_, StoreResult<StoredEvent>> {
            self.record("read_all");
            self.inner.read_all(options)
        }
        async fn existing_event_ids(&self, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
            self.inner.existing_event_ids(ids).await
        }
        async fn count(&self, filter: &EventFilter) -> StoreResult<u64> {
            self.inner.count(filter).await
        }
        async fn current_position(&self) -> StoreResult<Option<u64>> {
            self.inner.current_position().await
        }
        async fn tenant_stats(&self) -> StoreResult<Vec<TenantStats>> {
            self.inner.tenant_stats().await
        }
    }

    #[tokio::test]
    async fn another_tenants_long_aggregate_costs_no_more_than_a_missing_one() {
        let store = Arc::new(Recording::default());
        let repository = TenantAwareRepository::<Account, _>::new(Arc::clone(&store));
        let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
        let long = tenant_scope(acme, async {
            let id = Uuid::new_v4();
            let mut account = repository.create_new(id).unwrap();
            account.record(Opened { owner: "acme".into() });
            for cents in 0..500 {
                account.record(Deposited { cents });
            }
            repository.save(&mut account).await.unwrap();
            id
        })
        .await;
        store.take();

        let owned = tenant_scope(acme, repository.load(long)).await.unwrap();
        assert_eq!(owned.version(), 501);
        assert_eq!(
            store.take(),
            ["read_stream_of_tenant"],
            "an owned aggregate loads in one store call"
        );

        let foreign = tenant_scope(globex, repository.load(long)).await.unwrap_err();
        let foreign_calls = store.take();
        let missing = tenant_scope(globex, repository.load(Uuid::new_v4()))
            .await
            .unwrap_err();
        let missing_calls = store.take();
        assert!(matches!(foreign, RepositoryError::NotFound { .. }));
        assert!(matches!(missing, RepositoryError::NotFound { .. }));
        assert_eq!(foreign_calls, missing_calls);
        assert!(
            !foreign_calls.contains(&"read_stream"),
            "the other tenant's stream is never read"
        );

        assert!(!tenant_scope(globex, repository.exists(long)).await.unwrap());
        let foreign_calls = store.take();
        assert!(!tenant_scope(globex, repository.exists(Uuid::new_v4()))
            .await
            .unwrap());
        assert_eq!(foreign_calls, store.take());
    }
}
