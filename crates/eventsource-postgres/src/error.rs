//! Recognising PostgreSQL failures by their SQLSTATE and constraint name,
//! never by their message text.

use eventsource::StoreError;

/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";

/// The unique constraint on `event_id`.
pub(crate) const EVENT_ID_KEY: &str = "events_event_id_key";

/// The unique constraint on `(aggregate_id, aggregate_type, version)`.
pub(crate) const STREAM_VERSION_KEY: &str = "events_aggregate_id_aggregate_type_version_key";

/// The constraint a `unique_violation` names, if `error` is one.
pub(crate) fn violated_unique_constraint(error: &sqlx::Error) -> Option<&str> {
    let database_error = error.as_database_error()?;
    if database_error.code().as_deref() != Some(UNIQUE_VIOLATION) {
        return None;
    }
    database_error.constraint()
}

/// Wraps any other database failure.
pub(crate) fn backend(error: sqlx::Error) -> StoreError {
    StoreError::backend(error)
}
