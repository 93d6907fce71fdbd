//! A PostgreSQL database (and, where a test needs one, a role) of its own
//! for each test, created on the server named by
//! `EVENTSOURCE_TEST_POSTGRES_URL` and dropped when the test ends, also when
//! it fails.
//!
//! A missing server fails the test with instructions, in CI and locally
//! alike: a skipped PostgreSQL test would pass silently.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

use eventsource_postgres::PostgresEventStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

/// Where the tests find PostgreSQL.
pub const URL_VARIABLE: &str = "EVENTSOURCE_TEST_POSTGRES_URL";

/// The server used when the variable is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The base URL: a role that may create databases and roles, and a
/// database to connect to for that.
pub fn base_url() -> String {
    std::env::var(URL_VARIABLE).unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn base_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&base_url())
        .unwrap_or_else(|error| panic!("{URL_VARIABLE} is not a PostgreSQL URL: {error}"))
}

/// A connection to the maintenance database, or a failure that says how to
/// get a server.
pub async fn admin_connection() -> PgConnection {
    let options = base_options();
    match PgConnection::connect_with(&options).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "PostgreSQL is not reachable as {user}@{host}:{port} ({error}).\n\
             The eventsource-postgres tests need a running server; they fail rather than skip, \
             in CI (CI={ci}) as elsewhere.\n\
             Start the local cluster with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) \
             main start`, or point {URL_VARIABLE} at a server (a role that may create databases and roles).",
            user = options.get_username(),
            host = options.get_host(),
            port = options.get_port(),
            ci = std::env::var("CI").unwrap_or_default(),
        ),
    }
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}

/// A freshly created, empty database, dropped (with its connections) when
/// this value is dropped.
pub struct TestDatabase {
    name: String,
}

impl TestDatabase {
    /// Creates the database.
    pub async fn create() -> Self {
        Self::create_with("").await
    }

    /// Creates the database with the given `CREATE DATABASE` options (say,
    /// a collation).
    pub async fn create_with(options: &str) -> Self {
        let name = unique_name("eventsource_test");
        let mut admin = admin_connection().await;
        admin
            .execute(format!("CREATE DATABASE {name} {options}").as_str())
            .await
            .unwrap_or_else(|error| panic!("creating database {name}: {error}"));
        Self { name }
    }

    /// Connection options for this database, as the base URL's role.
    pub fn options(&self) -> PgConnectOptions {
        base_options().database(&self.name)
    }

    /// The URL of this database, derived from the base URL.
    pub fn url(&self) -> String {
        let base = base_url();
        let (address, query) = base
            .split_once('?')
            .map_or((base.as_str(), None), |(a, q)| (a, Some(q)));
        let authority_start = address.find("://").map_or(0, |i| i + 3);
        let path_start = address[authority_start..]
            .find('/')
            .map_or(address.len(), |i| authority_start + i);
        let mut url = format!("{}/{}", &address[..path_start], self.name);
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// A pool of up to `connections` to this database with `options`.
    pub async fn pool_with(&self, options: PgConnectOptions, connections: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(connections)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .unwrap_or_else(|error| panic!("connecting to {}: {error}", self.name))
    }

    /// A migrated store on this database, as the base URL's role, pooling up
    /// to `connections`.
    pub async fn store(&self, connections: u32) -> PostgresEventStore {
        let store = PostgresEventStore::from_pool(self.pool_with(self.options(), connections).await);
        store.migrate().await.expect("the migrations apply");
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        run_cleanup(statement);
    }
}

/// A role created for one test (a plain `LOGIN` role: no superuser, no
/// `BYPASSRLS`, owner of nothing), dropped when this value is dropped. Drop
/// the databases it has privileges in first (declare it before them).
pub struct TestRole {
    pub name: String,
}

impl TestRole {
    /// Creates the role.
    pub async fn create() -> Self {
        let name = unique_name("eventsource_app");
        let mut admin = admin_connection().await;
        admin
            .execute(
                format!("CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE").as_str(),
            )
            .await
            .unwrap_or_else(|error| panic!("creating role {name}: {error}"));
        Self { name }
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        run_cleanup(format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

/// Grants `role` what an application role needs under tenant isolation
/// (the statements the crate documentation gives operators).
pub async fn grant_app_role(store: &PostgresEventStore, role: &TestRole) {
    for grant in [
        format!("GRANT SELECT, INSERT ON events TO {}", role.name),
        format!(
            "GRANT USAGE ON SEQUENCE events_global_position_seq TO {}",
            role.name
        ),
    ] {
        store
            .pool()
            .execute(grant.as_str())
            .await
            .expect("the grant applies");
    }
}

/// Runs one cleanup statement to completion from a destructor: on a thread
/// of its own with a runtime of its own, so it works inside or outside an
/// async test and while a failed test unwinds.
fn run_cleanup(statement: String) {
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut admin = PgConnection::connect_with(&base_options()).await?;
            admin.execute(statement.as_str()).await?;
            admin.close().await
        })?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
    .join();
    if let Ok(Err(error)) = outcome {
        eprintln!("test cleanup failed: {error}");
    }
}

/// A shared handle to a store, as the conformance suite wants it.
pub fn shared(store: PostgresEventStore) -> Arc<PostgresEventStore> {
    Arc::new(store)
}
