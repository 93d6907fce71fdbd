//! The routes outside any tenant: health, the API description, and the
//! answers for unknown routes and methods.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use tracing::warn;

use crate::api::Health;
use crate::error::ErrorBody;
use crate::openapi;
use crate::AppState;

/// Whether the service can reach its event store.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses(
        (status = 200, description = "The service and its event store answer.", body = Health),
        (status = 503, description = "The event store does not answer.", body = Health),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.events.current_position().await {
        Ok(_) => (StatusCode::OK, Json(Health { status: "ok".into() })),
        Err(error) => {
            warn!(%error, "health check: the event store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable".into(),
                }),
            )
        }
    }
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(openapi::document);

/// This document: the OpenAPI 3 description of the service.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json"))
)]
pub async fn openapi_json() -> Json<Value> {
    Json(DOCUMENT.clone())
}

/// The answer for a path the service does not have.
pub async fn no_such_route() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(ErrorBody {
            error: "no such route".into(),
            field: None,
        }),
    )
}

/// The answer for a method a path does not accept.
pub async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "error": "method not allowed" })),
    )
}
