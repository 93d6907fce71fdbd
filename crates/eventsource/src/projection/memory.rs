//! Read models held in memory, for tests and examples. A transaction stages
//! its changes and applies them all at once on commit.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::store::{Document, ProjectionStore, ProjectionTx};
use super::{Checkpoint, DeadLetter};
use crate::event::StoredEvent;
use crate::store::{StoreError, StoreResult, TenantFilter};
use crate::tenant::TenantId;

type DocumentId = (String, Option<TenantId>, String);

#[derive(Default)]
struct State {
    documents: BTreeMap<DocumentId, Value>,
    checkpoints: BTreeMap<String, Checkpoint>,
    dead_letters: BTreeMap<u64, DeadLetter>,
    next_dead_letter: u64,
}

/// Read models, checkpoints and dead letters in memory. Clones share them.
#[derive(Clone, Default)]
pub struct InMemoryProjectionStore {
    state: Arc<Mutex<State>>,
    /// One lock per projection, held by its open transaction.
    writers: Arc<Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl InMemoryProjectionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Commits apply staged changes without awaiting or panicking
        // half-way, so a poisoned lock still guards consistent state.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl ProjectionStore for InMemoryProjectionStore {
    async fn begin(&self, projection: &str) -> StoreResult<Box<dyn ProjectionTx + '_>> {
        let writer = {
            let mut writers = self
                .writers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(writers.entry(projection.to_owned()).or_default())
        };
        Ok(Box::new(MemoryTx {
            _writer: writer.lock_owned().await,
            store: self,
            projection: projection.to_owned(),
            staged: Staged::default(),
            savepoint: None,
        }))
    }

    async fn checkpoint(&self, projection: &str) -> StoreResult<Option<Checkpoint>> {
        Ok(self.lock().checkpoints.get(projection).cloned())
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        Ok(self.lock().checkpoints.values().cloned().collect())
    }

    async fn dead_letters(&self, projection: Option<&str>) -> StoreResult<Vec<DeadLetter>> {
        let mut letters: Vec<DeadLetter> = self
            .lock()
            .dead_letters
            .values()
            .filter(|letter| projection.is_none_or(|name| letter.projection == name))
            .cloned()
            .collect();
        letters.sort_by_key(|letter| (letter.position, letter.id));
        Ok(letters)
    }

    async fn document(
        &self,
        projection: &str,
        tenant: Option<TenantId>,
        key: &str,
    ) -> StoreResult<Option<Value>> {
        Ok(self
            .lock()
            .documents
            .get(&(projection.to_owned(), tenant, key.to_owned()))
            .cloned())
    }

    async fn documents(&self, projection: &str, tenant: TenantFilter) -> StoreResult<Vec<Document>> {
        let mut documents: Vec<Document> = self
            .lock()
            .documents
            .iter()
            .filter(|((name, owner, _), _)| name == projection && tenant.admits(*owner))
            .map(|((_, owner, key), value)| Document {
                tenant_id: *owner,
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        documents.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(documents)
    }

    async fn reset(&self, projection: &str) -> StoreResult<()> {
        let mut state = self.lock();
        state.documents.retain(|(name, _, _), _| name != projection);
        state.checkpoints.remove(projection);
        state
            .dead_letters
            .retain(|_, letter| letter.projection != projection);
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Staged {
    /// `None` marks a deletion.
    documents: BTreeMap<(Option<TenantId>, String), Option<Value>>,
    parked: Vec<(StoredEvent, String, u32, DateTime<Utc>)>,
    removed_dead_letters: Vec<u64>,
    checkpoint: Option<(u64, u64)>,
}

struct MemoryTx<'a> {
    _writer: tokio::sync::OwnedMutexGuard<()>,
    store: &'a InMemoryProjectionStore,
    projection: String,
    staged: Staged,
    savepoint: Option<Staged>,
}

#[async_trait]
impl ProjectionTx for MemoryTx<'_> {
    async fn checkpoint_position(&mut self) -> StoreResult<Option<u64>> {
        Ok(self
            .store
            .lock()
            .checkpoints
            .get(&self.projection)
            .map(|c| c.position))
    }

    async fn get(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<Option<Value>> {
        if let Some(staged) = self.staged.documents.get(&(tenant, key.to_owned())) {
            return Ok(staged.clone());
        }
        self.store.document(&self.projection, tenant, key).await
    }

    async fn put(&mut self, tenant: Option<TenantId>, key: &str, value: &Value) -> StoreResult<()> {
        self.staged
            .documents
            .insert((tenant, key.to_owned()), Some(value.clone()));
        Ok(())
    }

    async fn delete(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<()> {
        self.staged.documents.insert((tenant, key.to_owned()), None);
        Ok(())
    }

    async fn savepoint(&mut self) -> StoreResult<()> {
        self.savepoint = Some(self.staged.clone());
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        let Some(savepoint) = &self.savepoint else {
            return Err(StoreError::InvalidArgument("rollback without a savepoint".into()));
        };
        self.staged = savepoint.clone();
        Ok(())
    }

    async fn park(
        &mut self,
        event: &StoredEvent,
        error: &str,
        attempts: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.staged
            .parked
            .push((event.clone(), error.to_owned(), attempts, at));
        Ok(())
    }

    async fn remove_dead_letter(&mut self, id: u64) -> StoreResult<bool> {
        let exists = self
            .store
            .lock()
            .dead_letters
            .get(&id)
            .is_some_and(|l| l.projection == self.projection);
        if exists {
            self.staged.removed_dead_letters.push(id);
        }
        Ok(exists)
    }

    async fn advance_checkpoint(&mut self, position: u64, processed: u64) -> StoreResult<()> {
        let (previous_position, previous_processed) = self.staged.checkpoint.unwrap_or((0, 0));
        self.staged.checkpoint = Some((position.max(previous_position), previous_processed + processed));
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let MemoryTx {
            store,
            projection,
            staged,
            ..
        } = *self;
        let mut state = store.lock();
        for ((tenant, key), value) in staged.documents {
            let id = (projection.clone(), tenant, key);
            match value {
                Some(value) => state.documents.insert(id, value),
                None => state.documents.remove(&id),
            };
        }
        for id in staged.removed_dead_letters {
            state.dead_letters.remove(&id);
        }
        for (event, error, attempts, at) in staged.parked {
            park(&mut state, &projection, &event, error, attempts, at);
        }
        if let Some((position, processed)) = staged.checkpoint {
            let now = Utc::now();
            let checkpoint = state
                .checkpoints
                .entry(projection.clone())
                .or_insert_with(|| Checkpoint {
                    projection: projection.clone(),
                    position: 0,
                    events_processed: 0,
                    updated_at: now,
                });
            checkpoint.position = checkpoint.position.max(position);
            checkpoint.events_processed += processed;
            checkpoint.updated_at = now;
        }
        Ok(())
    }
}

fn park(
    state: &mut State,
    projection: &str,
    event: &StoredEvent,
    error: String,
    attempts: u32,
    at: DateTime<Utc>,
) {
    let envelope = &event.event.envelope;
    let existing = state
        .dead_letters
        .values_mut()
        .find(|letter| letter.projection == projection && letter.event_id == envelope.event_id);
    if let Some(letter) = existing {
        letter.attempts += attempts;
        letter.error = error;
        letter.last_failed_at = at;
        return;
    }
    state.next_dead_letter += 1;
    let id = state.next_dead_letter;
    state.dead_letters.insert(
        id,
        DeadLetter {
            id,
            projection: projection.to_owned(),
            position: event.position,
            event_id: envelope.event_id,
            event_type: envelope.event_type.clone(),
            tenant_id: envelope.tenant_id,
            error,
            attempts,
            first_failed_at: at,
            last_failed_at: at,
        },
    );
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use super::InMemoryProjectionStore;
    use crate::testing::ProjectionStoreFixture;

    struct InMemory(Arc<InMemoryProjectionStore>);

    #[async_trait::async_trait]
    impl ProjectionStoreFixture for InMemory {
        type Store = InMemoryProjectionStore;

        async fn setup() -> Self {
            Self(Arc::new(InMemoryProjectionStore::new()))
        }

        fn store(&self) -> Arc<InMemoryProjectionStore> {
            Arc::clone(&self.0)
        }
    }

    crate::projection_store_conformance!(InMemory);
}
