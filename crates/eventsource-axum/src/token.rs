//! Issuing HS256 tokens for development: what `eventsource token` prints.
//!
//! Production tokens come from an identity provider; this is the shortest
//! way to get a token a service configured with the same secret accepts.

use std::time::Duration;

use eventsource::TenantId;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use crate::auth::{DEFAULT_TENANT_CLAIM, MIN_SECRET_LEN};

/// A token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// An HS256 secret shorter than [`MIN_SECRET_LEN`] bytes.
    #[error("the JWT secret has {len} bytes; at least {min} are needed")]
    SecretTooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// Signing failed.
    #[error("cannot sign the token: {0}")]
    Signing(String),
}

/// An HS256 token for `tenant` (claim `tenant_id`) signed with `secret`,
/// valid from now for `ttl` (claims `iat` and `exp`).
///
/// ```
/// use eventsource_axum::{issue_token, TenantAuth};
/// use std::time::Duration;
///
/// let secret = b"a secret of at least thirty-two bytes!";
/// let tenant = eventsource::TenantId::new_random();
/// let token = issue_token(secret, tenant, Duration::from_secs(3600))?;
/// let auth = TenantAuth::hs256(secret)?;
/// assert_eq!(auth.verify_token(&token).unwrap().tenant_id(), tenant);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`TokenError::SecretTooShort`] for a secret under [`MIN_SECRET_LEN`]
/// bytes, [`TokenError::Signing`] when signing fails.
pub fn issue_token(secret: &[u8], tenant: TenantId, ttl: Duration) -> Result<String, TokenError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(TokenError::SecretTooShort {
            len: secret.len(),
            min: MIN_SECRET_LEN,
        });
    }
    let issued_at = jsonwebtoken::get_current_timestamp();
    let claims = json!({
        DEFAULT_TENANT_CLAIM: tenant,
        "iat": issued_at,
        "exp": issued_at.saturating_add(ttl.as_secs()),
    });
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret))
        .map_err(|error| TokenError::Signing(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TenantAuth, TenantRejection};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn an_issued_token_is_accepted_with_the_same_secret() {
        let tenant = TenantId::new_random();
        let token = issue_token(SECRET, tenant, Duration::from_secs(60)).unwrap();
        let auth = TenantAuth::hs256(SECRET).unwrap();
        assert_eq!(auth.verify_token(&token).unwrap().tenant_id(), tenant);
    }

    #[test]
    fn an_issued_token_is_refused_with_another_secret() {
        let token = issue_token(SECRET, TenantId::new_random(), Duration::from_secs(60)).unwrap();
        let auth = TenantAuth::hs256(b"another secret of thirty-two bytes!!").unwrap();
        assert_eq!(auth.verify_token(&token), Err(TenantRejection::InvalidToken));
    }

    #[test]
    fn a_token_is_not_issued_with_a_short_secret() {
        let issued = issue_token(b"short", TenantId::new_random(), Duration::from_secs(60));
        assert!(matches!(issued, Err(TokenError::SecretTooShort { len: 5, .. })));
    }
}
