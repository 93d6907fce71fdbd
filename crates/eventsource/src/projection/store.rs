//! Where projections keep their documents, checkpoints and dead letters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Checkpoint, DeadLetter};
use crate::event::{Envelope, StoredEvent};
use crate::store::{StoreResult, TenantFilter};
use crate::tenant::TenantId;

/// One document of a read model.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The tenant it belongs to, if any.
    pub tenant_id: Option<TenantId>,
    /// Its key, unique per projection and tenant.
    pub key: String,
    /// Its content.
    pub value: Value,
}

/// Which document: a key, unique within the tenant (and the projection).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DocumentKey {
    /// The document's tenant (usually the event's).
    pub tenant_id: Option<TenantId>,
    /// The key within the tenant.
    pub key: String,
}

impl DocumentKey {
    /// One document per aggregate, in the event's tenant.
    pub fn per_aggregate(envelope: &Envelope) -> Self {
        Self {
            tenant_id: envelope.tenant_id,
            key: envelope.aggregate_id.to_string(),
        }
    }

    /// One document per tenant (and one for events without a tenant).
    pub fn per_tenant(envelope: &Envelope) -> Self {
        Self {
            tenant_id: envelope.tenant_id,
            key: envelope
                .tenant_id
                .map_or_else(|| "none".to_owned(), |tenant| tenant.to_string()),
        }
    }
}

/// Storage for read models. Every change goes through a [`ProjectionTx`];
/// the read methods here see only committed state.
#[async_trait]
pub trait ProjectionStore: Send + Sync {
    /// Starts a transaction for `projection`'s changes, waiting while
    /// another transaction of the same projection is open.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn begin(&self, projection: &str) -> StoreResult<Box<dyn ProjectionTx + '_>>;

    /// The checkpoint of one projection, if it ever committed one.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn checkpoint(&self, projection: &str) -> StoreResult<Option<Checkpoint>>;

    /// Every checkpoint, by projection name.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>>;

    /// Parked events, of one projection or all, in position order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn dead_letters(&self, projection: Option<&str>) -> StoreResult<Vec<DeadLetter>>;

    /// How many events of one projection are parked.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn dead_letter_count(&self, projection: &str) -> StoreResult<u64> {
        Ok(self.dead_letters(Some(projection)).await?.len() as u64)
    }

    /// One document.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn document(
        &self,
        projection: &str,
        tenant: Option<TenantId>,
        key: &str,
    ) -> StoreResult<Option<Value>>;

    /// A projection's documents that `tenant` admits, ordered by key.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn documents(&self, projection: &str, tenant: TenantFilter) -> StoreResult<Vec<Document>>;

    /// Removes a projection's documents, checkpoint and dead letters, so it
    /// can be rebuilt from the start of the feed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn reset(&self, projection: &str) -> StoreResult<()>;
}

/// The changes of one batch, committed together or not at all. Dropping it
/// without [`ProjectionTx::commit`] discards them. Transactions of one
/// projection are serialised: a second one waits in
/// [`ProjectionStore::begin`] until the first ends, so the checkpoint read
/// through [`ProjectionTx::checkpoint_position`] cannot move before commit.
#[async_trait]
pub trait ProjectionTx: Send {
    /// The projection's checkpoint position as of this transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn checkpoint_position(&mut self) -> StoreResult<Option<u64>>;

    /// Reads a document, seeing this transaction's own changes.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn get(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<Option<Value>>;

    /// Writes a document.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn put(&mut self, tenant: Option<TenantId>, key: &str, value: &Value) -> StoreResult<()>;

    /// Deletes a document (a no-op when absent).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn delete(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<()>;

    /// Reads several documents, seeing this transaction's own changes: one
    /// answer per key, in the order given (a key given twice is answered
    /// twice). The default asks [`ProjectionTx::get`] once per key; the SQL
    /// stores read them all in one statement.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`](crate::StoreError::InvalidArgument)
    /// for a key the store cannot hold,
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn get_many(&mut self, keys: &[DocumentKey]) -> StoreResult<Vec<Option<Value>>> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key.tenant_id, &key.key).await?);
        }
        Ok(values)
    }

    /// Writes several documents; of two with the same tenant and key, the
    /// later one wins. The default calls [`ProjectionTx::put`] once per
    /// document; the SQL stores write them all in one statement.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`](crate::StoreError::InvalidArgument)
    /// for a key the store cannot hold (nothing is written then),
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn put_many(&mut self, documents: &[Document]) -> StoreResult<()> {
        for document in documents {
            self.put(document.tenant_id, &document.key, &document.value)
                .await?;
        }
        Ok(())
    }

    /// Deletes several documents (absent ones are passed over). The default
    /// calls [`ProjectionTx::delete`] once per key; the SQL stores delete
    /// them all in one statement.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`](crate::StoreError::InvalidArgument)
    /// for a key the store cannot hold (nothing is deleted then),
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn delete_many(&mut self, keys: &[DocumentKey]) -> StoreResult<()> {
        for key in keys {
            self.delete(key.tenant_id, &key.key).await?;
        }
        Ok(())
    }

    /// Refuses, without sending anything, a document key this store cannot
    /// hold. The runner stages writes and sends them at the end of a batch;
    /// checking each key when it is staged lets the one event that made it
    /// fail and be parked, instead of failing the whole batch at commit.
    /// Every key is accepted by default.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`](crate::StoreError::InvalidArgument).
    fn check_document_key(&self, key: &str) -> StoreResult<()> {
        let _ = key;
        Ok(())
    }

    /// Marks a point that [`ProjectionTx::rollback_to_savepoint`] returns to.
    /// One savepoint at a time.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn savepoint(&mut self) -> StoreResult<()>;

    /// Undoes the changes since the savepoint, which stays set.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidArgument`](crate::StoreError::InvalidArgument)
    /// when no savepoint was set (silently undoing nothing would commit
    /// what the caller meant to discard),
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()>;

    /// Parks an event, or updates its dead letter when it is parked already
    /// (attempts added, last failure and error replaced).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn park(
        &mut self,
        event: &StoredEvent,
        error: &str,
        attempts: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Removes a dead letter (after a successful retry, or a discard).
    /// Returns whether it existed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn remove_dead_letter(&mut self, id: u64) -> StoreResult<bool>;

    /// Moves the checkpoint to `position` (never backwards: the highest
    /// position given wins), adding `processed` events.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend).
    async fn advance_checkpoint(&mut self, position: u64, processed: u64) -> StoreResult<()>;

    /// Commits every change of the transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`](crate::StoreError::Backend); nothing was
    /// committed then.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
