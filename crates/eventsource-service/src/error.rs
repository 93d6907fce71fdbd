//! What the service answers when a request cannot be served, and how
//! library errors map to it.
//!
//! Every error body is JSON, `{"error": "..."}`, plus `"field"` naming the
//! offending input where there is one. The texts are fixed: none repeats an
//! id, a version of someone else's stream or a backend message, so an
//! order of another tenant is answered byte for byte like a missing one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use eventsource::projection::ProjectionError;
use eventsource::{RepositoryError, StoreError};
use serde::Serialize;
use tracing::{error, warn};
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    #[schema(example = "total_amount must not be negative")]
    pub error: String,
    /// The request field, query parameter or path parameter at fault, when
    /// one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "total_amount")]
    pub field: Option<String>,
}

/// A request the service does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No order with this id for the current tenant (also when the id is
    /// another tenant's).
    #[error("order not found")]
    OrderNotFound,
    /// The change conflicts with the order's current state or version.
    #[error("{0}")]
    Conflict(&'static str),
    /// Invalid input (422).
    #[error("{message}")]
    Invalid {
        /// The offending field or parameter, when known.
        field: Option<String>,
        /// What is wrong with it.
        message: String,
    },
    /// A body that is not declared as JSON (415).
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// A body over the size limit (413).
    #[error("the body is too large")]
    PayloadTooLarge,
    /// The store cannot be reached (503).
    #[error("the event store is unavailable")]
    Unavailable,
    /// Anything else; the details are logged, never sent (500).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// Invalid input in `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// Invalid input not tied to one field (a body that is not an object).
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::Invalid {
            field: None,
            message: message.into(),
        }
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::OrderNotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body it answers with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.to_string(),
            field: match self {
                Self::Invalid { field, .. } => field.clone(),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

/// The answer to a concurrent change: the same text whether the version
/// check failed before the save or in the store.
pub const CONCURRENT_CHANGE: &str = "the order was changed concurrently; reload it and try again";

impl From<RepositoryError> for ApiError {
    fn from(error: RepositoryError) -> Self {
        match error {
            // A stream of another type under this id is, for this API, no
            // order either.
            RepositoryError::NotFound { .. } | RepositoryError::WrongAggregateType { .. } => {
                Self::OrderNotFound
            }
            RepositoryError::Concurrency { .. } => Self::Conflict(CONCURRENT_CHANGE),
            RepositoryError::IdUnavailable { .. } => Self::Conflict("the order id is not available"),
            RepositoryError::Store(error) => error.into(),
            other => {
                error!(error = %other, "repository failed");
                Self::Internal
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Backend(_) => {
                warn!(%error, "event store backend failed");
                Self::Unavailable
            }
            other => {
                error!(error = %other, "event store failed");
                Self::Internal
            }
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::Store(error) => error.into(),
            other => {
                error!(error = %other, "read model failed");
                Self::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_missing_order_and_one_of_another_type_read_the_same() {
        let missing = ApiError::from(RepositoryError::NotFound {
            aggregate_id: Uuid::new_v4(),
            aggregate_type: "Order",
        });
        let other_type = ApiError::from(RepositoryError::WrongAggregateType {
            aggregate_id: Uuid::new_v4(),
            expected: "Order",
            found: "Task".into(),
        });
        assert_eq!(missing, ApiError::OrderNotFound);
        assert_eq!(other_type, ApiError::OrderNotFound);
        assert_eq!(missing.body(), other_type.body());
    }

    #[test]
    fn an_invalid_field_is_named_in_the_body() {
        let body = serde_json::to_value(ApiError::invalid("quantity", "must be at least 1").body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "must be at least 1", "field": "quantity"})
        );
    }

    #[test]
    fn a_backend_failure_is_unavailable_without_its_message() {
        let error = ApiError::from(StoreError::backend(std::io::Error::other("secret detail")));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.body().error.contains("secret detail"));
    }
}
