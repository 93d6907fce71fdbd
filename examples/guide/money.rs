//! Amounts of money as exact decimals.
//!
//! Event logs written elsewhere carry amounts either as JSON strings
//! (`"13508.74"`) or as JSON numbers (`4134.43`). Both are read into a
//! [`Decimal`] from their written digits, never through a float; amounts are
//! written back as strings.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::Value;

/// Serialises an amount as a decimal string.
///
/// # Errors
///
/// Never fails on its own; errors come from the serializer.
pub fn serialize<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&amount.to_string())
}

/// Reads an amount written as a string or as a number.
///
/// # Errors
///
/// When the value is neither, or its digits are not a decimal.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let digits = match Value::deserialize(deserializer)? {
        Value::String(text) => text,
        // Numbers keep their written digits (serde_json's arbitrary precision).
        Value::Number(number) => number.to_string(),
        other => {
            return Err(D::Error::custom(format!(
                "an amount must be a string or a number, not {other}"
            )))
        }
    };
    Decimal::from_str(&digits)
        .or_else(|_| Decimal::from_scientific(&digits))
        .map_err(|error| D::Error::custom(format!("{digits:?} is not a decimal amount: {error}")))
}
