//! Read models, checkpoints and dead letters in the events' PostgreSQL
//! database (the tables of migration `0004`).
//!
//! A [`ProjectionTx`] is one PostgreSQL transaction, so a batch's
//! documents, parked events and new checkpoint commit together or not at
//! all. Its first statement takes a transaction-scoped advisory lock keyed
//! on the projection's name (`sql/projection/lock.sql`): a second
//! transaction of the same projection, from this process or any other,
//! waits in [`ProjectionStore::begin`] until the first commits or rolls
//! back, and then reads the checkpoint the first committed (the transaction
//! runs at `READ COMMITTED`, so each statement sees every commit that came
//! before it). Transactions of different projections do not wait for each
//! other, nor for appends, whose lock lives in another key space.
//! [`ProjectionStore::reset`] takes the same lock, so it never interleaves
//! with a batch.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use eventsource::projection::{Checkpoint, DeadLetter, Document, DocumentKey, ProjectionStore, ProjectionTx};
use eventsource::{StoreError, StoreResult, StoredEvent, TenantFilter, TenantId};
use serde_json::Value;
use sqlx::{Executor, PgPool, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use crate::bounds::{self, bigint, unsigned};
use crate::error::backend;
use crate::PostgresEventStore;

const LOCK: &str = include_str!("sql/projection/lock.sql");
const CHECKPOINT_POSITION: &str = include_str!("sql/projection/checkpoint_position.sql");
const CHECKPOINT: &str = include_str!("sql/projection/checkpoint.sql");
const CHECKPOINTS: &str = include_str!("sql/projection/checkpoints.sql");
const ADVANCE_CHECKPOINT: &str = include_str!("sql/projection/advance_checkpoint.sql");
const DOCUMENT: &str = include_str!("sql/projection/document.sql");
const PUT: &str = include_str!("sql/projection/put.sql");
const DELETE: &str = include_str!("sql/projection/delete.sql");
const GET_MANY: &str = include_str!("sql/projection/get_many.sql");
const PUT_MANY: &str = include_str!("sql/projection/put_many.sql");
const DELETE_MANY: &str = include_str!("sql/projection/delete_many.sql");
const PARK: &str = include_str!("sql/projection/park.sql");
const REMOVE_DEAD_LETTER: &str = include_str!("sql/projection/remove_dead_letter.sql");
const DEAD_LETTERS: &str = include_str!("sql/projection/dead_letters.sql");
const DEAD_LETTER_COUNT: &str = include_str!("sql/projection/dead_letter_count.sql");
const ALL_DEAD_LETTERS: &str = include_str!("sql/projection/all_dead_letters.sql");
const RESET: &str = include_str!("sql/projection/reset.sql");

/// The transaction's isolation level is named, not left to the server's
/// default: at `REPEATABLE READ` the snapshot would be taken before the lock
/// is granted, and a transaction could read a checkpoint its predecessor has
/// already moved.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

const SAVEPOINT: &str = "SAVEPOINT projection_event";
const RELEASE_AND_SAVEPOINT: &str = "RELEASE SAVEPOINT projection_event; SAVEPOINT projection_event";
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT projection_event";

/// Read models, checkpoints and dead letters in PostgreSQL, on the event
/// store's pool. Cloning it shares the pool.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use eventsource::projection::ProjectionRunner;
/// use eventsource_postgres::{PostgresEventStore, PostgresProjectionStore};
///
/// # async fn run() -> Result<(), eventsource::StoreError> {
/// // Connected as the tables' owner: a projection over every tenant is
/// // cross-tenant work (see the crate documentation).
/// let events = PostgresEventStore::open("postgres://eventsource_owner@127.0.0.1/orders").await?;
/// let models = PostgresProjectionStore::new(&events);
/// let runner = ProjectionRunner::new(Arc::new(events), Arc::new(models));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresProjectionStore {
    pool: PgPool,
}

impl PostgresProjectionStore {
    /// Projection storage in the database of `events`, on its pool. The
    /// event store's migrations create the tables.
    pub fn new(events: &PostgresEventStore) -> Self {
        Self {
            pool: events.pool().clone(),
        }
    }

    /// Begins a transaction holding `projection`'s lock.
    async fn locked(&self, projection: &str) -> StoreResult<Transaction<'static, Postgres>> {
        bounds::text("projection name", projection)?;
        let mut transaction = self.pool.begin_with(BEGIN).await.map_err(backend)?;
        sqlx::query(LOCK)
            .bind(projection)
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        Ok(transaction)
    }
}

#[async_trait]
impl ProjectionStore for PostgresProjectionStore {
    async fn begin(&self, projection: &str) -> StoreResult<Box<dyn ProjectionTx + '_>> {
        let transaction = self.locked(projection).await?;
        tracing::trace!(projection, "projection transaction began");
        Ok(Box::new(PostgresProjectionTx {
            transaction,
            projection: projection.to_owned(),
            savepoint: false,
        }))
    }

    async fn checkpoint(&self, projection: &str) -> StoreResult<Option<Checkpoint>> {
        let row: Option<CheckpointRow> = sqlx::query_as(CHECKPOINT)
            .bind(projection)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.map(CheckpointRow::into_checkpoint))
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        let rows: Vec<CheckpointRow> = sqlx::query_as(CHECKPOINTS)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(CheckpointRow::into_checkpoint).collect())
    }

    async fn dead_letters(&self, projection: Option<&str>) -> StoreResult<Vec<DeadLetter>> {
        let query = match projection {
            Some(projection) => sqlx::query_as(DEAD_LETTERS).bind(projection),
            None => sqlx::query_as(ALL_DEAD_LETTERS),
        };
        let rows: Vec<DeadLetterRow> = query.fetch_all(&self.pool).await.map_err(backend)?;
        Ok(rows.into_iter().map(DeadLetterRow::into_dead_letter).collect())
    }

    async fn dead_letter_count(&self, projection: &str) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(DEAD_LETTER_COUNT)
            .bind(projection)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(count as u64)
    }

    async fn document(
        &self,
        projection: &str,
        tenant: Option<TenantId>,
        key: &str,
    ) -> StoreResult<Option<Value>> {
        read_document(&self.pool, projection, tenant, key).await
    }

    async fn documents(&self, projection: &str, tenant: TenantFilter) -> StoreResult<Vec<Document>> {
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT tenant_id, key, value::text AS value FROM projection_documents WHERE projection = ",
        );
        query.push_bind(projection);
        match tenant {
            TenantFilter::Any => {}
            TenantFilter::NoTenant => {
                query.push(" AND tenant_key = ''");
            }
            TenantFilter::Tenant(tenant) => {
                query
                    .push(" AND tenant_key = ")
                    .push_bind(tenant.as_uuid())
                    .push("::text");
            }
        }
        // Within a key, the document without a tenant comes first, then
        // tenants in id order, as in memory.
        query.push(" ORDER BY key, tenant_key");
        let rows: Vec<DocumentRow> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter().map(DocumentRow::into_document).collect()
    }

    async fn reset(&self, projection: &str) -> StoreResult<()> {
        let mut transaction = self.locked(projection).await?;
        sqlx::query(RESET)
            .bind(projection)
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        transaction.commit().await.map_err(backend)?;
        tracing::info!(projection, "projection reset");
        Ok(())
    }
}

/// One projection's transaction: a PostgreSQL transaction holding the
/// projection's lock. Dropping it rolls back and releases the lock.
struct PostgresProjectionTx {
    transaction: Transaction<'static, Postgres>,
    projection: String,
    /// Whether the savepoint is set.
    savepoint: bool,
}

impl PostgresProjectionTx {
    /// Runs statements without parameters, in one round trip (the simple
    /// query protocol takes several statements at once).
    async fn run(&mut self, statements: &'static str) -> StoreResult<()> {
        self.transaction.execute(statements).await.map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ProjectionTx for PostgresProjectionTx {
    async fn checkpoint_position(&mut self) -> StoreResult<Option<u64>> {
        let position: Option<i64> = sqlx::query_scalar(CHECKPOINT_POSITION)
            .bind(&self.projection)
            .fetch_optional(&mut *self.transaction)
            .await
            .map_err(backend)?;
        Ok(position.map(unsigned))
    }

    async fn get(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<Option<Value>> {
        read_document(&mut *self.transaction, &self.projection, tenant, key).await
    }

    async fn put(&mut self, tenant: Option<TenantId>, key: &str, value: &Value) -> StoreResult<()> {
        sqlx::query(PUT)
            .bind(&self.projection)
            .bind(tenant.as_ref().map(TenantId::as_uuid))
            .bind(bounds::text("document key", key)?)
            // serde_json writes a NUL in a string as the escape `\u0000`,
            // which `json` keeps.
            .bind(value.to_string())
            .execute(&mut *self.transaction)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<()> {
        sqlx::query(DELETE)
            .bind(&self.projection)
            .bind(tenant.as_ref().map(TenantId::as_uuid))
            .bind(bounds::text("document key", key)?)
            .execute(&mut *self.transaction)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_many(&mut self, keys: &[DocumentKey]) -> StoreResult<Vec<Option<Value>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let (tenants, names) = key_columns(keys)?;
        let rows: Vec<(i64, String)> = sqlx::query_as(GET_MANY)
            .bind(&self.projection)
            .bind(tenants)
            .bind(names)
            .fetch_all(&mut *self.transaction)
            .await
            .map_err(backend)?;
        let mut values = vec![None; keys.len()];
        for (ordinal, value) in rows {
            // WITH ORDINALITY counts from 1, within the arrays sent.
            let slot = usize::try_from(ordinal - 1).map_err(StoreError::backend)?;
            values[slot] = Some(json_value(&value)?);
        }
        Ok(values)
    }

    async fn put_many(&mut self, documents: &[Document]) -> StoreResult<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let mut tenants = Vec::with_capacity(documents.len());
        let mut names = Vec::with_capacity(documents.len());
        let mut values = Vec::with_capacity(documents.len());
        for document in documents {
            tenants.push(document.tenant_id.as_ref().map(TenantId::as_uuid));
            names.push(bounds::text("document key", &document.key)?);
            values.push(document.value.to_string());
        }
        sqlx::query(PUT_MANY)
            .bind(&self.projection)
            .bind(tenants)
            .bind(names)
            .bind(values)
            .execute(&mut *self.transaction)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_many(&mut self, keys: &[DocumentKey]) -> StoreResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let (tenants, names) = key_columns(keys)?;
        sqlx::query(DELETE_MANY)
            .bind(&self.projection)
            .bind(tenants)
            .bind(names)
            .execute(&mut *self.transaction)
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn check_document_key(&self, key: &str) -> StoreResult<()> {
        bounds::text("document key", key).map(drop)
    }

    async fn savepoint(&mut self) -> StoreResult<()> {
        // One savepoint at a time: the previous one is released in the same
        // round trip, so they do not pile up over a batch.
        let statements = if self.savepoint {
            RELEASE_AND_SAVEPOINT
        } else {
            SAVEPOINT
        };
        self.run(statements).await?;
        self.savepoint = true;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        if !self.savepoint {
            // Undoing nothing silently would let the caller commit changes
            // it meant to discard.
            return Err(StoreError::InvalidArgument(
                "rollback_to_savepoint called before any savepoint was set".to_owned(),
            ));
        }
        self.run(ROLLBACK_TO_SAVEPOINT).await
    }

    async fn park(
        &mut self,
        event: &StoredEvent,
        error: &str,
        attempts: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let envelope = &event.event.envelope;
        sqlx::query(PARK)
            .bind(&self.projection)
            .bind(bigint("position", event.position)?)
            .bind(envelope.event_id)
            .bind(bounds::text("event type", &envelope.event_type)?)
            .bind(envelope.tenant_id.as_ref().map(TenantId::as_uuid))
            // An error text is whatever a handler said; parking must not fail
            // on it, so a NUL (which text cannot hold) becomes U+FFFD.
            .bind(error.replace('\0', "\u{fffd}"))
            .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
            .bind(at.trunc_subsecs(6))
            .execute(&mut *self.transaction)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn remove_dead_letter(&mut self, id: u64) -> StoreResult<bool> {
        // No dead letter has an id beyond the BIGSERIAL range.
        let Ok(id) = i64::try_from(id) else {
            return Ok(false);
        };
        let removed = sqlx::query(REMOVE_DEAD_LETTER)
            .bind(id)
            .bind(&self.projection)
            .execute(&mut *self.transaction)
            .await
            .map_err(backend)?;
        Ok(removed.rows_affected() > 0)
    }

    async fn advance_checkpoint(&mut self, position: u64, processed: u64) -> StoreResult<()> {
        sqlx::query(ADVANCE_CHECKPOINT)
            .bind(&self.projection)
            .bind(bigint("checkpoint position", position)?)
            .bind(bigint("processed events", processed)?)
            .bind(Utc::now().trunc_subsecs(6))
            .execute(&mut *self.transaction)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let Self {
            transaction,
            projection,
            ..
        } = *self;
        transaction.commit().await.map_err(backend)?;
        tracing::trace!(projection, "projection transaction committed");
        Ok(())
    }
}

async fn read_document<'e>(
    executor: impl sqlx::Executor<'e, Database = Postgres>,
    projection: &str,
    tenant: Option<TenantId>,
    key: &str,
) -> StoreResult<Option<Value>> {
    let value: Option<String> = sqlx::query_scalar(DOCUMENT)
        .bind(projection)
        .bind(tenant.as_ref().map(TenantId::as_uuid))
        .bind(bounds::text("document key", key)?)
        .fetch_optional(executor)
        .await
        .map_err(backend)?;
    value.as_deref().map(json_value).transpose()
}

/// The tenants and keys of `keys` as two arrays, element by element; a key
/// PostgreSQL text cannot hold is refused before anything is sent.
fn key_columns(keys: &[DocumentKey]) -> StoreResult<(Vec<Option<Uuid>>, Vec<&str>)> {
    let tenants = keys
        .iter()
        .map(|key| key.tenant_id.as_ref().map(TenantId::as_uuid))
        .collect();
    let names = keys
        .iter()
        .map(|key| bounds::text("document key", &key.key))
        .collect::<StoreResult<_>>()?;
    Ok((tenants, names))
}

fn json_value(text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(StoreError::backend)
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    projection: String,
    position: i64,
    events_processed: i64,
    updated_at: DateTime<Utc>,
}

impl CheckpointRow {
    fn into_checkpoint(self) -> Checkpoint {
        Checkpoint {
            projection: self.projection,
            position: unsigned(self.position),
            events_processed: unsigned(self.events_processed),
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    tenant_id: Option<Uuid>,
    key: String,
    value: String,
}

impl DocumentRow {
    fn into_document(self) -> StoreResult<Document> {
        Ok(Document {
            tenant_id: self.tenant_id.map(TenantId::from_uuid),
            key: self.key,
            value: json_value(&self.value)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeadLetterRow {
    id: i64,
    projection: String,
    position: i64,
    event_id: Uuid,
    event_type: String,
    tenant_id: Option<Uuid>,
    error: String,
    attempts: i32,
    first_failed_at: DateTime<Utc>,
    last_failed_at: DateTime<Utc>,
}

impl DeadLetterRow {
    fn into_dead_letter(self) -> DeadLetter {
        DeadLetter {
            id: unsigned(self.id),
            projection: self.projection,
            position: unsigned(self.position),
            event_id: self.event_id,
            event_type: self.event_type,
            tenant_id: self.tenant_id.map(TenantId::from_uuid),
            error: self.error,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            first_failed_at: self.first_failed_at,
            last_failed_at: self.last_failed_at,
        }
    }
}
