//! Reading and checking what clients send: JSON bodies field by field, the
//! order id in the path, and paging parameters.
//!
//! Bodies are read as a JSON object first and then field by field, so that
//! every refusal names its field: a missing one, one of the wrong type or
//! out of range, and one the endpoint does not know. All of these answer
//! 422, as does a body that is not JSON at all.

use std::collections::HashSet;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;

/// The longest text field accepted, in characters.
pub const MAX_TEXT_LEN: usize = 200;

/// The page size when a request gives none.
pub const DEFAULT_PAGE_LIMIT: usize = 20;

/// The largest page size a request may ask for.
pub const MAX_PAGE_LIMIT: usize = 100;

/// A request body that is a JSON object.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<Value>::from_request(request, state)
            .await
            .map_err(|rejection| match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
                JsonRejection::BytesRejection(bytes) if bytes.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge
                }
                other => ApiError::invalid_body(format!("the body is not valid JSON: {}", other.body_text())),
            })?;
        match value {
            Value::Object(object) => Ok(Self(object)),
            _ => Err(ApiError::invalid_body("the body must be a JSON object")),
        }
    }
}

/// The fields of a JSON object, taken one by one with their checks.
pub struct Fields {
    object: Map<String, Value>,
}

impl Fields {
    /// The fields of `object`, refusing any name not in `known`.
    ///
    /// # Errors
    ///
    /// [`ApiError::Invalid`] naming the first unknown field.
    pub fn new(JsonObject(object): JsonObject, known: &[&str]) -> Result<Self, ApiError> {
        if let Some(unknown) = object.keys().find(|name| !known.contains(&name.as_str())) {
            return Err(ApiError::invalid(
                unknown,
                format!("unknown field; expected one of: {}", known.join(", ")),
            ));
        }
        Ok(Self { object })
    }

    /// A field that must be present (and not null), read by `parse`.
    ///
    /// # Errors
    ///
    /// [`ApiError::Invalid`] naming the field when it is missing or `parse`
    /// refuses it.
    pub fn required<T>(&mut self, name: &str, parse: fn(&Value) -> Result<T, String>) -> Result<T, ApiError> {
        self.optional(name, parse)?
            .ok_or_else(|| ApiError::invalid(name, format!("{name} is required")))
    }

    /// A field that may be absent or null, read by `parse` when present.
    ///
    /// # Errors
    ///
    /// [`ApiError::Invalid`] naming the field when `parse` refuses it.
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: fn(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        match self.object.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => parse(&value)
                .map(Some)
                .map_err(|problem| ApiError::invalid(name, format!("{name} {problem}"))),
        }
    }
}

/// A UUID written as a string.
///
/// # Errors
///
/// What is wrong with the value, to follow the field's name.
pub fn uuid(value: &Value) -> Result<Uuid, String> {
    value
        .as_str()
        .and_then(|text| Uuid::parse_str(text).ok())
        .ok_or_else(|| "must be a UUID string".to_owned())
}

/// The most digits an amount may have before its decimal point.
pub const MAX_AMOUNT_INTEGER_DIGITS: u32 = 18;

/// The most decimal places an amount may have (trailing zeros aside).
pub const MAX_AMOUNT_DECIMAL_PLACES: u32 = 10;

/// A non-negative decimal amount, written as a JSON string or number, of
/// at most [`MAX_AMOUNT_INTEGER_DIGITS`] digits before the decimal point and
/// [`MAX_AMOUNT_DECIMAL_PLACES`] after it. It is kept exactly as written
/// (`"12.50"` stays `12.50`), never rounded.
///
/// # Errors
///
/// What is wrong with the value, to follow the field's name.
pub fn amount(value: &Value) -> Result<Decimal, String> {
    let amount = eventsource_examples::guide::money::deserialize(value)
        .map_err(|_| "must be a decimal amount, as a string or a number".to_owned())?;
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err("must not be negative".to_owned());
    }
    if amount.normalize().scale() > MAX_AMOUNT_DECIMAL_PLACES {
        return Err(format!(
            "must have at most {MAX_AMOUNT_DECIMAL_PLACES} decimal places"
        ));
    }
    if amount.trunc().abs() >= Decimal::from(10u64.pow(MAX_AMOUNT_INTEGER_DIGITS)) {
        return Err(format!(
            "must have at most {MAX_AMOUNT_INTEGER_DIGITS} digits before the decimal point"
        ));
    }
    Ok(amount)
}

/// A JSON number that is a whole number, however it is written (`3`,
/// `3.0`, `3e0`), as JSON Schema counts integers.
fn whole_number(value: &Value) -> Option<u64> {
    let Value::Number(number) = value else {
        return None;
    };
    let digits = number.to_string();
    let decimal = Decimal::from_str(&digits)
        .or_else(|_| Decimal::from_scientific(&digits))
        .ok()?;
    if !decimal.fract().is_zero() || decimal.is_sign_negative() {
        return None;
    }
    decimal.to_u64()
}

/// A non-empty text of at most [`MAX_TEXT_LEN`] characters, trimmed.
///
/// # Errors
///
/// What is wrong with the value, to follow the field's name.
pub fn text(value: &Value) -> Result<String, String> {
    let text = value
        .as_str()
        .ok_or_else(|| "must be a string".to_owned())?
        .trim();
    match text.chars().count() {
        0 => Err("must not be empty".to_owned()),
        n if n > MAX_TEXT_LEN => Err(format!("must be at most {MAX_TEXT_LEN} characters")),
        _ => Ok(text.to_owned()),
    }
}

/// A whole number of at least 1 that fits 32 bits.
///
/// # Errors
///
/// What is wrong with the value, to follow the field's name.
pub fn quantity(value: &Value) -> Result<u32, String> {
    whole_number(value)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| "must be a whole number from 1 to 4294967295".to_owned())
}

/// A version: a whole number of at least 1.
///
/// # Errors
///
/// What is wrong with the value, to follow the field's name.
pub fn version(value: &Value) -> Result<u64, String> {
    whole_number(value)
        .filter(|n| *n >= 1)
        .ok_or_else(|| "must be a whole number of at least 1".to_owned())
}

/// The order id in the path, as an extractor.
pub struct OrderId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for OrderId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid("id", "id must be a UUID"))?;
        Uuid::parse_str(&id)
            .map(Self)
            .map_err(|_| ApiError::invalid("id", "id must be a UUID"))
    }
}

/// The paging parameters `limit` and `after`, as an extractor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paging {
    /// How many items a page holds.
    pub limit: usize,
    /// The cursor: the page starts after it.
    pub after: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_body("the query string is malformed"))?;
        let mut seen = HashSet::new();
        let mut paging = Self {
            limit: DEFAULT_PAGE_LIMIT,
            after: None,
        };
        for (name, value) in pairs {
            if !seen.insert(name.clone()) {
                return Err(ApiError::invalid(&name, format!("{name} is given twice")));
            }
            match name.as_str() {
                "limit" => {
                    paging.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|limit| (1..=MAX_PAGE_LIMIT).contains(limit))
                        .ok_or_else(|| {
                            ApiError::invalid("limit", format!("limit must be from 1 to {MAX_PAGE_LIMIT}"))
                        })?;
                }
                // An empty cursor is the first page.
                "after" => paging.after = Some(value).filter(|cursor| !cursor.is_empty()),
                _ => {
                    return Err(ApiError::invalid(
                        &name,
                        "unknown query parameter; expected limit or after",
                    ))
                }
            }
        }
        Ok(paging)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(value: Value, known: &[&str]) -> Result<Fields, ApiError> {
        let Value::Object(object) = value else {
            panic!("not an object")
        };
        Fields::new(JsonObject(object), known)
    }

    #[test]
    fn an_amount_is_read_from_a_string_or_a_number_exactly() {
        assert_eq!(amount(&json!("12.50")), Ok("12.5".parse().unwrap()));
        assert_eq!(amount(&json!(12.5)), Ok("12.5".parse().unwrap()));
        let precise: Value = serde_json::from_str("123456789012345678.0123456789").unwrap();
        assert_eq!(
            amount(&precise),
            Ok("123456789012345678.0123456789".parse().unwrap())
        );
        assert_eq!(amount(&json!("0")), Ok(Decimal::ZERO));
    }

    #[test]
    fn a_negative_or_textual_amount_is_refused() {
        assert_eq!(amount(&json!("-1")), Err("must not be negative".into()));
        assert!(amount(&json!("twelve")).is_err());
        assert!(amount(&json!(true)).is_err());
        assert!(amount(&json!({"value": 1})).is_err());
    }

    #[test]
    fn an_amount_has_bounded_digits() {
        assert!(amount(&json!("999999999999999999.9999999999")).is_ok());
        assert!(
            amount(&json!("1.50000000000000")).is_ok(),
            "trailing zeros do not count"
        );
        assert!(amount(&json!("1000000000000000000")).is_err());
        assert!(amount(&json!("0.00000000001")).is_err());
        let tiny: Value = serde_json::from_str("6.3e-265").unwrap();
        assert!(amount(&tiny).is_err());
        let huge: Value = serde_json::from_str("4.1e306").unwrap();
        assert!(amount(&huge).is_err());
    }

    #[test]
    fn a_quantity_is_a_whole_number_of_at_least_one() {
        assert_eq!(quantity(&json!(3)), Ok(3));
        let written_as_float: Value = serde_json::from_str("24231.0").unwrap();
        assert_eq!(quantity(&written_as_float), Ok(24231));
        let with_exponent: Value = serde_json::from_str("2e1").unwrap();
        assert_eq!(quantity(&with_exponent), Ok(20));
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("2"),
            json!(4_294_967_296_u64),
        ] {
            assert!(quantity(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_text_is_trimmed_and_bounded() {
        assert_eq!(text(&json!("  widget ")), Ok("widget".into()));
        assert!(text(&json!("   ")).is_err());
        assert!(text(&json!("x".repeat(MAX_TEXT_LEN + 1))).is_err());
        assert!(text(&json!(7)).is_err());
    }

    #[test]
    fn an_unknown_field_is_named() {
        let refused = fields(json!({"customer_id": "x", "tenant_id": "y"}), &["customer_id"]);
        assert!(matches!(refused, Err(ApiError::Invalid { field: Some(f), .. }) if f == "tenant_id"));
    }

    #[test]
    fn a_missing_field_is_named_and_null_counts_as_missing() {
        let mut body = fields(json!({"a": null}), &["a"]).unwrap();
        let missing = body.required("a", text);
        assert!(matches!(missing, Err(ApiError::Invalid { field: Some(f), .. }) if f == "a"));
    }
}
