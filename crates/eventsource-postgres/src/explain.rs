//! The query plans PostgreSQL chooses for the store's filtered reads, so an
//! operator (or a test) can check that tenant filters use the indexes.

use eventsource::{EventFilter, ReadAllOptions, StoreResult, StreamId, TenantId};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};

use crate::error::backend;
use crate::isolation::Session;
use crate::read::{count_query, feed_page_query, READ_STREAM_OF_TENANT};
use crate::PostgresEventStore;

const EXPLAIN: &str = "EXPLAIN (FORMAT JSON) ";

impl PostgresEventStore {
    /// The plan of the first page [`read_all`](eventsource::EventStore::read_all)
    /// would read with `options`: `EXPLAIN (FORMAT JSON)` of exactly the
    /// statement the feed sends, with the same parameters, in the same kind
    /// of session (carrying the tenant under tenant isolation).
    ///
    /// # Errors
    ///
    /// [`eventsource::StoreError::Backend`] when the database fails.
    pub async fn explain_feed_page(&self, options: &ReadAllOptions) -> StoreResult<Value> {
        let size = options.next_page_size(0).unwrap_or(0);
        self.explain(feed_page_query(EXPLAIN, &options.filter, options.after, size))
            .await
    }

    /// The plan of the statement [`count`](eventsource::EventStore::count)
    /// sends for `filter`.
    ///
    /// # Errors
    ///
    /// [`eventsource::StoreError::Backend`] when the database fails.
    pub async fn explain_count(&self, filter: &EventFilter) -> StoreResult<Value> {
        self.explain(count_query(EXPLAIN, filter)).await
    }

    /// The plan, with what each step actually did, of the statement
    /// [`read_stream_of_tenant`](eventsource::EventStore::read_stream_of_tenant)
    /// sends: `EXPLAIN (ANALYZE, FORMAT JSON)`, so the stream is really read
    /// (nothing is written). It shows that the stream's scan never runs when
    /// the first event is not `tenant`'s.
    ///
    /// # Errors
    ///
    /// [`eventsource::StoreError::Backend`] when the database fails.
    pub async fn explain_read_stream_of_tenant(
        &self,
        stream: &StreamId,
        after_version: u64,
        tenant: TenantId,
    ) -> StoreResult<Value> {
        let statement = format!("EXPLAIN (ANALYZE, FORMAT JSON) {READ_STREAM_OF_TENANT}");
        let mut session = Session::open(self.pool(), self.isolation().current_tenant()).await?;
        let plan: Value = sqlx::query_scalar(&statement)
            .bind(stream.aggregate_id)
            .bind(&stream.aggregate_type)
            .bind(i64::try_from(after_version).unwrap_or(i64::MAX))
            .bind(tenant.as_uuid())
            .fetch_one(session.connection())
            .await
            .map_err(backend)?;
        session.finish().await?;
        Ok(plan)
    }

    async fn explain(&self, mut query: QueryBuilder<'static, Postgres>) -> StoreResult<Value> {
        let mut session = Session::open(self.pool(), self.isolation().current_tenant()).await?;
        let plan: Value = query
            .build_query_scalar()
            .fetch_one(session.connection())
            .await
            .map_err(backend)?;
        session.finish().await?;
        Ok(plan)
    }
}
