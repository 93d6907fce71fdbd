//! Why a request was refused before it reached its handler, and the
//! response that says so.
//!
//! Every refusal answers with a small JSON body, `{"error": "..."}`, whose
//! text is fixed per kind of refusal: it never repeats a tenant id, the
//! token or what the token claims, so a response cannot tell a caller
//! anything about a tenant it did not already know.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Why the tenant of a request could not be established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TenantRejection {
    /// No `Authorization` header.
    #[error("a bearer token is required")]
    MissingCredential,
    /// An `Authorization` header that is not a single `Bearer <token>`.
    #[error("the Authorization header must be a single bearer token")]
    MalformedCredential,
    /// The token is malformed, wrongly signed, signed with an algorithm
    /// this service does not accept, or fails a claim check (issuer,
    /// audience, not-before).
    #[error("the bearer token is invalid")]
    InvalidToken,
    /// The token's `exp` has passed (beyond the configured leeway).
    #[error("the bearer token has expired")]
    ExpiredToken,
    /// A valid token that names no tenant.
    #[error("the bearer token names no tenant")]
    MissingTenantClaim,
    /// A valid token whose tenant claim is not a tenant id.
    #[error("the bearer token's tenant claim is not a valid tenant id")]
    MalformedTenantClaim,
    /// An `X-Tenant-ID` header that is not a tenant id, or is given twice.
    #[error("the X-Tenant-ID header is not a valid tenant id")]
    MalformedTenantHeader,
    /// An `X-Tenant-ID` header naming another tenant than the token.
    #[error("the X-Tenant-ID header does not match the bearer token's tenant")]
    TenantHeaderMismatch,
    /// A handler asked for the tenant of a request that did not pass
    /// through the [`TenantLayer`](crate::TenantLayer).
    #[error("the request is not authenticated")]
    NotAuthenticated,
}

impl TenantRejection {
    /// The status code it answers with: 401 for a missing or unusable
    /// credential, 400 for a malformed tenant id, 403 for a tenant header
    /// that contradicts the credential.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingCredential
            | Self::MalformedCredential
            | Self::InvalidToken
            | Self::ExpiredToken
            | Self::MissingTenantClaim
            | Self::NotAuthenticated => StatusCode::UNAUTHORIZED,
            Self::MalformedTenantClaim | Self::MalformedTenantHeader => StatusCode::BAD_REQUEST,
            Self::TenantHeaderMismatch => StatusCode::FORBIDDEN,
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750), if any.
    fn challenge(self) -> Option<&'static str> {
        match self {
            Self::MissingCredential | Self::NotAuthenticated => Some("Bearer"),
            Self::MalformedCredential => Some("Bearer error=\"invalid_request\""),
            Self::InvalidToken | Self::ExpiredToken | Self::MissingTenantClaim => {
                Some("Bearer error=\"invalid_token\"")
            }
            Self::MalformedTenantClaim | Self::MalformedTenantHeader | Self::TenantHeaderMismatch => None,
        }
    }
}

impl IntoResponse for TenantRejection {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(json!({ "error": self.to_string() }))).into_response();
        if let Some(challenge) = self.challenge() {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_refusal_has_the_status_the_rules_give_it() {
        assert_eq!(
            TenantRejection::MissingCredential.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(TenantRejection::InvalidToken.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(TenantRejection::ExpiredToken.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            TenantRejection::MalformedTenantClaim.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            TenantRejection::MalformedTenantHeader.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            TenantRejection::TenantHeaderMismatch.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            TenantRejection::NotAuthenticated.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn an_unauthorized_answer_carries_a_bearer_challenge() {
        let response = TenantRejection::ExpiredToken.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        let forbidden = TenantRejection::TenantHeaderMismatch.into_response();
        assert!(forbidden.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
