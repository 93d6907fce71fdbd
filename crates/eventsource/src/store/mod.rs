//! The event store contract.
//!
//! [`EventStore`] is the one trait every backend implements (in memory here,
//! SQLite and PostgreSQL in their own crates). Its guarantees, proven for
//! every backend by the conformance suite (feature `testing`):
//!
//! 1. An append is atomic: all events of one call are stored, or none.
//! 2. Optimistic concurrency: an append whose [`ExpectedVersion`] does not
//!    hold writes nothing and fails with [`StoreError::Concurrency`] naming
//!    what was expected and the actual version.
//! 3. Versions start at 1 and are contiguous per stream.
//! 4. An `event_id` is stored once; a batch holding a stored id, or one id
//!    twice, fails whole with [`StoreError::DuplicateEvent`].
//! 5. The global feed never skips an event that commits below a position a
//!    reader has already seen.
//! 6. Tenant filters run in the store, never by loading rows first.
//! 7. Timestamps (UTC, microseconds) and payloads round-trip exactly.

mod feed;
mod filter;
mod memory;

use std::collections::HashSet;
use std::fmt;

use async_trait::async_trait;
use futures::stream::BoxStream;
use uuid::Uuid;

use crate::event::{RawEvent, StoredEvent};
use crate::interchange::ENVELOPE_FIELDS;
use crate::tenant::TenantId;

pub use feed::paged_feed;
pub use filter::{EventFilter, ReadAllOptions, TenantFilter, DEFAULT_PAGE_SIZE};
pub use memory::InMemoryEventStore;

/// What the writer believes about the stream it appends to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// No expectation: append after whatever is there.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must already hold at least one event.
    StreamExists,
    /// The stream's last version must be exactly this.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` (0 when absent) satisfies this expectation.
    pub fn admits(self, actual: u64) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => actual == 0,
            Self::StreamExists => actual > 0,
            Self::Exact(expected) => expected == actual,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any version"),
            Self::NoStream => f.write_str("no stream"),
            Self::StreamExists => f.write_str("an existing stream"),
            Self::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// A stream: the events of one aggregate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// The aggregate's id.
    pub aggregate_id: Uuid,
    /// The aggregate's type.
    pub aggregate_type: String,
}

impl StreamId {
    /// Names the stream of one aggregate.
    pub fn new(aggregate_id: Uuid, aggregate_type: impl Into<String>) -> Self {
        Self {
            aggregate_id,
            aggregate_type: aggregate_type.into(),
        }
    }

    /// The stream an event belongs to.
    pub fn of(event: &RawEvent) -> Self {
        Self::new(event.envelope.aggregate_id, event.envelope.aggregate_type.clone())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.aggregate_type, self.aggregate_id)
    }
}

/// Events for one stream, appended under one expectation.
#[derive(Clone, Debug)]
pub struct StreamWrite {
    /// What the writer believes the stream's version is.
    pub expected: ExpectedVersion,
    /// The events, in version order, all of one stream.
    pub events: Vec<RawEvent>,
}

/// The outcome of a successful append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// The global position of each stored event, in the order given.
    pub positions: Vec<u64>,
}

/// Per-tenant figures: how many events and aggregates a tenant (or the
/// events without a tenant) holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantStats {
    /// The tenant, or `None` for events without one.
    pub tenant_id: Option<TenantId>,
    /// Number of events.
    pub events: u64,
    /// Number of distinct aggregates (streams).
    pub aggregates: u64,
    /// Events per aggregate type, sorted by type name.
    pub by_aggregate_type: Vec<(String, u64)>,
}

/// Failures of an event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the expected version; nothing was written.
    #[error("concurrency conflict on {stream}: expected {expected}, actual version {actual}")]
    Concurrency {
        /// The stream written to.
        stream: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The stream's version when the write was refused (0 when absent).
        actual: u64,
    },
    /// An event id is already stored, or appears twice in the batch; nothing
    /// of the batch was written.
    #[error("event {event_id} is already stored or appears twice in the batch; nothing was written")]
    DuplicateEvent {
        /// The duplicated id.
        event_id: Uuid,
    },
    /// The call itself was malformed (empty batch, mixed streams, versions
    /// that do not follow the expectation); nothing was written.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A stored row could not be read back.
    #[error("stored event at position {position} is corrupt: {message}")]
    Corrupt {
        /// Where it was found.
        position: u64,
        /// What was wrong.
        message: String,
    },
    /// The backend failed (connection, I/O, SQL).
    // The cause is part of the message (and so not also a `source`, which
    // would make error reports print it twice).
    #[error("event store backend failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }
}

/// The result type of event store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The contract of an event store. Object safe: `Arc<dyn EventStore>` works.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends events to one or more streams in one atomic step: every
    /// expectation is checked and every event written, or nothing is.
    ///
    /// Each write's events must all belong to one stream and carry the
    /// versions that follow the stream's actual version (1, 2, … for a new
    /// stream); the store never renumbers them.
    ///
    /// # Errors
    ///
    /// [`StoreError::Concurrency`], [`StoreError::DuplicateEvent`],
    /// [`StoreError::InvalidArgument`], [`StoreError::Backend`]; in every
    /// case nothing was written.
    async fn append_streams(&self, writes: &[StreamWrite]) -> StoreResult<AppendResult>;

    /// The events of one stream with a version above `after_version`, in
    /// version order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn read_stream(&self, stream: &StreamId, after_version: u64) -> StoreResult<Vec<StoredEvent>>;

    /// The current version of a stream (0 when absent).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn stream_version(&self, stream: &StreamId) -> StoreResult<u64>;

    /// The tenant of a stream's first event: `None` when the stream does not
    /// exist, `Some(None)` when its first event has no tenant. One indexed
    /// lookup, whatever the stream's length, so that a tenant-aware
    /// repository can turn away another tenant's aggregate with no more work
    /// than a missing one.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn first_event_tenant(&self, stream: &StreamId) -> StoreResult<Option<Option<TenantId>>>;

    /// The events of one stream after `after_version`, in version order,
    /// but only when the stream's first event is `tenant`'s; otherwise (a
    /// missing stream, one that starts with another tenant's event or with
    /// none) nothing. Reading another tenant's stream this way costs what a
    /// missing one does, whatever its length, and a stream the tenant owns
    /// is read in one step. The caller still checks that every event
    /// returned is the tenant's.
    ///
    /// The default asks [`EventStore::first_event_tenant`], then reads;
    /// SQL stores answer with one statement.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn read_stream_of_tenant(
        &self,
        stream: &StreamId,
        after_version: u64,
        tenant: TenantId,
    ) -> StoreResult<Vec<StoredEvent>> {
        if self.first_event_tenant(stream).await? != Some(Some(tenant)) {
            return Ok(Vec::new());
        }
        self.read_stream(stream, after_version).await
    }

    /// The aggregate types under which `aggregate_id` has a stream, among
    /// the events `tenant` admits.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn aggregate_types_of(&self, aggregate_id: Uuid, tenant: TenantFilter) -> StoreResult<Vec<String>>;

    /// The global feed: events matching `options` after its position, in
    /// position order, read in pages.
    fn read_all(&self, options: ReadAllOptions) -> BoxStream<'_, StoreResult<StoredEvent>>;

    /// Which of `event_ids` are stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn existing_event_ids(&self, event_ids: &[Uuid]) -> StoreResult<HashSet<Uuid>>;

    /// How many events match `filter`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn count(&self, filter: &EventFilter) -> StoreResult<u64>;

    /// The position of the last stored event; `None` for an empty store.
    /// Every event at or below it is visible to reads that start after this
    /// call returns (no earlier position can still commit).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn current_position(&self) -> StoreResult<Option<u64>>;

    /// Per-tenant figures, one entry per tenant plus one for events without
    /// a tenant (when there are any), sorted with no-tenant last.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn tenant_stats(&self) -> StoreResult<Vec<TenantStats>>;

    /// Waits until events after `after` may have been appended, or until
    /// `max_wait` has passed, whichever comes first. Followers of the feed
    /// call it when they have caught up. The default just sleeps;
    /// stores that can be told about appends wake earlier.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn wait_for_events(&self, after: Option<u64>, max_wait: std::time::Duration) -> StoreResult<()> {
        let _ = after;
        tokio::time::sleep(max_wait).await;
        Ok(())
    }

    /// Appends events to a single stream.
    ///
    /// # Errors
    ///
    /// As [`EventStore::append_streams`].
    async fn append(&self, expected: ExpectedVersion, events: Vec<RawEvent>) -> StoreResult<AppendResult> {
        self.append_streams(&[StreamWrite { expected, events }]).await
    }

    /// Whether an event with this id is stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    async fn event_exists(&self, event_id: Uuid) -> StoreResult<bool> {
        Ok(self.existing_event_ids(&[event_id]).await?.contains(&event_id))
    }

    /// Events of one aggregate type matching a tenant filter and a time
    /// range, in position order, collected (use [`EventStore::read_all`] to
    /// stream large results).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] or [`StoreError::Corrupt`].
    async fn events_by_type(&self, filter: EventFilter, limit: Option<u64>) -> StoreResult<Vec<StoredEvent>> {
        use futures::TryStreamExt;
        self.read_all(ReadAllOptions {
            filter,
            limit,
            ..ReadAllOptions::default()
        })
        .try_collect()
        .await
    }
}

/// Checks what every backend checks before it touches storage: the batch is
/// not empty, each write holds one stream with contiguous versions, and no
/// event id appears twice. Returns each write's stream.
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] or [`StoreError::DuplicateEvent`].
pub fn validate_writes(writes: &[StreamWrite]) -> StoreResult<Vec<StreamId>> {
    if writes.is_empty() || writes.iter().any(|write| write.events.is_empty()) {
        return Err(StoreError::InvalidArgument(
            "an append needs at least one event".into(),
        ));
    }

    let mut seen_ids = HashSet::new();
    let mut streams = Vec::with_capacity(writes.len());
    let mut seen_streams = HashSet::new();
    for write in writes {
        let stream = StreamId::of(&write.events[0]);
        let first_version = write.events[0].envelope.aggregate_version;
        for (offset, event) in write.events.iter().enumerate() {
            let envelope = &event.envelope;
            if envelope.aggregate_id != stream.aggregate_id
                || envelope.aggregate_type != stream.aggregate_type
            {
                return Err(StoreError::InvalidArgument(format!(
                    "event {} belongs to {} {}, but the write is for {stream}",
                    envelope.event_id, envelope.aggregate_type, envelope.aggregate_id
                )));
            }
            if envelope.event_type.is_empty() || envelope.aggregate_type.is_empty() {
                return Err(StoreError::InvalidArgument(format!(
                    "event {} has an empty event_type or aggregate_type",
                    envelope.event_id
                )));
            }
            if envelope.aggregate_version != first_version + offset as u64 {
                return Err(StoreError::InvalidArgument(format!(
                    "versions in the write for {stream} are not contiguous: event {} has version {}, expected {}",
                    envelope.event_id,
                    envelope.aggregate_version,
                    first_version + offset as u64
                )));
            }
            if let Some(field) = event
                .payload
                .keys()
                .find(|key| ENVELOPE_FIELDS.contains(&key.as_str()))
            {
                return Err(StoreError::InvalidArgument(format!(
                    "event {}: payload field `{field}` has the name of an envelope field",
                    envelope.event_id
                )));
            }
            if !seen_ids.insert(envelope.event_id) {
                return Err(StoreError::DuplicateEvent {
                    event_id: envelope.event_id,
                });
            }
        }
        if first_version == 0 {
            return Err(StoreError::InvalidArgument(format!(
                "versions of {stream} start at 1, not 0"
            )));
        }
        if let ExpectedVersion::Exact(expected) = write.expected {
            if first_version != expected + 1 {
                return Err(StoreError::InvalidArgument(format!(
                    "the write for {stream} expects version {expected} but its first event has version {first_version}"
                )));
            }
        }
        if write.expected == ExpectedVersion::NoStream && first_version != 1 {
            return Err(StoreError::InvalidArgument(format!(
                "the write for new stream {stream} must start at version 1, not {first_version}"
            )));
        }
        if !seen_streams.insert(stream.clone()) {
            return Err(StoreError::InvalidArgument(format!(
                "stream {stream} appears twice in one append"
            )));
        }
        streams.push(stream);
    }
    Ok(streams)
}

/// Checks one write against the stream's actual version, once the backend
/// has read it inside its transaction.
///
/// # Errors
///
/// [`StoreError::Concurrency`] when the expectation does not hold or the
/// first version does not follow the actual one.
pub fn check_expected_version(stream: &StreamId, write: &StreamWrite, actual: u64) -> StoreResult<()> {
    let first_version = write.events[0].envelope.aggregate_version;
    if !write.expected.admits(actual) || first_version != actual + 1 {
        return Err(StoreError::Concurrency {
            stream: stream.clone(),
            expected: write.expected,
            actual,
        });
    }
    Ok(())
}
