//! Snapshots: an aggregate's state at a version, so that loading a long
//! stream reads the latest snapshot plus the events after it instead of the
//! whole stream.
//!
//! A snapshot records the tenant that owns the stream and the schema
//! version of the state. A repository ignores a snapshot of another schema
//! version (the state is rebuilt from events, and the next snapshot replaces
//! it), and a tenant-aware repository checks a snapshot's tenant exactly as
//! it checks events.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::aggregate::Aggregate;
use crate::store::{StoreResult, StreamId};
use crate::tenant::TenantId;

/// An aggregate whose state can be snapshotted.
pub trait SnapshotState: Aggregate + Serialize + DeserializeOwned {
    /// The version of the state's serialised form. Raise it whenever the
    /// state's shape changes; older snapshots are then ignored.
    const SNAPSHOT_VERSION: u32 = 1;
}

/// The state of one aggregate at one version.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The aggregate's stream.
    pub stream: StreamId,
    /// The tenant owning every event up to `version` (`None` when none
    /// does).
    pub tenant_id: Option<TenantId>,
    /// The last event version folded into the state.
    pub version: u64,
    /// The state's schema version.
    pub schema_version: u32,
    /// The serialised state.
    pub state: Value,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// Where snapshots are kept: the latest one per stream.
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// The latest snapshot of a stream.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn load(&self, stream: &StreamId) -> StoreResult<Option<Snapshot>>;

    /// Keeps `snapshot` unless the stored one has a higher version.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn save(&self, snapshot: &Snapshot) -> StoreResult<()>;

    /// Removes a stream's snapshot.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn delete(&self, stream: &StreamId) -> StoreResult<()>;
}

/// When the repository takes a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotStrategy {
    /// After a save that crosses a multiple of this many events.
    EveryNEvents(u64),
}

impl SnapshotStrategy {
    /// Whether a save that moved the stream from `before` to `after` should
    /// take a snapshot.
    pub fn due(self, before: u64, after: u64) -> bool {
        match self {
            Self::EveryNEvents(every) => {
                let every = every.max(1);
                after / every > before / every
            }
        }
    }
}

/// Snapshots in memory. Clones share them.
#[derive(Clone, Default)]
pub struct InMemorySnapshotStore {
    snapshots: Arc<RwLock<HashMap<StreamId, Snapshot>>>,
}

impl InMemorySnapshotStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SnapshotStore for InMemorySnapshotStore {
    async fn load(&self, stream: &StreamId) -> StoreResult<Option<Snapshot>> {
        let snapshots = self
            .snapshots
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(snapshots.get(stream).cloned())
    }

    async fn save(&self, snapshot: &Snapshot) -> StoreResult<()> {
        let mut snapshots = self
            .snapshots
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let newer = snapshots
            .get(&snapshot.stream)
            .is_none_or(|stored| stored.version <= snapshot.version);
        if newer {
            snapshots.insert(snapshot.stream.clone(), snapshot.clone());
        }
        Ok(())
    }

    async fn delete(&self, stream: &StreamId) -> StoreResult<()> {
        self.snapshots
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(stream);
        Ok(())
    }
}

/// How a repository snapshots aggregates of type `A`; built where `A`'s
/// serde bounds are known, so the repository itself needs none.
pub(crate) struct Snapshotting<A> {
    pub(crate) store: Arc<dyn SnapshotStore>,
    pub(crate) strategy: SnapshotStrategy,
    pub(crate) schema_version: u32,
    pub(crate) encode: fn(&A) -> serde_json::Result<Value>,
    pub(crate) decode: fn(Value) -> serde_json::Result<A>,
}

impl<A> Clone for Snapshotting<A> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            strategy: self.strategy,
            schema_version: self.schema_version,
            encode: self.encode,
            decode: self.decode,
        }
    }
}

impl<A: SnapshotState> Snapshotting<A> {
    pub(crate) fn new(store: Arc<dyn SnapshotStore>, strategy: SnapshotStrategy) -> Self {
        Self {
            store,
            strategy,
            schema_version: A::SNAPSHOT_VERSION,
            encode: |state| serde_json::to_value(state),
            decode: serde_json::from_value,
        }
    }
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use super::{InMemorySnapshotStore, SnapshotStore};

    async fn fresh() -> (Arc<dyn SnapshotStore>, ()) {
        (Arc::new(InMemorySnapshotStore::new()), ())
    }

    crate::snapshot_store_conformance!(fresh());
}
