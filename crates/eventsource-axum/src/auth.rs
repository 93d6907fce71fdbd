//! Establishing a request's tenant from its credential.
//!
//! [`TenantAuth`] checks a JWT bearer token (HS256 with a shared secret, or
//! RS256 with a public key) and reads the tenant from one of its claims.
//! The checks, in order, and what failing each one answers:
//!
//! 1. an `Authorization: Bearer <token>` header is present (401);
//! 2. the token is well formed, signed with the configured algorithm and
//!    key, not expired (`exp` is required), not used before its `nbf`, and
//!    from the configured issuer and audience when those are set (401);
//! 3. the token has the tenant claim (401) and it holds a tenant id (400);
//! 4. an `X-Tenant-ID` header, when present, is a tenant id (400) and the
//!    token's tenant (403).
//!
//! Only then is the tenant trusted. It is never read from anywhere else:
//! not from the body, the path or the query.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName};
use eventsource::TenantId;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tracing::debug;

use crate::TenantRejection;

/// The header a client may send to say which tenant it means; it must
/// agree with the token.
pub const TENANT_HEADER: HeaderName = HeaderName::from_static("x-tenant-id");

/// The claim that names the tenant unless configured otherwise.
pub const DEFAULT_TENANT_CLAIM: &str = "tenant_id";

/// The shortest HS256 secret accepted, in bytes: as long as the hash
/// (RFC 7518, section 3.2).
pub const MIN_SECRET_LEN: usize = 32;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// An HS256 secret shorter than [`MIN_SECRET_LEN`] bytes.
    #[error("the JWT secret has {len} bytes; at least {min} are needed")]
    SecretTooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The secret file could not be read.
    #[error("cannot read the JWT secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The RS256 public key is not an RSA public key in PEM form.
    #[error("the RS256 public key is not a PEM RSA public key: {0}")]
    PublicKey(String),
}

/// Who a request acts for, as established by the
/// [`TenantLayer`](crate::TenantLayer) from its token. Handlers read it
/// with the [`CurrentTenant`](crate::CurrentTenant) extractor, or extract
/// this whole value to see the token's subject too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    tenant_id: TenantId,
    subject: Option<String>,
}

impl Authenticated {
    /// The tenant the request acts for.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The token's `sub` claim (the user or service acting), if any.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
}

/// How requests are authenticated: the key that checks token signatures,
/// the claim that names the tenant, and the time checks. Cheap to clone.
///
/// ```
/// use eventsource_axum::TenantAuth;
/// use std::time::Duration;
///
/// let auth = TenantAuth::hs256(b"a secret of at least thirty-two bytes!")?
///     .with_tenant_claim("org")
///     .with_leeway(Duration::from_secs(5));
/// assert_eq!(auth.tenant_claim(), "org");
/// # Ok::<(), eventsource_axum::AuthConfigError>(())
/// ```
#[derive(Clone)]
pub struct TenantAuth {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    key: DecodingKey,
    validation: Validation,
    tenant_claim: String,
}

impl fmt::Debug for TenantAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs.
        f.debug_struct("TenantAuth")
            .field("algorithms", &self.config.validation.algorithms)
            .field("tenant_claim", &self.config.tenant_claim)
            .field("leeway_seconds", &self.config.validation.leeway)
            .finish_non_exhaustive()
    }
}

impl TenantAuth {
    /// Tokens signed with HS256 and `secret`.
    ///
    /// # Errors
    ///
    /// [`AuthConfigError::SecretTooShort`] for a secret under
    /// [`MIN_SECRET_LEN`] bytes.
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthConfigError> {
        check_secret(secret)?;
        Ok(Self::with_key(DecodingKey::from_secret(secret), Algorithm::HS256))
    }

    /// Tokens signed with HS256 and the secret in a file (see
    /// [`read_secret_file`]).
    ///
    /// # Errors
    ///
    /// As [`read_secret_file`].
    pub fn hs256_from_file(path: impl AsRef<Path>) -> Result<Self, AuthConfigError> {
        Self::hs256(&read_secret_file(path)?)
    }

    /// Tokens signed with RS256, checked with an RSA public key in PEM form
    /// (`-----BEGIN PUBLIC KEY-----` or `-----BEGIN RSA PUBLIC KEY-----`).
    ///
    /// # Errors
    ///
    /// [`AuthConfigError::PublicKey`] when `public_key_pem` is not one.
    pub fn rs256_pem(public_key_pem: &[u8]) -> Result<Self, AuthConfigError> {
        let key = DecodingKey::from_rsa_pem(public_key_pem)
            .map_err(|error| AuthConfigError::PublicKey(error.to_string()))?;
        Ok(Self::with_key(key, Algorithm::RS256))
    }

    fn with_key(key: DecodingKey, algorithm: Algorithm) -> Self {
        // Exactly one algorithm: a token cannot choose a weaker one, nor an
        // HMAC keyed with the RSA public key.
        let mut validation = Validation::new(algorithm);
        validation.validate_nbf = true;
        validation.validate_aud = false;
        Self {
            config: Arc::new(Config {
                key,
                validation,
                tenant_claim: DEFAULT_TENANT_CLAIM.to_owned(),
            }),
        }
    }

    /// Reads the tenant from claim `name` instead of `tenant_id`.
    pub fn with_tenant_claim(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).tenant_claim = name.into();
        self
    }

    /// Tolerates this much clock skew on `exp` and `nbf` (60 seconds unless
    /// set; whole seconds).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        Arc::make_mut(&mut self.config).validation.leeway = leeway.as_secs();
        self
    }

    /// Requires the `iss` claim to be `issuer`.
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        let validation = &mut Arc::make_mut(&mut self.config).validation;
        validation.set_issuer(&[issuer]);
        validation.required_spec_claims.insert("iss".to_owned());
        self
    }

    /// Requires the `aud` claim to name `audience`.
    pub fn with_audience(mut self, audience: &str) -> Self {
        let validation = &mut Arc::make_mut(&mut self.config).validation;
        validation.set_audience(&[audience]);
        validation.validate_aud = true;
        validation.required_spec_claims.insert("aud".to_owned());
        self
    }

    /// The claim that names the tenant.
    pub fn tenant_claim(&self) -> &str {
        &self.config.tenant_claim
    }

    /// Establishes who a request acts for from its headers, by the rules of
    /// this module.
    ///
    /// # Errors
    ///
    /// The [`TenantRejection`] of the first rule the request breaks.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Authenticated, TenantRejection> {
        let token = bearer_token(headers)?;
        let authenticated = self.verify_token(token)?;
        match tenant_header(headers)? {
            Some(named) if named != authenticated.tenant_id => {
                debug!(tenant = %authenticated.tenant_id, "X-Tenant-ID differs from the token's tenant");
                Err(TenantRejection::TenantHeaderMismatch)
            }
            _ => Ok(authenticated),
        }
    }

    /// Checks a token and reads its tenant and subject.
    ///
    /// # Errors
    ///
    /// [`TenantRejection::InvalidToken`], [`TenantRejection::ExpiredToken`],
    /// [`TenantRejection::MissingTenantClaim`] or
    /// [`TenantRejection::MalformedTenantClaim`].
    pub fn verify_token(&self, token: &str) -> Result<Authenticated, TenantRejection> {
        let config = &self.config;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &config.key, &config.validation)
            .map_err(|error| {
                debug!(%error, "bearer token refused");
                match error.kind() {
                    ErrorKind::ExpiredSignature => TenantRejection::ExpiredToken,
                    _ => TenantRejection::InvalidToken,
                }
            })?
            .claims;

        let tenant_id = match claims.get(&config.tenant_claim) {
            None | Some(Value::Null) => return Err(TenantRejection::MissingTenantClaim),
            Some(Value::String(text)) => text
                .parse::<TenantId>()
                .map_err(|_| TenantRejection::MalformedTenantClaim)?,
            Some(_) => return Err(TenantRejection::MalformedTenantClaim),
        };
        let subject = match claims.get("sub") {
            Some(Value::String(subject)) => Some(subject.clone()),
            _ => None,
        };
        Ok(Authenticated { tenant_id, subject })
    }
}

fn check_secret(secret: &[u8]) -> Result<(), AuthConfigError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(AuthConfigError::SecretTooShort {
            len: secret.len(),
            min: MIN_SECRET_LEN,
        });
    }
    Ok(())
}

/// Reads an HS256 secret from a file: its bytes without trailing
/// whitespace (so a file written by `echo` or an editor works), at least
/// [`MIN_SECRET_LEN`] of them.
///
/// # Errors
///
/// [`AuthConfigError::SecretFile`] when the file cannot be read,
/// [`AuthConfigError::SecretTooShort`] when what it holds is too short.
pub fn read_secret_file(path: impl AsRef<Path>) -> Result<Vec<u8>, AuthConfigError> {
    let path = path.as_ref();
    let mut secret = std::fs::read(path).map_err(|source| AuthConfigError::SecretFile {
        path: path.to_owned(),
        source,
    })?;
    let kept = secret.trim_ascii_end().len();
    secret.truncate(kept);
    check_secret(&secret)?;
    Ok(secret)
}

/// The token of the one `Authorization: Bearer` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, TenantRejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(TenantRejection::MissingCredential)?;
    if values.next().is_some() {
        return Err(TenantRejection::MalformedCredential);
    }
    let value = value.to_str().map_err(|_| TenantRejection::MalformedCredential)?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(TenantRejection::MalformedCredential)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(TenantRejection::MalformedCredential);
    }
    Ok(token)
}

/// The tenant named by the `X-Tenant-ID` header, when there is one.
fn tenant_header(headers: &HeaderMap) -> Result<Option<TenantId>, TenantRejection> {
    let mut values = headers.get_all(TENANT_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(TenantRejection::MalformedTenantHeader);
    }
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<TenantId>().ok())
        .map(Some)
        .ok_or(TenantRejection::MalformedTenantHeader)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    fn signed(claims: Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .expect("HS256 signing of a JSON object cannot fail")
    }

    fn headers(token: &str, tenant_header: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        if let Some(tenant) = tenant_header {
            headers.insert(TENANT_HEADER, HeaderValue::from_str(tenant).unwrap());
        }
        headers
    }

    fn auth() -> TenantAuth {
        TenantAuth::hs256(SECRET).unwrap()
    }

    #[test]
    fn a_valid_token_names_its_tenant_and_subject() {
        let tenant = TenantId::new_random();
        let token = signed(json!({"tenant_id": tenant, "sub": "alice", "exp": now() + 60}));
        let authenticated = auth().authenticate(&headers(&token, None)).unwrap();
        assert_eq!(authenticated.tenant_id(), tenant);
        assert_eq!(authenticated.subject(), Some("alice"));
    }

    #[test]
    fn no_authorization_header_is_a_missing_credential() {
        assert_eq!(
            auth().authenticate(&HeaderMap::new()),
            Err(TenantRejection::MissingCredential)
        );
    }

    #[test]
    fn an_authorization_header_that_is_not_a_bearer_token_is_malformed() {
        for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "token"] {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(
                auth().authenticate(&headers),
                Err(TenantRejection::MalformedCredential),
                "{value}"
            );
        }
    }

    #[test]
    fn two_authorization_headers_are_malformed() {
        let token = signed(json!({"tenant_id": TenantId::new_random(), "exp": now() + 60}));
        let mut headers = headers(&token, None);
        headers.append(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        assert_eq!(
            auth().authenticate(&headers),
            Err(TenantRejection::MalformedCredential)
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let tenant = TenantId::new_random();
        let token = signed(json!({"tenant_id": tenant, "exp": now() + 60}));
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("bearer {token}")).unwrap(),
        );
        assert_eq!(auth().authenticate(&headers).unwrap().tenant_id(), tenant);
    }

    #[test]
    fn garbage_and_wrongly_signed_tokens_are_invalid() {
        let claims = json!({"tenant_id": TenantId::new_random(), "exp": now() + 60});
        let other_key = EncodingKey::from_secret(b"another secret of thirty-two bytes!!");
        let wrongly_signed = encode(&Header::new(Algorithm::HS256), &claims, &other_key).unwrap();
        let weaker_algorithm = encode(
            &Header::new(Algorithm::HS384),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        for token in ["not-a-jwt", "a.b.c", &wrongly_signed, &weaker_algorithm] {
            assert_eq!(
                auth().authenticate(&headers(token, None)),
                Err(TenantRejection::InvalidToken),
                "{token}"
            );
        }
    }

    #[test]
    fn an_unsigned_token_is_invalid() {
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        let body = signed(json!({"tenant_id": TenantId::new_random(), "exp": now() + 60}));
        let payload = body.split('.').nth(1).unwrap();
        let token = format!("{header}.{payload}.");
        assert_eq!(
            auth().authenticate(&headers(&token, None)),
            Err(TenantRejection::InvalidToken)
        );
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let token = signed(json!({"tenant_id": TenantId::new_random(), "exp": now() - 3600}));
        assert_eq!(
            auth().authenticate(&headers(&token, None)),
            Err(TenantRejection::ExpiredToken)
        );
    }

    #[test]
    fn a_token_within_the_leeway_is_accepted_and_beyond_it_refused() {
        let token = signed(json!({"tenant_id": TenantId::new_random(), "exp": now() - 30}));
        assert!(auth()
            .with_leeway(Duration::from_secs(120))
            .authenticate(&headers(&token, None))
            .is_ok());
        assert_eq!(
            auth()
                .with_leeway(Duration::from_secs(0))
                .authenticate(&headers(&token, None)),
            Err(TenantRejection::ExpiredToken)
        );
    }

    #[test]
    fn a_token_without_an_expiry_or_with_a_textual_one_is_invalid() {
        let tenant = TenantId::new_random();
        for claims in [
            json!({"tenant_id": tenant}),
            json!({"tenant_id": tenant, "exp": "never"}),
            json!({"tenant_id": tenant, "exp": now() + 60, "nbf": "99999999999"}),
        ] {
            assert_eq!(
                auth().authenticate(&headers(&signed(claims.clone()), None)),
                Err(TenantRejection::InvalidToken),
                "{claims}"
            );
        }
    }

    #[test]
    fn a_token_not_valid_yet_is_invalid() {
        let token =
            signed(json!({"tenant_id": TenantId::new_random(), "exp": now() + 7200, "nbf": now() + 3600}));
        assert_eq!(
            auth().authenticate(&headers(&token, None)),
            Err(TenantRejection::InvalidToken)
        );
    }

    #[test]
    fn a_token_without_the_tenant_claim_names_no_tenant() {
        let token = signed(json!({"sub": "alice", "exp": now() + 60}));
        assert_eq!(
            auth().authenticate(&headers(&token, None)),
            Err(TenantRejection::MissingTenantClaim)
        );
    }

    #[test]
    fn a_tenant_claim_that_is_not_a_tenant_id_is_malformed() {
        for tenant in [json!("acme"), json!(42), json!(["a"]), json!("")] {
            let token = signed(json!({"tenant_id": tenant, "exp": now() + 60}));
            assert_eq!(
                auth().authenticate(&headers(&token, None)),
                Err(TenantRejection::MalformedTenantClaim),
                "{tenant}"
            );
        }
    }

    #[test]
    fn the_tenant_claim_name_is_configurable() {
        let tenant = TenantId::new_random();
        let token = signed(json!({"org": tenant, "exp": now() + 60}));
        let authenticated = auth()
            .with_tenant_claim("org")
            .authenticate(&headers(&token, None))
            .unwrap();
        assert_eq!(authenticated.tenant_id(), tenant);
        assert_eq!(
            auth().authenticate(&headers(&token, None)),
            Err(TenantRejection::MissingTenantClaim)
        );
    }

    #[test]
    fn a_matching_tenant_header_is_accepted() {
        let tenant = TenantId::new_random();
        let token = signed(json!({"tenant_id": tenant, "exp": now() + 60}));
        let upper = tenant.to_string().to_uppercase();
        let authenticated = auth().authenticate(&headers(&token, Some(&upper))).unwrap();
        assert_eq!(authenticated.tenant_id(), tenant);
    }

    #[test]
    fn a_tenant_header_naming_another_tenant_is_a_mismatch() {
        let token = signed(json!({"tenant_id": TenantId::new_random(), "exp": now() + 60}));
        let other = TenantId::new_random().to_string();
        assert_eq!(
            auth().authenticate(&headers(&token, Some(&other))),
            Err(TenantRejection::TenantHeaderMismatch)
        );
    }

    #[test]
    fn a_tenant_header_that_is_not_a_tenant_id_is_malformed() {
        let token = signed(json!({"tenant_id": TenantId::new_random(), "exp": now() + 60}));
        assert_eq!(
            auth().authenticate(&headers(&token, Some("acme"))),
            Err(TenantRejection::MalformedTenantHeader)
        );
    }

    #[test]
    fn the_token_is_checked_before_the_tenant_header() {
        let mut headers = HeaderMap::new();
        headers.insert(TENANT_HEADER, HeaderValue::from_static("acme"));
        assert_eq!(
            auth().authenticate(&headers),
            Err(TenantRejection::MissingCredential)
        );
    }

    #[test]
    fn issuer_and_audience_are_required_once_configured() {
        let tenant = TenantId::new_random();
        let auth = auth().with_issuer("https://id.example").with_audience("orders");
        let good = signed(
            json!({"tenant_id": tenant, "exp": now() + 60, "iss": "https://id.example", "aud": "orders"}),
        );
        assert_eq!(
            auth.authenticate(&headers(&good, None)).unwrap().tenant_id(),
            tenant
        );
        for claims in [
            json!({"tenant_id": tenant, "exp": now() + 60}),
            json!({"tenant_id": tenant, "exp": now() + 60, "iss": "https://evil.example", "aud": "orders"}),
            json!({"tenant_id": tenant, "exp": now() + 60, "iss": "https://id.example", "aud": "billing"}),
        ] {
            assert_eq!(
                auth.authenticate(&headers(&signed(claims.clone()), None)),
                Err(TenantRejection::InvalidToken),
                "{claims}"
            );
        }
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(matches!(
            TenantAuth::hs256(b"short"),
            Err(AuthConfigError::SecretTooShort {
                len: 5,
                min: MIN_SECRET_LEN
            })
        ));
    }

    #[test]
    fn a_secret_file_loses_its_trailing_newline() {
        let path = std::env::temp_dir().join(format!("eventsource-axum-secret-{}", std::process::id()));
        std::fs::write(&path, [SECRET, b"\n"].concat()).unwrap();
        let secret = read_secret_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(secret.unwrap(), SECRET);
    }

    #[test]
    fn a_missing_secret_file_names_the_file() {
        let error = read_secret_file("/nonexistent/secret").unwrap_err();
        assert!(error.to_string().contains("/nonexistent/secret"), "{error}");
    }

    #[test]
    fn the_debug_form_does_not_show_the_key() {
        let shown = format!("{:?}", auth());
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("tenant_id"), "{shown}");
    }
}
