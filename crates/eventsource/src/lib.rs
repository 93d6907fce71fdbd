//! Event sourcing with first-class multi-tenancy.
//!
//! Every change is kept as an immutable [`Event`]; aggregates are rebuilt by
//! replaying them ([`Aggregate`], [`Repository`]); one [`EventStore`] serves
//! many tenants, and the tenant context ([`tenant_scope`],
//! [`TenantAwareRepository`]) keeps each tenant's data its own.
//!
//! ```
//! use std::sync::Arc;
//! use eventsource::{event_set, tenant_scope, Aggregate, DomainEvent, InMemoryEventStore, TenantAwareRepository, TenantId};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! pub struct TaskCreated { pub title: String }
//! impl DomainEvent for TaskCreated {
//!     const EVENT_TYPE: &'static str = "TaskCreated";
//!     const AGGREGATE_TYPE: &'static str = "Task";
//! }
//! event_set! { pub enum TaskEvent: "Task" { Created(TaskCreated) } }
//!
//! #[derive(Default)]
//! struct Task { title: String }
//! impl Aggregate for Task {
//!     type Event = TaskEvent;
//!     fn apply(&mut self, event: &TaskEvent) {
//!         match event { TaskEvent::Created(e) => self.title = e.title.clone() }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tasks = TenantAwareRepository::<Task, _>::new(Arc::new(InMemoryEventStore::new()));
//! let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
//! let id = uuid::Uuid::new_v4();
//!
//! tenant_scope(acme, async {
//!     let mut task = tasks.create_new(id)?;
//!     task.record(TaskCreated { title: "Ship it".into() });
//!     tasks.save(&mut task).await
//! }).await?;
//!
//! // Another tenant cannot tell the task exists.
//! let seen = tenant_scope(globex, tasks.exists(id)).await?;
//! assert!(!seen);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod aggregate;
pub mod event;
pub mod interchange;
pub mod projection;
pub mod repository;
pub mod snapshot;
pub mod store;
pub mod tenant;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use aggregate::{Aggregate, AggregateRoot};
pub use event::{
    now_micros, DecodeError, DomainEvent, Envelope, Event, EventSet, JsonObject, RawEvent, StoredEvent,
    TenantEvent,
};
pub use repository::{Repository, RepositoryError, RepositoryResult, TenantAwareRepository};
pub use snapshot::{InMemorySnapshotStore, Snapshot, SnapshotState, SnapshotStore, SnapshotStrategy};
pub use store::{
    AppendResult, EventFilter, EventStore, ExpectedVersion, InMemoryEventStore, ReadAllOptions, StoreError,
    StoreResult, StreamId, StreamWrite, TenantFilter, TenantStats,
};
pub use tenant::{
    clear_tenant_context, get_current_tenant, get_required_tenant, set_current_tenant, spawn_with_tenant,
    tenant_scope, tenant_scope_sync, TenancyError, TenantId,
};

/// The README's code examples, compiled and run as documentation tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;
