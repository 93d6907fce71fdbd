//! Appending: every call is one `BEGIN IMMEDIATE` transaction holding
//! SQLite's write lock from the first statement, so the version checks and
//! the inserts see no other writer in between.

use eventsource::store::{check_expected_version, validate_writes};
use eventsource::{AppendResult, RawEvent, StoreError, StoreResult, StreamWrite};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use tracing::debug;

use crate::read::{existing_event_ids, stream_version};
use crate::row::{timestamp_text, uuid_text};

/// Rows per `INSERT` statement: 15 parameters each stays well below
/// SQLite's limit of 32,766 bound parameters per statement.
const ROWS_PER_INSERT: usize = 1_000;

/// Appends all writes atomically.
pub async fn append_streams(pool: &SqlitePool, writes: &[StreamWrite]) -> StoreResult<AppendResult> {
    let streams = validate_writes(writes)?;
    let events: Vec<&RawEvent> = writes.iter().flat_map(|write| &write.events).collect();
    let encoded = events
        .iter()
        .map(|event| encode(event))
        .collect::<StoreResult<Vec<_>>>()?;

    let mut transaction = crate::begin_immediate(pool).await?;
    for (stream, write) in streams.iter().zip(writes) {
        let actual = stream_version(&mut *transaction, stream).await?;
        check_expected_version(stream, write, actual)?;
    }
    let ids: Vec<_> = events.iter().map(|event| event.envelope.event_id).collect();
    for chunk in ids.chunks(ROWS_PER_INSERT) {
        if let Some(&event_id) = existing_event_ids(&mut *transaction, chunk).await?.iter().next() {
            return Err(StoreError::DuplicateEvent { event_id });
        }
    }

    let mut positions = Vec::with_capacity(events.len());
    for (events, encoded) in events
        .chunks(ROWS_PER_INSERT)
        .zip(encoded.chunks(ROWS_PER_INSERT))
    {
        positions.extend(insert(&mut transaction, events, encoded).await?);
    }
    transaction.commit().await.map_err(StoreError::backend)?;
    debug!(events = positions.len(), position = positions.last(), "appended");
    Ok(AppendResult { positions })
}

/// The JSON text of an event's metadata and payload.
struct Encoded {
    metadata: String,
    payload: String,
}

fn encode(event: &RawEvent) -> StoreResult<Encoded> {
    let json = |value| serde_json::to_string(value).map_err(StoreError::backend);
    Ok(Encoded {
        metadata: json(&event.envelope.metadata)?,
        payload: json(&event.payload)?,
    })
}

async fn insert(
    connection: &mut SqliteConnection,
    events: &[&RawEvent],
    encoded: &[Encoded],
) -> StoreResult<Vec<u64>> {
    let mut query: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
        "INSERT INTO events (event_id, event_type, event_version, timestamp, aggregate_id, aggregate_type, \
         version, tenant_id, actor_id, correlation_id, causation_id, metadata, payload) ",
    );
    query.push_values(events.iter().zip(encoded), |mut row, (event, encoded)| {
        let envelope = &event.envelope;
        row.push_bind(uuid_text(envelope.event_id))
            .push_bind(envelope.event_type.clone())
            .push_bind(i64::from(envelope.event_version))
            .push_bind(timestamp_text(&envelope.occurred_at))
            .push_bind(uuid_text(envelope.aggregate_id))
            .push_bind(envelope.aggregate_type.clone())
            .push_bind(envelope.aggregate_version as i64)
            .push_bind(envelope.tenant_id.map(|t| uuid_text(t.as_uuid())))
            .push_bind(envelope.actor_id.clone())
            .push_bind(uuid_text(envelope.correlation_id))
            .push_bind(envelope.causation_id.map(uuid_text))
            .push_bind(encoded.metadata.clone())
            .push_bind(encoded.payload.clone());
    });
    query.push(" RETURNING global_position");
    let positions: Vec<i64> = query
        .build_query_scalar()
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::backend)?;
    Ok(positions.into_iter().map(|p| p as u64).collect())
}
