//! Read models, checkpoints and dead letters in the events' SQLite
//! database. A [`ProjectionTx`] is one `BEGIN IMMEDIATE` transaction, so a
//! batch's documents, dead letters and checkpoint commit together. While it
//! is open it holds SQLite's write lock, which serialises transactions of
//! the same projection (and keeps batches short).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use eventsource::projection::{Checkpoint, DeadLetter, Document, DocumentKey, ProjectionStore, ProjectionTx};
use eventsource::{StoreError, StoreResult, StoredEvent, TenantFilter, TenantId};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use crate::row::{timestamp_text, uuid_text};
use crate::SqliteEventStore;

/// The stored form of a document's tenant: '' for none.
fn tenant_key(tenant: Option<TenantId>) -> String {
    tenant.map(|t| uuid_text(t.as_uuid())).unwrap_or_default()
}

fn parse_time(text: &str) -> StoreResult<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
        .map(|naive| naive.and_utc())
        .map_err(StoreError::backend)
}

fn parse_json(text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(StoreError::backend)
}

fn checkpoint_of(row: &SqliteRow) -> StoreResult<Checkpoint> {
    Ok(Checkpoint {
        projection: row.try_get(0).map_err(StoreError::backend)?,
        position: row.try_get::<i64, _>(1).map_err(StoreError::backend)? as u64,
        events_processed: row.try_get::<i64, _>(2).map_err(StoreError::backend)? as u64,
        updated_at: parse_time(&row.try_get::<String, _>(3).map_err(StoreError::backend)?)?,
    })
}

fn dead_letter_of(row: &SqliteRow) -> StoreResult<DeadLetter> {
    let get_text = |index: usize| row.try_get::<String, _>(index).map_err(StoreError::backend);
    let tenant: Option<String> = row.try_get(5).map_err(StoreError::backend)?;
    Ok(DeadLetter {
        id: row.try_get::<i64, _>(0).map_err(StoreError::backend)? as u64,
        projection: get_text(1)?,
        position: row.try_get::<i64, _>(2).map_err(StoreError::backend)? as u64,
        event_id: Uuid::parse_str(&get_text(3)?).map_err(StoreError::backend)?,
        event_type: get_text(4)?,
        tenant_id: tenant
            .map(|t| Uuid::parse_str(&t).map(TenantId::from))
            .transpose()
            .map_err(StoreError::backend)?,
        error: get_text(6)?,
        attempts: row.try_get::<i64, _>(7).map_err(StoreError::backend)? as u32,
        first_failed_at: parse_time(&get_text(8)?)?,
        last_failed_at: parse_time(&get_text(9)?)?,
    })
}

/// Rows of one multi-row statement: at four parameters a row, under 999,
/// the smallest parameter limit SQLite has been built with.
const ROWS_PER_STATEMENT: usize = 200;

const DEAD_LETTER_COLUMNS: &str =
    "id, projection, position, event_id, event_type, tenant_id, error, attempts, \
     first_failed_at, last_failed_at";

/// Projection storage in an SQLite database (usually the events' own).
#[derive(Clone, Debug)]
pub struct SqliteProjectionStore {
    pool: SqlitePool,
}

impl SqliteProjectionStore {
    /// Projection storage in the same database as `events`, whose
    /// migrations have created the tables.
    pub fn new(events: &SqliteEventStore) -> Self {
        Self {
            pool: events.pool().clone(),
        }
    }
}

#[async_trait]
impl ProjectionStore for SqliteProjectionStore {
    async fn begin(&self, projection: &str) -> StoreResult<Box<dyn ProjectionTx + '_>> {
        let transaction = crate::begin_immediate(&self.pool).await?;
        Ok(Box::new(SqliteProjectionTx {
            transaction,
            projection: projection.to_owned(),
            savepoint_active: false,
        }))
    }

    async fn checkpoint(&self, projection: &str) -> StoreResult<Option<Checkpoint>> {
        let row = sqlx::query(
            "SELECT projection, position, events_processed, updated_at FROM projection_checkpoints \
             WHERE projection = ?",
        )
        .bind(projection)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::backend)?;
        row.as_ref().map(checkpoint_of).transpose()
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        let rows = sqlx::query(
            "SELECT projection, position, events_processed, updated_at FROM projection_checkpoints \
             ORDER BY projection",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::backend)?;
        rows.iter().map(checkpoint_of).collect()
    }

    async fn dead_letters(&self, projection: Option<&str>) -> StoreResult<Vec<DeadLetter>> {
        let rows = sqlx::query(&format!(
            "SELECT {DEAD_LETTER_COLUMNS} FROM projection_dead_letters \
             WHERE ?1 IS NULL OR projection = ?1 ORDER BY position, id"
        ))
        .bind(projection)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::backend)?;
        rows.iter().map(dead_letter_of).collect()
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
        let (condition, bound) = match tenant {
            TenantFilter::Any => ("1 = 1", None),
            TenantFilter::NoTenant => ("tenant = ''", None),
            TenantFilter::Tenant(tenant) => ("tenant = ?", Some(tenant_key(Some(tenant)))),
        };
        let sql = format!(
            "SELECT tenant, key, value FROM projection_documents WHERE projection = ? AND {condition} ORDER BY key"
        );
        let mut query = sqlx::query(&sql).bind(projection);
        if let Some(bound) = bound {
            query = query.bind(bound);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(StoreError::backend)?;
        rows.iter()
            .map(|row| {
                let tenant: String = row.try_get(0).map_err(StoreError::backend)?;
                Ok(Document {
                    tenant_id: match tenant.as_str() {
                        "" => None,
                        text => Some(
                            Uuid::parse_str(text)
                                .map(TenantId::from)
                                .map_err(StoreError::backend)?,
                        ),
                    },
                    key: row.try_get(1).map_err(StoreError::backend)?,
                    value: parse_json(&row.try_get::<String, _>(2).map_err(StoreError::backend)?)?,
                })
            })
            .collect()
    }

    async fn reset(&self, projection: &str) -> StoreResult<()> {
        let mut transaction = crate::begin_immediate(&self.pool).await?;
        for table in [
            "projection_documents",
            "projection_checkpoints",
            "projection_dead_letters",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE projection = ?"))
                .bind(projection)
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::backend)?;
        }
        transaction.commit().await.map_err(StoreError::backend)
    }
}

async fn read_document<'e, E>(
    executor: E,
    projection: &str,
    tenant: Option<TenantId>,
    key: &str,
) -> StoreResult<Option<Value>>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let value: Option<String> = sqlx::query_scalar(
        "SELECT value FROM projection_documents WHERE projection = ? AND tenant = ? AND key = ?",
    )
    .bind(projection)
    .bind(tenant_key(tenant))
    .bind(key)
    .fetch_optional(executor)
    .await
    .map_err(StoreError::backend)?;
    value.as_deref().map(parse_json).transpose()
}

/// The documents of `keys` that exist, each with its index in `keys` plus
/// `first`: one statement joining the keys, as a `VALUES` list, to the
/// documents' primary key.
fn select_documents<'a>(
    projection: &'a str,
    first: usize,
    keys: &'a [DocumentKey],
) -> QueryBuilder<'a, Sqlite> {
    let mut query = QueryBuilder::<Sqlite>::new("WITH wanted (ordinal, tenant, key) AS (");
    query.push_values(keys.iter().enumerate(), |mut row, (index, key)| {
        row.push_bind((first + index) as i64)
            .push_bind(tenant_key(key.tenant_id))
            .push_bind(key.key.as_str());
    });
    query.push(
        ") SELECT wanted.ordinal, d.value FROM wanted JOIN projection_documents AS d \
         ON d.projection = ",
    );
    query.push_bind(projection);
    query.push(" AND d.tenant = wanted.tenant AND d.key = wanted.key");
    query
}

struct SqliteProjectionTx {
    transaction: Transaction<'static, Sqlite>,
    projection: String,
    savepoint_active: bool,
}

impl SqliteProjectionTx {
    async fn execute(&mut self, sql: &str) -> StoreResult<()> {
        sqlx::query(sql)
            .execute(&mut *self.transaction)
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }

    /// Runs one statement built for a chunk of a batched write.
    async fn execute_built(&mut self, mut query: QueryBuilder<'_, Sqlite>) -> StoreResult<()> {
        query
            .build()
            .execute(&mut *self.transaction)
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }
}

#[async_trait]
impl ProjectionTx for SqliteProjectionTx {
    async fn checkpoint_position(&mut self) -> StoreResult<Option<u64>> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE projection = ?")
                .bind(&self.projection)
                .fetch_optional(&mut *self.transaction)
                .await
                .map_err(StoreError::backend)?;
        Ok(position.map(|p| p as u64))
    }

    async fn get(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<Option<Value>> {
        read_document(&mut *self.transaction, &self.projection, tenant, key).await
    }

    async fn put(&mut self, tenant: Option<TenantId>, key: &str, value: &Value) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO projection_documents (projection, tenant, key, value) VALUES (?, ?, ?, ?) \
             ON CONFLICT (projection, tenant, key) DO UPDATE SET value = excluded.value",
        )
        .bind(&self.projection)
        .bind(tenant_key(tenant))
        .bind(key)
        .bind(value.to_string())
        .execute(&mut *self.transaction)
        .await
        .map_err(StoreError::backend)?;
        Ok(())
    }

    async fn delete(&mut self, tenant: Option<TenantId>, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM projection_documents WHERE projection = ? AND tenant = ? AND key = ?")
            .bind(&self.projection)
            .bind(tenant_key(tenant))
            .bind(key)
            .execute(&mut *self.transaction)
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }

    async fn get_many(&mut self, keys: &[DocumentKey]) -> StoreResult<Vec<Option<Value>>> {
        let mut values = vec![None; keys.len()];
        for (chunk, chunk_keys) in keys.chunks(ROWS_PER_STATEMENT).enumerate() {
            let first = chunk * ROWS_PER_STATEMENT;
            let rows = select_documents(&self.projection, first, chunk_keys)
                .build()
                .fetch_all(&mut *self.transaction)
                .await
                .map_err(StoreError::backend)?;
            for row in rows {
                let ordinal: i64 = row.try_get(0).map_err(StoreError::backend)?;
                let value: String = row.try_get(1).map_err(StoreError::backend)?;
                values[ordinal as usize] = Some(parse_json(&value)?);
            }
        }
        Ok(values)
    }

    async fn put_many(&mut self, documents: &[Document]) -> StoreResult<()> {
        let projection = self.projection.clone();
        for chunk in documents.chunks(ROWS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO projection_documents (projection, tenant, key, value) ",
            );
            // SQLite applies the upsert row by row, so of two rows with the
            // same key the later one wins.
            query.push_values(chunk, |mut row, document| {
                row.push_bind(projection.as_str())
                    .push_bind(tenant_key(document.tenant_id))
                    .push_bind(document.key.as_str())
                    .push_bind(document.value.to_string());
            });
            query.push(" ON CONFLICT (projection, tenant, key) DO UPDATE SET value = excluded.value");
            self.execute_built(query).await?;
        }
        Ok(())
    }

    async fn delete_many(&mut self, keys: &[DocumentKey]) -> StoreResult<()> {
        let projection = self.projection.clone();
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let mut query =
                QueryBuilder::<Sqlite>::new("DELETE FROM projection_documents WHERE projection = ");
            query.push_bind(projection.as_str());
            query.push(" AND (tenant, key) IN (");
            query.push_values(chunk, |mut row, key| {
                row.push_bind(tenant_key(key.tenant_id))
                    .push_bind(key.key.as_str());
            });
            query.push(")");
            self.execute_built(query).await?;
        }
        Ok(())
    }

    async fn savepoint(&mut self) -> StoreResult<()> {
        // One savepoint at a time: release the previous one so they do not
        // pile up over a batch.
        if self.savepoint_active {
            self.execute("RELEASE SAVEPOINT projection_event").await?;
        }
        self.execute("SAVEPOINT projection_event").await?;
        self.savepoint_active = true;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        if !self.savepoint_active {
            return Err(StoreError::InvalidArgument("rollback without a savepoint".into()));
        }
        self.execute("ROLLBACK TO SAVEPOINT projection_event").await
    }

    async fn park(
        &mut self,
        event: &StoredEvent,
        error: &str,
        attempts: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let envelope = &event.event.envelope;
        sqlx::query(
            "INSERT INTO projection_dead_letters (projection, position, event_id, event_type, tenant_id, error, \
             attempts, first_failed_at, last_failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (projection, event_id) DO UPDATE SET error = excluded.error, \
             attempts = attempts + excluded.attempts, last_failed_at = excluded.last_failed_at",
        )
        .bind(&self.projection)
        .bind(event.position as i64)
        .bind(uuid_text(envelope.event_id))
        .bind(&envelope.event_type)
        .bind(envelope.tenant_id.map(|t| uuid_text(t.as_uuid())))
        .bind(error)
        .bind(i64::from(attempts))
        .bind(timestamp_text(&at))
        .bind(timestamp_text(&at))
        .execute(&mut *self.transaction)
        .await
        .map_err(StoreError::backend)?;
        Ok(())
    }

    async fn remove_dead_letter(&mut self, id: u64) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM projection_dead_letters WHERE id = ? AND projection = ?")
            .bind(id as i64)
            .bind(&self.projection)
            .execute(&mut *self.transaction)
            .await
            .map_err(StoreError::backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn advance_checkpoint(&mut self, position: u64, processed: u64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO projection_checkpoints (projection, position, events_processed, updated_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (projection) DO UPDATE SET \
             position = MAX(position, excluded.position), \
             events_processed = events_processed + excluded.events_processed, \
             updated_at = excluded.updated_at",
        )
        .bind(&self.projection)
        .bind(position as i64)
        .bind(processed as i64)
        .bind(timestamp_text(&Utc::now()))
        .execute(&mut *self.transaction)
        .await
        .map_err(StoreError::backend)?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.transaction.commit().await.map_err(StoreError::backend)
    }
}
