//! Projections: read models fed by the global feed.
//!
//! A [`Projection`] turns events into documents of a read model. The
//! [`ProjectionRunner`] feeds it from its checkpoint, in position order, in
//! batches; each batch's document changes, its parked failures and its new
//! checkpoint are committed in one transaction of the [`ProjectionStore`], so
//! an effect happens exactly once even when the process dies mid-batch. When
//! the read model lives in the same SQL database as the events, that is one
//! database transaction.
//!
//! A failing event is retried with exponential backoff ([`RetryPolicy`]),
//! then parked as a [`DeadLetter`] so the events after it are still
//! processed; parked events can be listed, retried and discarded.
//!
//! Within a batch, the runner keeps the documents it read and changed in a
//! cache and writes the changed ones once, just before the checkpoint and
//! the commit; a failing event's changes are undone in that cache.
//!
//! [`DeclarativeProjection`] is the usual way to write one: typed handlers
//! picked by event type, one document per event; events it has no handler
//! for are not even read from the store.

mod cache;
mod declarative;
mod memory;
mod runner;
mod store;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::event::StoredEvent;
use crate::store::{StoreError, TenantFilter};
use crate::tenant::TenantId;

pub use declarative::DeclarativeProjection;
pub use memory::InMemoryProjectionStore;
pub use runner::{CatchUpReport, ProjectionRunner, RetryPolicy, RunnerOptions};
pub use store::{Document, DocumentKey, ProjectionStore, ProjectionTx};

/// A read model fed by events.
#[async_trait]
pub trait Projection: Send + Sync {
    /// A stable, unique name: the key of its checkpoint, documents and dead
    /// letters.
    fn name(&self) -> &str;

    /// The event types it handles; `None` for every type. Other events are
    /// filtered out by the store and never reach [`Projection::apply`].
    fn event_types(&self) -> Option<Vec<String>> {
        None
    }

    /// Whose events it sees.
    fn tenant_filter(&self) -> TenantFilter {
        TenantFilter::Any
    }

    /// The documents [`Projection::apply`] will read for `events`, when it
    /// can tell in advance; `None` (the default) when it cannot. The runner
    /// reads them all in one request before applying a batch. It is a hint:
    /// a document left out is still read when asked for, one listed but
    /// never asked for costs only its read, and duplicates are harmless.
    fn document_keys(&self, events: &[StoredEvent]) -> Option<Vec<DocumentKey>> {
        let _ = events;
        None
    }

    /// Applies one event to the read model through `model`.
    ///
    /// # Errors
    ///
    /// Any [`ProjectionError`]; the runner rolls back what this call changed,
    /// retries, and finally parks the event.
    async fn apply(&self, event: &StoredEvent, model: &mut dyn ProjectionTx) -> Result<(), ProjectionError>;
}

/// Failures of projections and their stores.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The handler refused the event (bad data, a broken invariant).
    #[error("handler failed: {0}")]
    Handler(String),
    /// The event could not be decoded into the handler's type.
    #[error(transparent)]
    Decode(#[from] crate::event::DecodeError),
    /// A document could not be (de)serialised.
    #[error("document {key:?} is malformed: {message}")]
    Document {
        /// The document's key.
        key: String,
        /// What was wrong.
        message: String,
    },
    /// No projection or dead letter by that name or id.
    #[error("{0} not found")]
    NotFound(String),
    /// The event or projection store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a projection stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The projection's name.
    pub projection: String,
    /// The last position it has dealt with (handled, skipped or parked).
    pub position: u64,
    /// How many events it has handled or parked since its last reset.
    pub events_processed: u64,
    /// When the checkpoint last moved.
    pub updated_at: DateTime<Utc>,
}

/// An event a projection gave up on after its retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The dead letter's id in its store.
    pub id: u64,
    /// The projection that failed.
    pub projection: String,
    /// The event's position in the global feed.
    pub position: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// The event's type.
    pub event_type: String,
    /// The event's tenant.
    pub tenant_id: Option<TenantId>,
    /// The last error's text.
    pub error: String,
    /// How many times it was tried.
    pub attempts: u32,
    /// The first failure.
    pub first_failed_at: DateTime<Utc>,
    /// The last failure.
    pub last_failed_at: DateTime<Utc>,
}
