//! Appending: one statement, one round trip, however many events and
//! streams a call holds.
//!
//! The statement (the function `eventsource_append` of migration 0007,
//! called by `sql/append.sql`) reads each stream's actual version and
//! which of the event ids are already stored, and inserts the whole batch
//! only when every expectation holds and no id is stored; otherwise it
//! inserts nothing and the outcome is decided here with the same helpers
//! every backend uses ([`check_expected_version`]), so conflicts read
//! exactly as on the in-memory store. A writer that commits between the
//! statement's snapshot and its insert makes the insert fail on a unique
//! constraint, recognised by SQLSTATE and constraint name; the actual
//! versions (or the stored ids) are then read back to build the same error.

use std::collections::{HashMap, HashSet};

use eventsource::store::check_expected_version;
use eventsource::{AppendResult, StoreError, StoreResult, StreamId, StreamWrite, TenantId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::encode::EncodedBatch;
use crate::error::{backend, violated_unique_constraint, EVENT_ID_KEY, STREAM_VERSION_KEY};

const APPEND: &str = include_str!("sql/append.sql");
const STREAM_VERSIONS: &str = include_str!("sql/stream_versions.sql");
const EXISTING_EVENT_IDS: &str = include_str!("sql/existing_event_ids.sql");

/// What one run of the append statement came to.
pub(crate) enum Attempt {
    /// Every event is stored.
    Stored(AppendResult),
    /// Refused before inserting: a conflict or a stored id.
    Refused(StoreError),
    /// A concurrent writer committed first; the named unique constraint
    /// refused the insert. Explain with [`explain_lost_race`].
    LostRace(LostRace),
}

/// Which unique constraint refused an insert.
pub(crate) enum LostRace {
    /// `(aggregate_id, aggregate_type, version)`: a stream moved on.
    StreamVersion,
    /// `event_id`: an event of the batch was stored meanwhile.
    EventId,
}

/// Runs the append statement for validated `writes` on `connection`.
///
/// # Errors
///
/// [`StoreError::Backend`] for any failure other than a lost race.
pub(crate) async fn attempt(
    connection: &mut PgConnection,
    writes: &[StreamWrite],
    streams: &[StreamId],
    batch: EncodedBatch,
) -> StoreResult<Attempt> {
    let rows = sqlx::query(APPEND)
        .bind(batch.event_ids)
        .bind(batch.aggregate_ids)
        .bind(batch.aggregate_types)
        .bind(batch.event_types)
        .bind(batch.event_versions)
        .bind(batch.tenant_ids)
        .bind(batch.actor_ids)
        .bind(batch.versions)
        .bind(batch.occurred_at)
        .bind(batch.payloads)
        .bind(batch.correlation_ids)
        .bind(batch.causation_ids)
        .bind(batch.metadata)
        .bind(batch.stream_aggregate_ids)
        .bind(batch.stream_aggregate_types)
        .bind(batch.stream_first_versions)
        .bind(batch.stream_must_exist)
        .fetch_all(connection)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(error) => {
            return match violated_unique_constraint(&error) {
                Some(STREAM_VERSION_KEY) => Ok(Attempt::LostRace(LostRace::StreamVersion)),
                Some(EVENT_ID_KEY) => Ok(Attempt::LostRace(LostRace::EventId)),
                _ => Err(backend(error)),
            }
        }
    };

    let outcome = StatementOutcome::read(rows, writes.len())?;
    if outcome.positions.is_empty() {
        // The statement inserted nothing, so an expectation failed or an id
        // is stored; the same checks as in memory say which, first first.
        let refusal = refusal(writes, streams, &outcome.actual_versions, &outcome.stored_ids)
            .err()
            .unwrap_or_else(|| inconsistent("inserted nothing although every expectation held"));
        return Ok(Attempt::Refused(refusal));
    }
    let positions = writes
        .iter()
        .flat_map(|write| &write.events)
        .map(|event| {
            let id = event.envelope.event_id;
            let position = outcome.positions.get(&id).and_then(|&p| u64::try_from(p).ok());
            position.ok_or_else(|| inconsistent(&format!("returned no position for event {id}")))
        })
        .collect::<StoreResult<Vec<u64>>>()?;
    Ok(Attempt::Stored(AppendResult { positions }))
}

/// What the append statement returned.
struct StatementOutcome {
    /// Each stream's actual version, in the order of the writes.
    actual_versions: Vec<u64>,
    /// The ids of the batch that were already stored.
    stored_ids: HashSet<Uuid>,
    /// The position of each event inserted (none when refused).
    positions: HashMap<Uuid, i64>,
}

impl StatementOutcome {
    fn read(rows: Vec<PgRow>, streams: usize) -> StoreResult<Self> {
        let mut outcome = Self {
            actual_versions: vec![0; streams],
            stored_ids: HashSet::new(),
            positions: HashMap::new(),
        };
        for row in rows {
            let kind: String = row.try_get("outcome").map_err(backend)?;
            match kind.as_str() {
                "stream" => {
                    let ordinal: i64 = row.try_get("ordinal").map_err(backend)?;
                    let actual: i64 = row.try_get("number").map_err(backend)?;
                    let slot = usize::try_from(ordinal - 1)
                        .ok()
                        .and_then(|i| outcome.actual_versions.get_mut(i));
                    let slot = slot.ok_or_else(|| inconsistent(&format!("named stream {ordinal}")))?;
                    *slot = u64::try_from(actual).unwrap_or(0);
                }
                "duplicate" => {
                    outcome
                        .stored_ids
                        .insert(row.try_get("event_id").map_err(backend)?);
                }
                "stored" => {
                    let event_id: Uuid = row.try_get("event_id").map_err(backend)?;
                    outcome
                        .positions
                        .insert(event_id, row.try_get("number").map_err(backend)?);
                }
                other => return Err(inconsistent(&format!("returned the outcome {other:?}"))),
            }
        }
        Ok(outcome)
    }
}

/// The append statement returned what it cannot (a bug, never a user error).
fn inconsistent(what: &str) -> StoreError {
    backend(sqlx::Error::Protocol(format!("the append statement {what}")))
}

/// The error an append refused before inserting reports: streams are
/// checked in the order given, each for its version and then for stored
/// ids, as the in-memory store does.
fn refusal(
    writes: &[StreamWrite],
    streams: &[StreamId],
    actual_versions: &[u64],
    stored_ids: &HashSet<Uuid>,
) -> StoreResult<()> {
    for ((write, stream), &actual) in writes.iter().zip(streams).zip(actual_versions) {
        check_expected_version(stream, write, actual)?;
        if let Some(event) = write
            .events
            .iter()
            .find(|e| stored_ids.contains(&e.envelope.event_id))
        {
            return Err(StoreError::DuplicateEvent {
                event_id: event.envelope.event_id,
            });
        }
    }
    Ok(())
}

/// Builds the error for an append that lost a race, from what the winner
/// committed, read on `connection` (a fresh session: the failed statement
/// may have aborted the one it ran in).
///
/// # Errors
///
/// [`StoreError::Backend`] when reading fails; otherwise the conflict.
pub(crate) async fn explain_lost_race(
    connection: &mut PgConnection,
    race: LostRace,
    writes: &[StreamWrite],
    streams: &[StreamId],
) -> StoreError {
    let explained = match race {
        LostRace::StreamVersion => stream_conflict(connection, writes, streams).await,
        LostRace::EventId => stored_duplicate(connection, writes).await,
    };
    match explained {
        Ok(error) | Err(error) => error,
    }
}

async fn stream_conflict(
    connection: &mut PgConnection,
    writes: &[StreamWrite],
    streams: &[StreamId],
) -> StoreResult<StoreError> {
    let rows = sqlx::query(STREAM_VERSIONS)
        .bind(streams.iter().map(|s| s.aggregate_id).collect::<Vec<_>>())
        .bind(
            streams
                .iter()
                .map(|s| s.aggregate_type.clone())
                .collect::<Vec<_>>(),
        )
        .fetch_all(connection)
        .await
        .map_err(backend)?;
    let mut actual_versions = Vec::with_capacity(rows.len());
    for row in rows {
        let actual: i64 = row.try_get("actual_version").map_err(backend)?;
        actual_versions.push(u64::try_from(actual).unwrap_or(0));
    }
    for ((write, stream), &actual) in writes.iter().zip(streams).zip(&actual_versions) {
        if let Err(conflict) = check_expected_version(stream, write, actual) {
            return Ok(conflict);
        }
    }
    // Versions only grow, so the stream whose version was taken fails the
    // check above, unless row-level security hides its rows (a stream of
    // another tenant under the same id). Then the first stream is named with
    // the version this session can see, which discloses nothing.
    Ok(StoreError::Concurrency {
        stream: streams[0].clone(),
        expected: writes[0].expected,
        actual: actual_versions.first().copied().unwrap_or(0),
    })
}

async fn stored_duplicate(connection: &mut PgConnection, writes: &[StreamWrite]) -> StoreResult<StoreError> {
    let ids: Vec<Uuid> = writes
        .iter()
        .flat_map(|w| &w.events)
        .map(|e| e.envelope.event_id)
        .collect();
    let stored: HashSet<Uuid> = sqlx::query_scalar(EXISTING_EVENT_IDS)
        .bind(&ids)
        .fetch_all(connection)
        .await
        .map_err(backend)?
        .into_iter()
        .collect();
    // When row-level security hides the stored copy (an id another tenant
    // used), no id can be named without disclosing that tenant's data; the
    // batch's first id stands for the batch.
    let event_id = ids
        .iter()
        .copied()
        .find(|id| stored.contains(id))
        .unwrap_or(ids[0]);
    Ok(StoreError::DuplicateEvent { event_id })
}

/// Refuses, before anything is sent, events that a session carrying
/// `tenant` could not insert under row-level security.
///
/// # Errors
///
/// [`StoreError::InvalidArgument`] naming the first such event.
pub(crate) fn check_session_tenant(writes: &[StreamWrite], tenant: Option<TenantId>) -> StoreResult<()> {
    let Some(tenant) = tenant else { return Ok(()) };
    match writes
        .iter()
        .flat_map(|w| &w.events)
        .find(|e| e.envelope.tenant_id != Some(tenant))
    {
        None => Ok(()),
        Some(event) => Err(StoreError::InvalidArgument(format!(
            "event {} does not belong to the tenant this session carries; under tenant isolation a session \
             appends only its own tenant's events; nothing was written",
            event.envelope.event_id
        ))),
    }
}
