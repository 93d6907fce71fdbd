//! Tenant authentication for axum and tower services.
//!
//! A multi-tenant service must know which tenant each request acts for,
//! and must take that from an authenticated credential, never from what the
//! client writes in the request body. This crate does that once for every
//! service:
//!
//! - [`TenantAuth`] checks a JWT bearer token (HS256 with a shared secret,
//!   or RS256 with a public key) and reads the tenant from a claim
//!   (`tenant_id` unless configured otherwise); an optional `X-Tenant-ID`
//!   header must agree with it;
//! - [`TenantLayer`] applies it to every request of the services it wraps
//!   and runs them inside [`eventsource::tenant_scope`], so repositories
//!   and tasks spawned with [`eventsource::spawn_with_tenant`] act for that
//!   tenant only;
//! - [`CurrentTenant`] hands the tenant to a handler;
//! - [`issue_token`] makes development tokens.
//!
//! | the request | the answer |
//! |---|---|
//! | no `Authorization` header | 401 |
//! | not a single `Bearer` token; a token malformed, wrongly signed, expired, not yet valid, or naming no tenant | 401 |
//! | a tenant claim or `X-Tenant-ID` header that is not a tenant id | 400 |
//! | an `X-Tenant-ID` header naming another tenant than the token | 403 |
//!
//! Each refusal has a JSON body `{"error": "..."}` that never names a
//! tenant.
//!
//! ```
//! use axum::{routing::get, Router};
//! use eventsource::get_current_tenant;
//! use eventsource_axum::{CurrentTenant, TenantAuth, TenantLayer};
//!
//! async fn orders(CurrentTenant(tenant): CurrentTenant) -> String {
//!     // The tenant scope is open here: tenant-aware repositories see it.
//!     assert_eq!(get_current_tenant(), Some(tenant));
//!     format!("the orders of {tenant}")
//! }
//!
//! let auth = TenantAuth::hs256(b"a secret of at least thirty-two bytes!")?;
//! let app: Router = Router::new()
//!     .route("/orders", get(orders))
//!     .route_layer(TenantLayer::new(auth));
//! # Ok::<(), eventsource_axum::AuthConfigError>(())
//! ```

#![warn(missing_docs)]

mod auth;
mod extract;
mod layer;
mod rejection;
mod token;

pub use auth::{
    read_secret_file, AuthConfigError, Authenticated, TenantAuth, DEFAULT_TENANT_CLAIM, MIN_SECRET_LEN,
    TENANT_HEADER,
};
pub use extract::CurrentTenant;
pub use layer::{TenantLayer, TenantService};
pub use rejection::TenantRejection;
pub use token::{issue_token, TokenError};
