//! The documents of one batch, kept between the runner and the store's
//! transaction.
//!
//! A handler reads a document and writes it back for every event; sent to
//! the store one by one, with a savepoint around each event, that is several
//! requests per event. The cache reads each document from the transaction at
//! most once per batch (all of them in one request when the projection can
//! name them in advance), stages writes and deletions, and sends the changed
//! documents once, in one request each for writes and deletions, when it is
//! flushed or committed. Its savepoint is an undo log of the documents
//! changed since it was set: rolling back restores them in the cache, with
//! no request to the store and no copy of the batch.
//!
//! Dead letters and the checkpoint are not cached: they go straight to the
//! transaction, and the documents are written in that same transaction, so
//! the batch still commits whole or not at all. The undo log covers
//! documents only; the runner rolls back before it parks an event.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::debug;

use super::store::{Document, DocumentKey, ProjectionTx};
use crate::event::StoredEvent;
use crate::store::{StoreError, StoreResult};
use crate::tenant::TenantId;

/// A document as the batch sees it.
struct Entry {
    /// Its content; `None` when there is no such document (never written,
    /// or deleted in this batch).
    value: Option<Value>,
    /// Whether the batch changed it, so the store must be told.
    changed: bool,
}

/// Documents by tenant, then key (two levels, so a lookup needs no owned
/// key).
type Documents = HashMap<Option<TenantId>, HashMap<String, Entry>>;

/// How a document was before one change: `None` when it was not cached,
/// which means as in the store.
struct Undo {
    tenant: Option<TenantId>,
    key: String,
    previous: Option<Entry>,
}

/// A transaction with the batch's documents cached in front of it.
pub(super) struct DocumentCache<'a> {
    tx: Box<dyn ProjectionTx + 'a>,
    documents: Documents,
    /// The changes since the savepoint, oldest first; `None` while no
    /// savepoint is set.
    undo: Option<Vec<Undo>>,
}

impl<'a> DocumentCache<'a> {
    /// An empty cache in front of `tx`.
    pub(super) fn new(tx: Box<dyn ProjectionTx + 'a>) -> Self {
        Self {
            tx,
            documents: Documents::new(),
            undo: None,
        }
    }

    /// Reads the documents of `keys` that are not cached yet, in one
    /// request. Keys the store would refuse are left for
    /// [`ProjectionTx::get`] to refuse, so only the event that asks for one
    /// fails.
    pub(super) async fn prefetch(&mut self, keys: Vec<DocumentKey>) -> StoreResult<()> {
        let mut wanted = HashSet::new();
        let missing: Vec<DocumentKey> = keys
            .into_iter()
            .filter(|key| self.cached(key.tenant_id, &key.key).is_none())
            .filter(|key| self.tx.check_document_key(&key.key).is_ok())
            .filter(|key| wanted.insert(key.clone()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let values = self.tx.get_many(&missing).await?;
        debug!(documents = missing.len(), "documents of the batch read ahead");
        for (key, value) in missing.into_iter().zip(values) {
            self.remember(key.tenant_id, key.key, value);
        }
        Ok(())
    }

    /// Sends the changed documents to the transaction: the deletions in one
    /// request, the writes in another. The cache is empty afterwards (later
    /// reads go to the transaction, which holds the changes now), and the
    /// savepoint is gone: what was sent can no longer be undone here.
    pub(super) async fn flush(&mut self) -> StoreResult<()> {
        self.undo = None;
        let (mut written, mut deleted) = (Vec::new(), Vec::new());
        for (tenant_id, documents) in self.documents.drain() {
            for (key, entry) in documents.into_iter().filter(|(_, entry)| entry.changed) {
                match entry.value {
                    Some(value) => written.push(Document {
                        tenant_id,
                        key,
                        value,
                    }),
                    None => deleted.push(DocumentKey { tenant_id, key }),
                }
            }
        }
        if written.is_empty() && deleted.is_empty() {
            return Ok(());
        }
        if !deleted.is_empty() {
            self.tx.delete_many(&deleted).await?;
        }
        if !written.is_empty() {
            self.tx.put_many(&written).await?;
        }
        debug!(
            written = written.len(),
            deleted = deleted.len(),
            "batch documents flushed"
        );
        Ok(())
    }

    /// Flushes, then commits the transaction.
    pub(super) async fn commit(mut self) -> StoreResult<()> {
        self.flush().await?;
        self.tx.commit().await
    }

    fn cached(&self, tenant: Option<TenantId>, key: &str) -> Option<&Entry> {
        self.documents.get(&tenant)?.get(key)
    }

    /// Caches a document as the store holds it.
    fn remember(&mut self, tenant: Option<TenantId>, key: String, value: Option<Value>) {
        let entry = Entry {
            value,
            changed: false,
        };
        self.documents.entry(tenant).or_default().insert(key, entry);
    }

    /// Stages a change, logging the document's previous state while a
    /// savepoint is set.
    fn change(&mut self, tenant: Option<TenantId>, key: &str, value: Option<Value>) {
        let entry = Entry { value, changed: true };
        let documents = self.documents.entry(tenant).or_default();
        let previous = match documents.get_mut(key) {
            Some(cached) => Some(std::mem::replace(cached, entry)),
            None => documents.insert(key.to_owned(), entry),
        };
        if let Some(undo) = &mut self.undo {
            undo.push(Undo {
                tenant,
                key: key.to_owned(),
                previous,
            });
        }
    }

    /// Puts a document back as it was before one change.
    fn restore(&mut self, change: Undo) {
        let documents = self.documents.entry(change.tenant).or_default();
        match change.previous {
            Some(entry) => documents.insert(change.key, entry),
            None => documents.remove(&change.key),
        };
    }
}

#[async_trait]
impl ProjectionTx for DocumentCache<'_> {
    async fn checkpoint_position(&mut self) -> StoreResult<Option<u64>> {
        self.tx.checkpoint_position().await
    }

    async fn get(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<Option<Value>> {
        if let Some(entry) = self.cached(tenant, key) {
            return Ok(entry.value.clone());
        }
        let value = self.tx.get(tenant, key).await?;
        self.remember(tenant, key.to_owned(), value.clone());
        Ok(value)
    }

    async fn get_many(&mut self, keys: &[DocumentKey]) -> StoreResult<Vec<Option<Value>>> {
        self.prefetch(keys.to_vec()).await?;
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key.tenant_id, &key.key).await?);
        }
        Ok(values)
    }

    async fn put(&mut self, tenant: Option<TenantId>, key: &str, value: &Value) -> StoreResult<()> {
        self.tx.check_document_key(key)?;
        self.change(tenant, key, Some(value.clone()));
        Ok(())
    }

    async fn delete(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<()> {
        self.tx.check_document_key(key)?;
        self.change(tenant, key, None);
        Ok(())
    }

    fn check_document_key(&self, key: &str) -> StoreResult<()> {
        self.tx.check_document_key(key)
    }

    async fn savepoint(&mut self) -> StoreResult<()> {
        match &mut self.undo {
            Some(undo) => undo.clear(),
            None => self.undo = Some(Vec::new()),
        }
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        let Some(undo) = self.undo.as_mut() else {
            return Err(StoreError::InvalidArgument(
                "rollback_to_savepoint called before any savepoint was set".to_owned(),
            ));
        };
        let changes = std::mem::take(undo);
        for change in changes.into_iter().rev() {
            self.restore(change);
        }
        Ok(())
    }

    async fn park(
        &mut self,
        event: &StoredEvent,
        error: &str,
        attempts: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.tx.park(event, error, attempts, at).await
    }

    async fn remove_dead_letter(&mut self, id: u64) -> StoreResult<bool> {
        self.tx.remove_dead_letter(id).await
    }

    async fn advance_checkpoint(&mut self, position: u64, processed: u64) -> StoreResult<()> {
        self.tx.advance_checkpoint(position, processed).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        DocumentCache::commit(*self).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use serde_json::{json, Value};

    use super::DocumentCache;
    use crate::projection::{
        Checkpoint, DeadLetter, Document, DocumentKey, InMemoryProjectionStore, ProjectionStore, ProjectionTx,
    };
    use crate::store::{StoreResult, TenantFilter};
    use crate::tenant::TenantId;
    use crate::testing::ProjectionStoreFixture;

    /// The in-memory store with every transaction behind a cache, so the
    /// cache must keep the whole transaction contract.
    #[derive(Default)]
    struct Cached(InMemoryProjectionStore);

    #[async_trait]
    impl ProjectionStore for Cached {
        async fn begin(&self, projection: &str) -> StoreResult<Box<dyn ProjectionTx + '_>> {
            Ok(Box::new(DocumentCache::new(self.0.begin(projection).await?)))
        }

        async fn checkpoint(&self, projection: &str) -> StoreResult<Option<Checkpoint>> {
            self.0.checkpoint(projection).await
        }

        async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
            self.0.checkpoints().await
        }

        async fn dead_letters(&self, projection: Option<&str>) -> StoreResult<Vec<DeadLetter>> {
            self.0.dead_letters(projection).await
        }

        async fn document(
            &self,
            projection: &str,
            tenant: Option<TenantId>,
            key: &str,
        ) -> StoreResult<Option<Value>> {
            self.0.document(projection, tenant, key).await
        }

        async fn documents(&self, projection: &str, tenant: TenantFilter) -> StoreResult<Vec<Document>> {
            self.0.documents(projection, tenant).await
        }

        async fn reset(&self, projection: &str) -> StoreResult<()> {
            self.0.reset(projection).await
        }
    }

    struct CachedFixture(Arc<Cached>);

    #[async_trait]
    impl ProjectionStoreFixture for CachedFixture {
        type Store = Cached;

        async fn setup() -> Self {
            Self(Arc::new(Cached::default()))
        }

        fn store(&self) -> Arc<Cached> {
            Arc::clone(&self.0)
        }
    }

    mod conformance {
        crate::projection_store_conformance!(super::CachedFixture);
    }

    fn key(key: &str) -> DocumentKey {
        DocumentKey {
            tenant_id: None,
            key: key.to_owned(),
        }
    }

    #[tokio::test]
    async fn a_rollback_restores_each_document_as_it_was_at_the_savepoint() {
        let store = InMemoryProjectionStore::new();
        let mut tx = store.begin("counts").await.unwrap();
        tx.put(None, "stored", &json!("committed")).await.unwrap();
        tx.commit().await.unwrap();

        let mut cache = DocumentCache::new(store.begin("counts").await.unwrap());
        cache.put(None, "counter", &json!(1)).await.unwrap();
        cache.savepoint().await.unwrap();
        for n in 2..5 {
            cache.put(None, "counter", &json!(n)).await.unwrap();
        }
        cache.delete(None, "stored").await.unwrap();
        cache.put(None, "new", &json!(true)).await.unwrap();
        cache.rollback_to_savepoint().await.unwrap();

        let keys = [key("counter"), key("stored"), key("new")];
        let expected = [Some(json!(1)), Some(json!("committed")), None];
        assert_eq!(cache.get_many(&keys).await.unwrap(), expected);
        cache.commit().await.unwrap();
        for (key, expected) in keys.iter().zip(expected) {
            assert_eq!(store.document("counts", None, &key.key).await.unwrap(), expected);
        }
    }

    #[tokio::test]
    async fn nothing_reaches_the_store_before_the_flush() {
        let store = InMemoryProjectionStore::new();
        let mut cache = DocumentCache::new(store.begin("counts").await.unwrap());
        cache.put(None, "counter", &json!(1)).await.unwrap();
        cache.prefetch(vec![key("counter"), key("other")]).await.unwrap();
        assert_eq!(
            cache.get(None, "counter").await.unwrap(),
            Some(json!(1)),
            "a read ahead does not overwrite a staged change"
        );
        assert_eq!(cache.tx.get(None, "counter").await.unwrap(), None);

        cache.flush().await.unwrap();
        assert_eq!(cache.tx.get(None, "counter").await.unwrap(), Some(json!(1)));
        assert!(
            cache.rollback_to_savepoint().await.is_err(),
            "a flush ends the savepoint: what was sent cannot be undone here"
        );
    }
}
