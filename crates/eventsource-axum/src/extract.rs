//! Extractors that give handlers the tenant the
//! [`TenantLayer`](crate::TenantLayer) established.
//!
//! They read what the layer stored in the request, never a header, the
//! body or the path: a route not behind the layer answers 401 rather than
//! trust anything the client sent.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use eventsource::TenantId;

use crate::{Authenticated, TenantRejection};

/// The tenant of the current request, as an extractor.
///
/// ```
/// use eventsource_axum::CurrentTenant;
///
/// async fn handler(CurrentTenant(tenant): CurrentTenant) -> String {
///     format!("acting for {tenant}")
/// }
/// ```
///
/// Rejects with [`TenantRejection::NotAuthenticated`] (401) when the
/// request did not pass through the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentTenant(pub TenantId);

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authenticated = Authenticated::from_request_parts(parts, state).await?;
        Ok(Self(authenticated.tenant_id()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or(TenantRejection::NotAuthenticated)
    }
}
