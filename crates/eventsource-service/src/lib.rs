//! The reference multi-tenant HTTP service of eventsource.
//!
//! Orders of the multi-tenant guide behind a JSON API, where every request
//! acts for the tenant named by its bearer token (see
//! [`eventsource_axum`]):
//!
//! | route | what it does |
//! |---|---|
//! | `POST /orders` | places an order: `{"customer_id": "<uuid>", "total_amount": "12.50"}` → 201 `{"order_id", "version"}` |
//! | `POST /orders/{id}/items` | adds an item: `{"sku", "name", "quantity", "unit_price", "expected_version"?}` |
//! | `POST /orders/{id}/ship` | ships it: `{"tracking_number", "expected_version"?}` |
//! | `GET /orders/{id}` | the order, from its events |
//! | `GET /orders?limit=&after=` | the tenant's orders, from a read model, a page at a time |
//! | `GET /audit?limit=&after=` | the tenant's events, oldest first, a page at a time |
//! | `GET /stats` | the tenant's figures |
//! | `GET /healthz` | 200 while the event store answers |
//! | `GET /openapi.json` | the OpenAPI 3 description |
//!
//! Answers: 201/200 on success; 400, 401 and 403 from the tenant layer;
//! 404 for an order the tenant does not have, whether it is missing or
//! another tenant's (the two answers are identical); 409 when a change
//! conflicts with the order's state or with a concurrent change, or
//! `expected_version` is not the order's version; 422 with
//! `{"error", "field"}` for invalid input. Every error body is JSON.
//!
//! [`serve`] runs the server together with the read models it answers
//! from; [`router`] is the bare router for embedding or tests.

#![warn(missing_docs)]

pub mod api;
mod cursor;
pub mod error;
pub mod input;
pub mod openapi;
mod orders;
mod serve;
mod service;
mod state;
mod tenant;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use eventsource_axum::TenantLayer;

pub use cursor::CursorSeal;
pub use serve::{read_models, serve};
pub use state::AppState;

/// The largest request body accepted: orders are small.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The service's routes over `state`. The tenant routes are behind a
/// [`TenantLayer`] with `state.auth`; `/healthz` and `/openapi.json` are
/// open. Read models are not run here: see [`serve`].
pub fn router(state: AppState) -> Router {
    let tenant_routes = Router::new()
        .route("/orders", post(orders::create_order).get(orders::list_orders))
        .route("/orders/{id}", get(orders::get_order))
        .route("/orders/{id}/items", post(orders::add_item))
        .route("/orders/{id}/ship", post(orders::ship_order))
        .route("/audit", get(tenant::audit_log))
        .route("/stats", get(tenant::stats))
        .route_layer(TenantLayer::new(state.auth.clone()));

    Router::new()
        .route("/healthz", get(service::healthz))
        .route("/openapi.json", get(service::openapi_json))
        .merge(tenant_routes)
        .fallback(service::no_such_route)
        .method_not_allowed_fallback(service::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
