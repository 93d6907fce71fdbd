//! A running service on a loopback port of its own, over an in-memory
//! SQLite database or a file in a temporary folder, and clients that act
//! for one tenant each.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use eventsource::TenantId;
use eventsource_axum::{issue_token, TenantAuth};
use eventsource_service::{serve, AppState};
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub const SECRET: &[u8] = b"test secret: thirty-two bytes or more";

/// How long a test waits for the read models to catch up.
pub const CATCH_UP: Duration = Duration::from_secs(20);

/// Where a test server keeps its events and read models.
pub enum Database {
    /// `sqlite::memory:`: one pool for requests and read models, which
    /// stalls for the busy timeout when as many writers as the pool has
    /// connections meet a projection batch; for sequential use only.
    Memory,
    /// An SQLite file (WAL, separate pools for requests and read models),
    /// as in production.
    File,
}

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _folder: TempDir,
}

impl TestServer {
    /// A server over an SQLite file, as in production.
    pub async fn start() -> Self {
        Self::start_on(Database::File).await
    }

    pub async fn start_on(database: Database) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let url = match database {
            Database::Memory => "sqlite::memory:".to_owned(),
            Database::File => format!("sqlite://{}", folder.path().join("events.db").display()),
        };
        let auth = TenantAuth::hs256(SECRET).unwrap();
        let state = AppState::open_sqlite(&url, auth).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Self {
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
            _folder: folder,
        }
    }

    /// A client for a new tenant.
    pub fn new_tenant(&self) -> TenantClient {
        self.tenant(TenantId::new_random())
    }

    pub fn tenant(&self, tenant: TenantId) -> TenantClient {
        self.with_token(
            tenant,
            issue_token(SECRET, tenant, Duration::from_secs(600)).unwrap(),
        )
    }

    /// A client for `tenant` whose token carries `sub`.
    pub fn tenant_as(&self, tenant: TenantId, subject: &str) -> TenantClient {
        let claims = json!({"tenant_id": tenant, "sub": subject, "exp": now() + 600});
        self.with_token(tenant, signed(claims))
    }

    pub fn with_token(&self, tenant: TenantId, token: String) -> TenantClient {
        TenantClient {
            tenant,
            token,
            base: self.base.clone(),
            client: self.client.clone(),
        }
    }

    /// A request without credentials.
    pub async fn get_anonymous(&self, path: &str) -> Reply {
        Reply::of(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Stops the server and waits for it (and its projections) to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// An HS256 token with the test secret and the given claims.
pub fn signed(claims: Value) -> String {
    encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET)).unwrap()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    async fn of(response: reqwest::Response) -> Self {
        Self {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|error| panic!("{error}: {}", self.text))
    }

    /// Asserts the status, showing the body when it differs.
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }

    /// Asserts a 422 naming `field`.
    pub fn expect_invalid(self, field: &str) -> Self {
        let reply = self.expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["field"], field, "{}", reply.text);
        reply
    }
}

#[derive(Clone)]
pub struct TenantClient {
    pub tenant: TenantId,
    pub token: String,
    base: String,
    client: reqwest::Client,
}

impl TenantClient {
    pub async fn get(&self, path: &str) -> Reply {
        let request = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        Reply::of(request.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body);
        Reply::of(request.send().await.unwrap()).await
    }

    /// Posts a body as raw text with the JSON content type.
    pub async fn post_raw(&self, path: &str, body: &str) -> Reply {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_owned());
        Reply::of(request.send().await.unwrap()).await
    }

    /// Places an order and returns its id.
    pub async fn create_order(&self, total_amount: Value) -> Uuid {
        let reply = self
            .post(
                "/orders",
                json!({"customer_id": Uuid::new_v4(), "total_amount": total_amount}),
            )
            .await
            .expect(StatusCode::CREATED);
        reply.json()["order_id"].as_str().unwrap().parse().unwrap()
    }

    /// Every order id the tenant's listing shows, following `next`.
    pub async fn listed_order_ids(&self, limit: usize) -> Vec<Uuid> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(cursor) => format!("/orders?limit={limit}&after={cursor}"),
                None => format!("/orders?limit={limit}"),
            };
            let page = self.get(&path).await.expect(StatusCode::OK).json();
            let orders = page["orders"].as_array().unwrap();
            assert!(orders.len() <= limit);
            ids.extend(
                orders
                    .iter()
                    .map(|o| o["order_id"].as_str().unwrap().parse::<Uuid>().unwrap()),
            );
            match page["next"].as_str() {
                Some(cursor) => after = Some(cursor.to_owned()),
                None => return ids,
            }
        }
    }
}

/// Retries `check` until it returns `Some`, for what the read models show
/// once they have caught up.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
