//! Fresh stores for each run: a new in-memory store, an SQLite file in a
//! temporary folder, or a PostgreSQL database created for the run and
//! dropped after it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use eventsource::projection::{InMemoryProjectionStore, ProjectionStore};
use eventsource::{EventStore, InMemoryEventStore, InMemorySnapshotStore, SnapshotStore};
use eventsource_postgres::{PostgresEventStore, PostgresProjectionStore, PostgresSnapshotStore};
use eventsource_sqlite::{SqliteEventStore, SqliteProjectionStore, SqliteSnapshotStore};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// A backend under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// `InMemoryEventStore`.
    Memory,
    /// `SqliteEventStore` on a file (WAL, synchronous = FULL).
    Sqlite,
    /// `PostgresEventStore`.
    Postgres,
}

impl BackendKind {
    /// Parses `memory`, `sqlite` or `postgres`.
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        match name.trim() {
            "memory" => Ok(Self::Memory),
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            other => bail!("unknown backend {other:?} (memory, sqlite, postgres)"),
        }
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where fresh stores are made.
pub struct Environment {
    admin: PgConnectOptions,
    /// The server's URL without a database, for psql and for stores.
    pub postgres_base: String,
    /// The data folder.
    pub data_dir: PathBuf,
    counter: AtomicU32,
}

impl Environment {
    /// Reads the PostgreSQL admin URL; the server is contacted only when a
    /// PostgreSQL store is made.
    pub async fn new(postgres_url: &str, data_dir: &Path) -> anyhow::Result<Self> {
        let admin = PgConnectOptions::from_str(postgres_url).context("not a PostgreSQL URL")?;
        let postgres_base = format!(
            "postgres://{}@{}:{}",
            admin.get_username(),
            admin.get_host(),
            admin.get_port()
        );
        std::fs::create_dir_all(data_dir)?;
        Ok(Self {
            admin,
            postgres_base,
            data_dir: data_dir.to_path_buf(),
            counter: AtomicU32::new(0),
        })
    }

    fn next_name(&self) -> String {
        let number = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("esbench_{}_{number}", std::process::id())
    }

    /// A fresh, migrated store of `kind`.
    pub async fn fresh(&self, kind: BackendKind) -> anyhow::Result<FreshStore> {
        match kind {
            BackendKind::Memory => {
                let store = Arc::new(InMemoryEventStore::new());
                Ok(FreshStore {
                    kind,
                    events: store,
                    place: Place::Memory,
                    sqlite: None,
                    postgres: None,
                })
            }
            BackendKind::Sqlite => {
                let folder = self.data_dir.join(self.next_name());
                std::fs::create_dir_all(&folder)?;
                let url = format!("sqlite://{}", folder.join("events.db").display());
                let store = SqliteEventStore::open(&url).await?;
                Ok(FreshStore {
                    kind,
                    events: Arc::new(store.clone()),
                    place: Place::SqliteFolder(folder),
                    sqlite: Some(store),
                    postgres: None,
                })
            }
            BackendKind::Postgres => {
                let database = self.create_database().await?;
                let url = self.postgres_url(&database);
                let store = PostgresEventStore::open(&url).await?;
                Ok(FreshStore {
                    kind,
                    events: Arc::new(store.clone()),
                    place: Place::PostgresDatabase(database),
                    sqlite: None,
                    postgres: Some(store),
                })
            }
        }
    }

    /// The URL of one database on the server.
    pub fn postgres_url(&self, database: &str) -> String {
        format!("{}/{database}", self.postgres_base)
    }

    /// Creates an empty database and returns its name.
    pub async fn create_database(&self) -> anyhow::Result<String> {
        let name = self.next_name();
        let mut admin = PgConnection::connect_with(&self.admin)
            .await
            .context("cannot reach PostgreSQL")?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(name)
    }

    /// Drops a database this run created.
    pub async fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect_with(&self.admin).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(())
    }

    /// A fresh, empty SQLite URL in a folder of its own (removed by the
    /// caller through [`Environment::remove_folder`]).
    pub fn sqlite_folder(&self) -> anyhow::Result<PathBuf> {
        let folder = self.data_dir.join(self.next_name());
        std::fs::create_dir_all(&folder)?;
        Ok(folder)
    }

    /// Removes a temporary folder.
    pub fn remove_folder(&self, folder: &Path) {
        let _ = std::fs::remove_dir_all(folder);
    }

    /// Ends a fresh store: drops its database or removes its file.
    pub async fn close(&self, store: FreshStore) -> anyhow::Result<()> {
        let FreshStore {
            place,
            events,
            sqlite,
            postgres,
            ..
        } = store;
        drop(events);
        if let Some(sqlite) = sqlite {
            sqlite.pool().close().await;
        }
        if let Some(postgres) = postgres {
            postgres.pool().close().await;
        }
        match place {
            Place::Memory => Ok(()),
            Place::SqliteFolder(folder) => {
                self.remove_folder(&folder);
                Ok(())
            }
            Place::PostgresDatabase(name) => self.drop_database(&name).await,
        }
    }
}

enum Place {
    Memory,
    SqliteFolder(PathBuf),
    PostgresDatabase(String),
}

/// A store made for one run.
pub struct FreshStore {
    /// Its backend.
    pub kind: BackendKind,
    /// The event store.
    pub events: Arc<dyn EventStore>,
    place: Place,
    /// The SQLite store, for its pool.
    pub sqlite: Option<SqliteEventStore>,
    /// The PostgreSQL store, for its pool.
    pub postgres: Option<PostgresEventStore>,
}

impl FreshStore {
    /// The snapshot store beside the events, with a note when it is a
    /// stand-in; `None` when the backend has none yet.
    pub fn snapshots(&self) -> Option<Arc<dyn SnapshotStore>> {
        match self.kind {
            BackendKind::Memory => Some(Arc::new(InMemorySnapshotStore::new())),
            BackendKind::Sqlite => self
                .sqlite
                .as_ref()
                .map(|store| Arc::new(SqliteSnapshotStore::new(store)) as Arc<dyn SnapshotStore>),
            BackendKind::Postgres => postgres_snapshot_store(self.postgres.as_ref()),
        }
    }

    /// The projection store beside the events; `None` when the backend has
    /// none yet.
    pub fn projections(&self) -> Option<Arc<dyn ProjectionStore>> {
        match self.kind {
            BackendKind::Memory => Some(Arc::new(InMemoryProjectionStore::new())),
            BackendKind::Sqlite => self
                .sqlite
                .as_ref()
                .map(|store| Arc::new(SqliteProjectionStore::new(store)) as Arc<dyn ProjectionStore>),
            BackendKind::Postgres => postgres_projection_store(self.postgres.as_ref()),
        }
    }
}

fn postgres_snapshot_store(store: Option<&PostgresEventStore>) -> Option<Arc<dyn SnapshotStore>> {
    store.map(|store| Arc::new(PostgresSnapshotStore::new(store)) as Arc<dyn SnapshotStore>)
}

fn postgres_projection_store(store: Option<&PostgresEventStore>) -> Option<Arc<dyn ProjectionStore>> {
    store.map(|store| Arc::new(PostgresProjectionStore::new(store)) as Arc<dyn ProjectionStore>)
}
