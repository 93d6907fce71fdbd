//! Aggregates: state rebuilt by applying events in order.
//!
//! An [`Aggregate`] is the domain state and how each event changes it; the
//! `match` in [`Aggregate::apply`] is the declarative form. An
//! [`AggregateRoot`] wraps it with what the repository needs: the id, the
//! tenant, the version and the events recorded but not yet saved.

use uuid::Uuid;

use crate::event::{Event, EventSet};
use crate::tenant::TenantId;

/// Domain state that events change.
///
/// ```
/// use eventsource::{event_set, Aggregate, AggregateRoot, DomainEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// pub struct Deposited { pub cents: u64 }
/// impl DomainEvent for Deposited {
///     const EVENT_TYPE: &'static str = "Deposited";
///     const AGGREGATE_TYPE: &'static str = "Account";
/// }
/// event_set! { pub enum AccountEvent: "Account" { Deposited(Deposited) } }
///
/// #[derive(Default)]
/// struct Account { balance: u64 }
/// impl Aggregate for Account {
///     type Event = AccountEvent;
///     fn apply(&mut self, event: &AccountEvent) {
///         match event {
///             AccountEvent::Deposited(e) => self.balance += e.cents,
///         }
///     }
/// }
///
/// let mut account = AggregateRoot::<Account>::new(uuid::Uuid::new_v4(), None);
/// account.record(Deposited { cents: 250 });
/// assert_eq!(account.state().balance, 250);
/// assert_eq!(account.version(), 1);
/// ```
pub trait Aggregate: Default + Send + Sync + 'static {
    /// The events this aggregate accepts; their set names the aggregate type.
    type Event: EventSet;

    /// Changes the state by one event. Must not fail: validation belongs in
    /// the command that decides to record the event.
    fn apply(&mut self, event: &Self::Event);
}

/// The aggregate type name of `A`.
pub fn aggregate_type_of<A: Aggregate>() -> &'static str {
    <A::Event as EventSet>::AGGREGATE_TYPE
}

/// An aggregate with its identity, tenant, version and unsaved events.
#[derive(Debug)]
pub struct AggregateRoot<A: Aggregate> {
    id: Uuid,
    tenant_id: Option<TenantId>,
    committed_version: u64,
    state: A,
    uncommitted: Vec<Event<A::Event>>,
}

impl<A: Aggregate> AggregateRoot<A> {
    /// A new aggregate with no history.
    pub fn new(id: Uuid, tenant_id: Option<TenantId>) -> Self {
        Self {
            id,
            tenant_id,
            committed_version: 0,
            state: A::default(),
            uncommitted: Vec::new(),
        }
    }

    /// An aggregate at an optional starting point (a snapshot's version and
    /// state), ready to replay the stored events after it.
    pub(crate) fn from_start(id: Uuid, tenant_id: Option<TenantId>, start: Option<(u64, A)>) -> Self {
        let mut root = Self::new(id, tenant_id);
        if let Some((version, state)) = start {
            root.committed_version = version;
            root.state = state;
        }
        root
    }

    /// Applies one stored event, which has the given stream version.
    pub(crate) fn replay(&mut self, version: u64, event: &A::Event) {
        self.state.apply(event);
        self.committed_version = version;
    }

    /// The aggregate's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The tenant the aggregate belongs to.
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant_id
    }

    /// The current state, including unsaved events.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// The version including unsaved events.
    pub fn version(&self) -> u64 {
        self.committed_version + self.uncommitted.len() as u64
    }

    /// The version last loaded or saved.
    pub fn committed_version(&self) -> u64 {
        self.committed_version
    }

    /// The version the next recorded event gets.
    pub fn next_version(&self) -> u64 {
        self.version() + 1
    }

    /// Events recorded since the last load or save.
    pub fn uncommitted_events(&self) -> &[Event<A::Event>] {
        &self.uncommitted
    }

    /// Records a new event: builds its envelope (this aggregate, the next
    /// version, the aggregate's tenant), applies it and keeps it for saving.
    pub fn record(&mut self, payload: impl Into<A::Event>) -> &Event<A::Event> {
        let mut event = Event::new(self.id, payload);
        event.envelope.tenant_id = self.tenant_id;
        self.record_event(event)
    }

    /// Records an event whose envelope the caller built (to set an actor,
    /// metadata or causation). The aggregate id, type and version are set
    /// here; a missing tenant is taken from the aggregate, a different one is
    /// kept so that a tenant-aware save can refuse it.
    pub fn record_event(&mut self, mut event: Event<A::Event>) -> &Event<A::Event> {
        event.envelope.aggregate_id = self.id;
        if event.envelope.aggregate_type != aggregate_type_of::<A>() {
            event.envelope.aggregate_type = aggregate_type_of::<A>().to_owned();
        }
        event.envelope.aggregate_version = self.next_version();
        if event.envelope.tenant_id.is_none() {
            event.envelope.tenant_id = self.tenant_id;
        }
        self.state.apply(&event.payload);
        self.uncommitted.push(event);
        self.uncommitted
            .last()
            .expect("an event was pushed on the line above")
    }

    /// Marks the unsaved events as saved.
    pub(crate) fn mark_committed(&mut self) {
        self.committed_version = self.version();
        self.uncommitted.clear();
    }
}
