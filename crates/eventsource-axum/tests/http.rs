//! The tenant layer over real HTTP: a server on a loopback port of its own
//! and a client sending what real clients send.

use std::future::IntoFuture;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use eventsource::{get_current_tenant, spawn_with_tenant, TenantId};
use eventsource_axum::{issue_token, Authenticated, CurrentTenant, TenantAuth, TenantLayer};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const RS256_PRIVATE: &[u8] = include_bytes!("keys/rs256_private.pem");
const RS256_PUBLIC: &[u8] = include_bytes!("keys/rs256_public.pem");
const OTHER_RS256_PRIVATE: &[u8] = include_bytes!("keys/other_rs256_private.pem");

/// What a handler saw of the tenant context.
async fn observe(CurrentTenant(tenant): CurrentTenant) -> Json<Value> {
    let in_handler = get_current_tenant();
    let in_spawned_task = spawn_with_tenant(async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        get_current_tenant()
    })
    .await
    .expect("the spawned task does not panic");
    let in_plain_task = tokio::spawn(async { get_current_tenant() })
        .await
        .expect("the plain task does not panic");
    Json(json!({
        "extracted": tenant,
        "in_handler": in_handler,
        "in_spawned_task": in_spawned_task,
        "in_plain_task": in_plain_task,
    }))
}

async fn subject(authenticated: Authenticated) -> Json<Value> {
    Json(json!({ "subject": authenticated.subject() }))
}

/// A route outside the layer that reports the tenant context it runs in.
async fn unprotected() -> Json<Value> {
    Json(json!({ "in_handler": get_current_tenant() }))
}

/// A route outside the layer that wrongly asks for the tenant.
async fn misconfigured(CurrentTenant(tenant): CurrentTenant) -> String {
    tenant.to_string()
}

fn app(auth: TenantAuth) -> Router {
    let protected = Router::new()
        .route("/observe", get(observe))
        .route("/subject", get(subject))
        .route_layer(TenantLayer::new(auth));
    Router::new()
        .route("/unprotected", get(unprotected))
        .route("/misconfigured", get(misconfigured))
        .merge(protected)
}

struct Server {
    base: String,
    client: reqwest::Client,
}

impl Server {
    async fn start(auth: TenantAuth) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(axum::serve(listener, app(auth)).into_future());
        Self {
            base: format!("http://{address}"),
            // One connection, kept alive: consecutive requests are served
            // by the same connection task on the server.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap(),
        }
    }

    async fn hs256() -> Self {
        Self::start(TenantAuth::hs256(SECRET).unwrap()).await
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn observe_with(&self, token: &str) -> (StatusCode, Value) {
        self.get("/observe", &[("authorization", &format!("Bearer {token}"))])
            .await
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn hs256_token(claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn rs256_token(private_key: &[u8], claims: Value) -> String {
    let key = EncodingKey::from_rsa_pem(private_key).unwrap();
    encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

fn token_for(tenant: TenantId) -> String {
    issue_token(SECRET, tenant, Duration::from_secs(300)).unwrap()
}

fn assert_refused(status: StatusCode, body: &Value, expected: StatusCode) {
    assert_eq!(status, expected, "{body}");
    assert!(body["error"].is_string(), "refusals carry an error text: {body}");
    assert_eq!(body.as_object().map(|object| object.len()), Some(1), "{body}");
}

#[tokio::test]
async fn a_request_without_a_credential_is_unauthorized() {
    let server = Server::hs256().await;
    let response = server
        .client
        .get(format!("{}/observe", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.unwrap();
    assert_refused(StatusCode::UNAUTHORIZED, &body, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_malformed_authorization_header_is_unauthorized() {
    let server = Server::hs256().await;
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"] {
        let (status, body) = server.get("/observe", &[("authorization", value)]).await;
        assert_refused(status, &body, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_token_with_a_bad_signature_is_unauthorized() {
    let server = Server::hs256().await;
    let token = token_for(TenantId::new_random());
    let (head, _signature) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(43));
    let (status, body) = server.observe_with(&forged).await;
    assert_refused(status, &body, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_token_is_unauthorized() {
    let server = Server::hs256().await;
    let token = hs256_token(json!({"tenant_id": TenantId::new_random(), "exp": now() - 3600}));
    let (status, body) = server.observe_with(&token).await;
    assert_refused(status, &body, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "the bearer token has expired");
}

#[tokio::test]
async fn an_rs256_token_signed_with_the_trusted_key_is_accepted() {
    let server = Server::start(TenantAuth::rs256_pem(RS256_PUBLIC).unwrap()).await;
    let tenant = TenantId::new_random();
    let token = rs256_token(RS256_PRIVATE, json!({"tenant_id": tenant, "exp": now() + 300}));
    let (status, body) = server.observe_with(&token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["extracted"], json!(tenant));
}

#[tokio::test]
async fn an_rs256_token_signed_with_another_key_is_unauthorized() {
    let server = Server::start(TenantAuth::rs256_pem(RS256_PUBLIC).unwrap()).await;
    let token = rs256_token(
        OTHER_RS256_PRIVATE,
        json!({"tenant_id": TenantId::new_random(), "exp": now() + 300}),
    );
    let (status, body) = server.observe_with(&token).await;
    assert_refused(status, &body, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_rs256_public_key_is_unauthorized() {
    // The classic algorithm confusion: an HMAC whose secret is the public key.
    let server = Server::start(TenantAuth::rs256_pem(RS256_PUBLIC).unwrap()).await;
    let claims = json!({"tenant_id": TenantId::new_random(), "exp": now() + 300});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(RS256_PUBLIC),
    )
    .unwrap();
    let (status, body) = server.observe_with(&token).await;
    assert_refused(status, &body, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_with_a_malformed_tenant_claim_is_a_bad_request() {
    let server = Server::hs256().await;
    let token = hs256_token(json!({"tenant_id": "acme-corp", "exp": now() + 300}));
    let (status, body) = server.observe_with(&token).await;
    assert_refused(status, &body, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_token_naming_no_tenant_is_unauthorized() {
    let server = Server::hs256().await;
    let token = hs256_token(json!({"sub": "alice", "exp": now() + 300}));
    let (status, body) = server.observe_with(&token).await;
    assert_refused(status, &body, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_tenant_header_naming_another_tenant_is_forbidden_without_naming_either() {
    let server = Server::hs256().await;
    let (tenant, other) = (TenantId::new_random(), TenantId::new_random());
    let bearer = format!("Bearer {}", token_for(tenant));
    let other_text = other.to_string();
    let response = server
        .client
        .get(format!("{}/observe", server.base))
        .header("authorization", &bearer)
        .header("x-tenant-id", &other_text)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&tenant.to_string()), "{text}");
    assert!(!text.contains(&other_text), "{text}");
}

#[tokio::test]
async fn a_tenant_header_matching_the_token_is_accepted() {
    let server = Server::hs256().await;
    let tenant = TenantId::new_random();
    let bearer = format!("Bearer {}", token_for(tenant));
    let (status, body) = server
        .get(
            "/observe",
            &[("authorization", &bearer), ("x-tenant-id", &tenant.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["extracted"], json!(tenant));
}

#[tokio::test]
async fn a_malformed_tenant_header_is_a_bad_request() {
    let server = Server::hs256().await;
    let bearer = format!("Bearer {}", token_for(TenantId::new_random()));
    let (status, body) = server
        .get(
            "/observe",
            &[("authorization", &bearer), ("x-tenant-id", "not-a-uuid")],
        )
        .await;
    assert_refused(status, &body, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_tenant_is_visible_in_the_handler_and_in_tasks_spawned_with_the_helper_only() {
    let server = Server::hs256().await;
    let tenant = TenantId::new_random();
    let (status, body) = server.observe_with(&token_for(tenant)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["extracted"], json!(tenant));
    assert_eq!(body["in_handler"], json!(tenant));
    assert_eq!(body["in_spawned_task"], json!(tenant));
    assert_eq!(body["in_plain_task"], Value::Null);
}

#[tokio::test]
async fn the_tokens_subject_reaches_the_handler() {
    let server = Server::hs256().await;
    let token = hs256_token(json!({"tenant_id": TenantId::new_random(), "sub": "alice", "exp": now() + 300}));
    let (status, body) = server
        .get("/subject", &[("authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], "alice");
}

#[tokio::test]
async fn the_scope_ends_with_the_response_on_a_kept_alive_connection() {
    let server = Server::hs256().await;
    for _ in 0..3 {
        let (status, _) = server.observe_with(&token_for(TenantId::new_random())).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = server.get("/unprotected", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["in_handler"], Value::Null, "a tenant outlived its request");
    }
}

#[tokio::test]
async fn a_route_outside_the_layer_cannot_extract_a_tenant() {
    let server = Server::hs256().await;
    let tenant = TenantId::new_random();
    // Even with a valid token and header: only the layer establishes a tenant.
    let bearer = format!("Bearer {}", token_for(tenant));
    let (status, body) = server
        .get(
            "/misconfigured",
            &[("authorization", &bearer), ("x-tenant-id", &tenant.to_string())],
        )
        .await;
    assert_refused(status, &body, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_many_tenants_each_see_only_their_own() {
    let server = Server::hs256().await;
    let client = reqwest::Client::new();
    let requests = (0..64).map(|_| {
        let tenant = TenantId::new_random();
        let request = client
            .get(format!("{}/observe", server.base))
            .bearer_auth(token_for(tenant))
            .send();
        async move {
            let body: Value = request.await.unwrap().json().await.unwrap();
            (tenant, body)
        }
    });
    for (tenant, body) in futures::future::join_all(requests).await {
        assert_eq!(body["in_handler"], json!(tenant));
        assert_eq!(body["in_spawned_task"], json!(tenant));
    }
}
