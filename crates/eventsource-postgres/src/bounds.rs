//! Checks on the values of read models and snapshots before they are sent,
//! so what PostgreSQL cannot store is refused with a clear
//! [`StoreError::InvalidArgument`] instead of failing, and aborting, the
//! transaction it was sent in.

use eventsource::{StoreError, StoreResult};

/// `text` as a PostgreSQL text value: refused when it holds a NUL
/// character, which PostgreSQL text cannot hold.
pub(crate) fn text<'a>(what: &str, text: &'a str) -> StoreResult<&'a str> {
    if text.contains('\0') {
        return Err(StoreError::InvalidArgument(format!(
            "{what} {text:?} contains a NUL character, which PostgreSQL text cannot hold"
        )));
    }
    Ok(text)
}

/// `value` as a `BIGINT`: refused above `i64::MAX`.
pub(crate) fn bigint(what: &str, value: u64) -> StoreResult<i64> {
    i64::try_from(value).map_err(|_| {
        StoreError::InvalidArgument(format!(
            "{what} {value} is above {}, the largest BIGINT",
            i64::MAX
        ))
    })
}

/// A non-negative column value read back as a `u64` (a negative one, which
/// nothing here writes, reads as 0).
pub(crate) fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
