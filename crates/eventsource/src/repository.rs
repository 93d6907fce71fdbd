//! Repositories: load an aggregate from its events, save its new events.
//!
//! [`Repository`] is the plain form. [`TenantAwareRepository`] adds the
//! tenant rules for code running inside a tenant scope: another tenant's
//! aggregate is reported exactly like a missing one, and events of another
//! tenant are never saved.

use std::marker::PhantomData;
use std::sync::Arc;

use chrono::Utc;
use tracing::{debug, instrument, warn};
use uuid::Uuid;

use crate::aggregate::{aggregate_type_of, Aggregate, AggregateRoot};
use crate::event::{DecodeError, Event, EventSet, StoredEvent};
use crate::snapshot::{Snapshot, SnapshotState, SnapshotStore, SnapshotStrategy, Snapshotting};
use crate::store::{EventStore, ExpectedVersion, StoreError, StreamId, TenantFilter};
use crate::tenant::{get_required_tenant, TenancyError, TenantId};

/// Failures of loading and saving aggregates.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// No aggregate with this id (for a tenant-aware repository: none that
    /// the current tenant owns).
    #[error("{aggregate_type} aggregate {aggregate_id} not found")]
    NotFound {
        /// The id asked for.
        aggregate_id: Uuid,
        /// The repository's aggregate type.
        aggregate_type: &'static str,
    },
    /// The aggregate changed since it was loaded; nothing was saved.
    #[error("{aggregate_type} aggregate {aggregate_id} changed concurrently: expected {expected}, actual version {actual}")]
    Concurrency {
        /// The aggregate's id.
        aggregate_id: Uuid,
        /// The aggregate type.
        aggregate_type: &'static str,
        /// What the save expected.
        expected: ExpectedVersion,
        /// The stored version.
        actual: u64,
    },
    /// The id belongs to a stream of another aggregate type.
    #[error("aggregate {aggregate_id} is stored as {found}, not {expected}")]
    WrongAggregateType {
        /// The id asked for.
        aggregate_id: Uuid,
        /// The repository's aggregate type.
        expected: &'static str,
        /// The stored type.
        found: String,
    },
    /// A tenant-aware operation ran outside a tenant scope.
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    /// An event to save does not belong to the current tenant; nothing was
    /// saved. The message names no tenant.
    #[error("event {event_id} does not belong to the current tenant; nothing was saved")]
    TenantMismatch {
        /// The offending event.
        event_id: Uuid,
    },
    /// The id cannot be used for a new aggregate of the current tenant.
    #[error("aggregate id {aggregate_id} is not available; choose another id")]
    IdUnavailable {
        /// The id asked for.
        aggregate_id: Uuid,
    },
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// The result type of repository calls.
pub type RepositoryResult<T> = Result<T, RepositoryError>;

/// Loads and saves aggregates of type `A` through an event store.
pub struct Repository<A, S: ?Sized = dyn EventStore> {
    store: Arc<S>,
    snapshots: Option<Snapshotting<A>>,
    aggregate: PhantomData<fn() -> A>,
}

impl<A, S: ?Sized> Clone for Repository<A, S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            snapshots: self.snapshots.clone(),
            aggregate: PhantomData,
        }
    }
}

/// What a load reads: the latest usable snapshot with its state and the
/// stored event at its version, and the events after it.
struct History<A> {
    snapshot: Option<(Snapshot, A, StoredEvent)>,
    events: Vec<StoredEvent>,
    /// A snapshot of the stream claims another tenant than the one
    /// loading: the stream is then nobody's.
    disowned: bool,
}

impl<A> History<A> {
    fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.events.is_empty()
    }

    /// The tenant owning the whole stream: every event (and the snapshot,
    /// which stands for the events it folds) carries it. `None` when the
    /// stream has no tenant or mixes tenants.
    fn owner(&self) -> Option<TenantId> {
        let mut tenants = self
            .snapshot
            .iter()
            .flat_map(|(snapshot, _, anchor)| [snapshot.tenant_id, anchor.event.envelope.tenant_id])
            .chain(self.events.iter().map(|stored| stored.event.envelope.tenant_id));
        if self.disowned {
            return None;
        }
        let first = tenants.next()??;
        tenants.all(|tenant| tenant == Some(first)).then_some(first)
    }
}

impl<A: SnapshotState, S: EventStore + ?Sized> Repository<A, S> {
    /// Loads from the latest snapshot plus the events after it, and takes a
    /// snapshot after a save whenever `strategy` says so. A snapshot that
    /// cannot be written is logged, never a failed save: the events are
    /// stored either way.
    pub fn with_snapshots(mut self, snapshots: Arc<dyn SnapshotStore>, strategy: SnapshotStrategy) -> Self {
        self.snapshots = Some(Snapshotting::new(snapshots, strategy));
        self
    }
}

impl<A: Aggregate, S: EventStore + ?Sized> Repository<A, S> {
    /// A repository over `store`.
    pub fn new(store: Arc<S>) -> Self {
        Self {
            store,
            snapshots: None,
            aggregate: PhantomData,
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    fn stream(id: Uuid) -> StreamId {
        StreamId::new(id, aggregate_type_of::<A>())
    }

    /// A new, empty aggregate with this id (nothing is stored until saved).
    pub fn create_new(&self, id: Uuid, tenant_id: Option<TenantId>) -> AggregateRoot<A> {
        AggregateRoot::new(id, tenant_id)
    }

    /// Loads an aggregate by replaying its stream.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::NotFound`] for an unknown id,
    /// [`RepositoryError::WrongAggregateType`] when the id is a stream of
    /// another aggregate type, [`RepositoryError::Decode`] for events the
    /// aggregate does not know, [`RepositoryError::Store`].
    #[instrument(skip(self), fields(aggregate_type = aggregate_type_of::<A>()))]
    pub async fn load(&self, id: Uuid) -> RepositoryResult<AggregateRoot<A>> {
        let history = self.read_history(id, None).await?;
        if history.is_empty() {
            return Err(self.missing(id, TenantFilter::Any).await);
        }
        rebuild(id, history)
    }

    /// Whether an aggregate with this id exists.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::Store`].
    pub async fn exists(&self, id: Uuid) -> RepositoryResult<bool> {
        Ok(self
            .store
            .stream_version(&Self::stream(id))
            .await
            .map_err(RepositoryError::Store)?
            > 0)
    }

    /// Saves the aggregate's new events in one atomic append expecting the
    /// version it was loaded at. Saving an aggregate without new events does
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::Concurrency`] when another writer saved first,
    /// [`RepositoryError::Store`] for other store failures. Nothing is saved
    /// on error and the aggregate keeps its new events.
    #[instrument(skip_all, fields(aggregate_id = %root.id(), aggregate_type = aggregate_type_of::<A>(), tenant = ?root.tenant_id()))]
    pub async fn save(&self, root: &mut AggregateRoot<A>) -> RepositoryResult<()> {
        if root.uncommitted_events().is_empty() {
            return Ok(());
        }
        let expected = match root.committed_version() {
            0 => ExpectedVersion::NoStream,
            version => ExpectedVersion::Exact(version),
        };
        let events = root
            .uncommitted_events()
            .iter()
            .map(Event::to_raw)
            .collect::<Result<Vec<_>, _>>()?;

        match self.store.append(expected, events).await {
            Ok(result) => {
                debug!(
                    events = result.positions.len(),
                    position = result.positions.last(),
                    "saved"
                );
                let before = root.committed_version();
                root.mark_committed();
                self.snapshot_if_due(root, before).await;
                Ok(())
            }
            Err(StoreError::Concurrency { expected, actual, .. }) => Err(RepositoryError::Concurrency {
                aggregate_id: root.id(),
                aggregate_type: aggregate_type_of::<A>(),
                expected,
                actual,
            }),
            Err(error) => Err(RepositoryError::Store(error)),
        }
    }

    /// Reads what a load replays. With a `tenant`, only a stream whose
    /// first event is that tenant's is read, and only a snapshot of that
    /// tenant is used; anything else reads as an empty history.
    async fn read_history(&self, id: Uuid, tenant: Option<TenantId>) -> RepositoryResult<History<A>> {
        let stream = Self::stream(id);
        let mut disowned = false;
        if let Some(snapshots) = &self.snapshots {
            if let Some(tenant) = tenant {
                // Whose stream it is is settled before any snapshot is
                // fetched: another tenant's snapshot (its size, its very
                // existence) must cost nothing a missing id does not.
                let first = self
                    .store
                    .first_event_tenant(&stream)
                    .await
                    .map_err(RepositoryError::Store)?;
                if first != Some(Some(tenant)) {
                    return Ok(History {
                        snapshot: None,
                        events: Vec::new(),
                        disowned: false,
                    });
                }
            }
            match usable_snapshot(snapshots, &stream, tenant).await {
                Usable::Yes(snapshot, state) => {
                    // Read from the snapshot's own last event: its tenant is
                    // checked like every later event's, and a stream that
                    // does not hold that event cannot be the snapshot's.
                    let mut events = self.read_events(&stream, snapshot.version - 1, tenant).await?;
                    if events
                        .first()
                        .is_some_and(|anchor| anchor.event.envelope.aggregate_version == snapshot.version)
                    {
                        let anchor = events.remove(0);
                        return Ok(History {
                            snapshot: Some((snapshot, state, anchor)),
                            events,
                            disowned: false,
                        });
                    }
                    warn!(aggregate_id = %id, version = snapshot.version, "snapshot does not match its stream; ignored");
                }
                // Still read the events below: the same work as for a
                // stream without a snapshot, so the time taken tells
                // nothing about the other tenant's snapshot.
                Usable::OtherTenant => disowned = true,
                Usable::No => {}
            }
        }
        let events = self.read_events(&stream, 0, tenant).await?;
        Ok(History {
            snapshot: None,
            events,
            disowned,
        })
    }

    async fn read_events(
        &self,
        stream: &StreamId,
        after_version: u64,
        tenant: Option<TenantId>,
    ) -> RepositoryResult<Vec<StoredEvent>> {
        let events = match tenant {
            Some(tenant) => {
                self.store
                    .read_stream_of_tenant(stream, after_version, tenant)
                    .await
            }
            None => self.store.read_stream(stream, after_version).await,
        };
        events.map_err(RepositoryError::Store)
    }

    async fn snapshot_if_due(&self, root: &AggregateRoot<A>, before: u64) {
        let Some(snapshots) = &self.snapshots else { return };
        if !snapshots.strategy.due(before, root.version()) {
            return;
        }
        let state = match (snapshots.encode)(root.state()) {
            Ok(state) => state,
            Err(error) => {
                warn!(aggregate_id = %root.id(), %error, "aggregate state does not serialise; no snapshot taken");
                return;
            }
        };
        let snapshot = Snapshot {
            stream: Self::stream(root.id()),
            tenant_id: root.tenant_id(),
            version: root.version(),
            schema_version: snapshots.schema_version,
            state,
            taken_at: Utc::now(),
        };
        match snapshots.store.save(&snapshot).await {
            Ok(()) => debug!(aggregate_id = %root.id(), version = snapshot.version, "snapshot taken"),
            Err(error) => {
                warn!(aggregate_id = %root.id(), %error, "snapshot not saved; loads replay more events")
            }
        }
    }

    /// The error for an id without a stream of this type: not found, or
    /// the other aggregate type the id is stored as (among what `tenant` may
    /// see).
    async fn missing(&self, id: Uuid, tenant: TenantFilter) -> RepositoryError {
        // The repository's own type can show up for a stream the tenant does
        // not wholly own; only other types make the id a wrong one.
        let other_types = self.store.aggregate_types_of(id, tenant).await.map(|mut types| {
            types.retain(|found| found != aggregate_type_of::<A>());
            types
        });
        match other_types {
            Ok(types) if !types.is_empty() => RepositoryError::WrongAggregateType {
                aggregate_id: id,
                expected: aggregate_type_of::<A>(),
                found: types.join(", "),
            },
            Ok(_) => RepositoryError::NotFound {
                aggregate_id: id,
                aggregate_type: aggregate_type_of::<A>(),
            },
            Err(error) => RepositoryError::Store(error),
        }
    }
}

/// What a stream's snapshot is good for.
enum Usable<A> {
    /// Loading starts from it.
    Yes(Snapshot, A),
    /// It names another tenant than the one loading: not decoded, and the
    /// stream is nobody's.
    OtherTenant,
    /// None, or not usable (another schema version, does not decode):
    /// replay from the first event.
    No,
}

/// The stream's snapshot when one exists, belongs to `tenant` (when one is
/// given), has the current schema version and decodes.
async fn usable_snapshot<A>(
    snapshots: &Snapshotting<A>,
    stream: &StreamId,
    tenant: Option<TenantId>,
) -> Usable<A> {
    let snapshot = match snapshots.store.load(stream).await {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return Usable::No,
        Err(error) => {
            warn!(aggregate_id = %stream.aggregate_id, %error, "snapshot unreadable; replaying all events");
            return Usable::No;
        }
    };
    if tenant.is_some() && snapshot.tenant_id != tenant {
        return Usable::OtherTenant;
    }
    if snapshot.schema_version != snapshots.schema_version {
        debug!(
            aggregate_id = %stream.aggregate_id,
            stored = snapshot.schema_version,
            current = snapshots.schema_version,
            "snapshot of another schema version ignored"
        );
        return Usable::No;
    }
    match (snapshots.decode)(snapshot.state.clone()) {
        Ok(state) => Usable::Yes(snapshot, state),
        Err(error) => {
            warn!(aggregate_id = %stream.aggregate_id, %error, "snapshot state does not decode; ignored");
            Usable::No
        }
    }
}

fn rebuild<A: Aggregate>(id: Uuid, history: History<A>) -> RepositoryResult<AggregateRoot<A>> {
    let expected_type = aggregate_type_of::<A>();
    let owner = history.owner();
    let start = history
        .snapshot
        .map(|(snapshot, state, _)| (snapshot.version, state));
    let mut root = AggregateRoot::from_start(id, owner, start);
    for stored in &history.events {
        let envelope = &stored.event.envelope;
        if envelope.aggregate_type != expected_type {
            return Err(RepositoryError::WrongAggregateType {
                aggregate_id: id,
                expected: expected_type,
                found: envelope.aggregate_type.clone(),
            });
        }
        // Only the payload is decoded: the envelope stays where it is.
        let event = A::Event::from_payload(&envelope.event_type, &stored.event.payload)?;
        root.replay(envelope.aggregate_version, &event);
    }
    Ok(root)
}

/// A repository for code running inside a tenant scope.
///
/// Every call reads the tenant from the context and fails with
/// [`TenancyError::ContextNotSet`] outside one. An aggregate is the current
/// tenant's only if *every* event of its stream carries that tenant; that is
/// decided over the whole stream before anything is replayed. Anything else
/// is reported as [`RepositoryError::NotFound`], exactly as for an id that
/// does not exist, so a tenant cannot even learn that another tenant's
/// aggregate exists by loading it.
pub struct TenantAwareRepository<A, S: ?Sized = dyn EventStore> {
    inner: Repository<A, S>,
}

impl<A, S: ?Sized> Clone for TenantAwareRepository<A, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<A: Aggregate, S: EventStore + ?Sized> TenantAwareRepository<A, S> {
    /// A tenant-aware repository over `store`.
    pub fn new(store: Arc<S>) -> Self {
        Self {
            inner: Repository::new(store),
        }
    }

    /// A tenant-aware repository over a configured plain one (for example
    /// one with snapshots).
    pub fn wrap(inner: Repository<A, S>) -> Self {
        Self { inner }
    }

    /// A new aggregate of the current tenant.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::Tenancy`] outside a tenant scope.
    pub fn create_new(&self, id: Uuid) -> RepositoryResult<AggregateRoot<A>> {
        Ok(AggregateRoot::new(id, Some(get_required_tenant()?)))
    }

    /// Loads an aggregate of the current tenant.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::NotFound`] when the id is missing *or* belongs to
    /// another tenant (the two are indistinguishable),
    /// [`RepositoryError::Tenancy`] outside a tenant scope, and the errors of
    /// [`Repository::load`].
    #[instrument(skip(self), fields(aggregate_type = aggregate_type_of::<A>()))]
    pub async fn load(&self, id: Uuid) -> RepositoryResult<AggregateRoot<A>> {
        let tenant = get_required_tenant()?;
        // The store reads the stream only when its first event is the
        // tenant's: a missing stream and one that starts with another
        // tenant's event are turned away with exactly the same work, so
        // neither the answer nor its timing tells them apart, however long
        // the other stream is.
        let history = self.inner.read_history(id, Some(tenant)).await?;
        if history.is_empty() || history.owner() != Some(tenant) {
            debug!(%tenant, aggregate_id = %id, "stream not wholly the tenant's; reported as not found");
            return Err(self.inner.missing(id, TenantFilter::Tenant(tenant)).await);
        }
        rebuild(id, history)
    }

    /// Whether the current tenant has an aggregate with this id.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::Tenancy`] outside a tenant scope,
    /// [`RepositoryError::Store`].
    pub async fn exists(&self, id: Uuid) -> RepositoryResult<bool> {
        let tenant = get_required_tenant()?;
        Ok(self.inner.read_history(id, Some(tenant)).await?.owner() == Some(tenant))
    }

    /// Saves the aggregate's new events after checking that the aggregate
    /// and every new event belong to the current tenant.
    ///
    /// # Errors
    ///
    /// [`RepositoryError::TenantMismatch`] when an event (or the aggregate)
    /// belongs to another tenant or to none, [`RepositoryError::IdUnavailable`]
    /// when a new aggregate's id is taken by a stream the tenant does not
    /// own, [`RepositoryError::Tenancy`] outside a tenant scope, and the
    /// errors of [`Repository::save`].
    pub async fn save(&self, root: &mut AggregateRoot<A>) -> RepositoryResult<()> {
        let tenant = get_required_tenant()?;
        for event in root.uncommitted_events() {
            if event.envelope.tenant_id != Some(tenant) || root.tenant_id() != Some(tenant) {
                return Err(RepositoryError::TenantMismatch {
                    event_id: event.envelope.event_id,
                });
            }
        }

        match self.inner.save(root).await {
            Err(RepositoryError::Concurrency { aggregate_id, .. }) if !self.exists(aggregate_id).await? => {
                // The stream exists but is not this tenant's: a version
                // number would disclose how many events it holds.
                Err(RepositoryError::IdUnavailable { aggregate_id })
            }
            other => other,
        }
    }
}
