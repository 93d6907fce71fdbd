//! Which event store a `--database` URL names, and opening it.
//!
//! Every backend is reached the same way: connect, apply the migrations
//! (idempotent, so every command works on a fresh database), and hand the
//! rest of the tool a [`Backend`]: its event store and, in the same
//! database, its projection store. A new backend is one more
//! [`DatabaseUrl`] variant and one more arm in [`open`].

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use eventsource::projection::ProjectionStore;
use eventsource::EventStore;
use eventsource_postgres::{PostgresEventStore, PostgresProjectionStore};
use eventsource_sqlite::{SqliteEventStore, SqliteProjectionStore};

/// A database URL, by backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`.
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DatabaseUrl {
    /// Recognises the backend of a URL; the backend itself checks the rest
    /// when it connects.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("sqlite:") {
            if rest.trim_start_matches('/').is_empty() {
                return Err(format!(
                    "{text:?} names no database file (try sqlite://eventsource.db)"
                ));
            }
            return Ok(Self::Sqlite(text.to_owned()));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        Err(format!(
            "{text:?} is not a database URL this tool knows (use sqlite://PATH, sqlite::memory: or postgres://…)"
        ))
    }
}

impl fmt::Display for DatabaseUrl {
    /// The URL without its password, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(url) => f.write_str(url),
            Self::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// What a database holds for the tool: the events, and the read models of
/// projections (documents, checkpoints and dead letters) beside them, so a
/// batch's read-model changes and its checkpoint commit in one transaction.
#[derive(Clone)]
pub struct Backend {
    /// The event store.
    pub events: Arc<dyn EventStore>,
    /// The projections' read models, in the same database.
    pub models: Arc<dyn ProjectionStore>,
    /// Whether the database runs one writing transaction at a time
    /// (SQLite), so that writers in one process had better take turns
    /// than wait on the database's own lock.
    pub one_writer_at_a_time: bool,
}

/// Opens the database `url` names, creating or upgrading its schema first
/// (migrations are idempotent, so every command works on a fresh database).
///
/// # Errors
///
/// When the database cannot be reached or migrated, with the URL named.
pub async fn open(url: &DatabaseUrl) -> anyhow::Result<Backend> {
    let cannot_open = || format!("cannot open {url}");
    let cannot_migrate = || format!("cannot migrate {url}");
    match url {
        DatabaseUrl::Sqlite(sqlite_url) => {
            let events = SqliteEventStore::connect(sqlite_url)
                .await
                .with_context(cannot_open)?;
            events.migrate().await.with_context(cannot_migrate)?;
            let models = SqliteProjectionStore::new(&events);
            Ok(Backend {
                events: Arc::new(events),
                models: Arc::new(models),
                one_writer_at_a_time: true,
            })
        }
        DatabaseUrl::Postgres(postgres_url) => {
            let events = PostgresEventStore::connect(postgres_url)
                .await
                .with_context(cannot_open)?;
            events.migrate().await.with_context(cannot_migrate)?;
            let models = PostgresProjectionStore::new(&events);
            Ok(Backend {
                events: Arc::new(events),
                models: Arc::new(models),
                one_writer_at_a_time: false,
            })
        }
    }
}

/// Opens the database `url` names for the commands that need only its
/// events.
///
/// # Errors
///
/// As [`open`].
pub async fn open_store(url: &DatabaseUrl) -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(open(url).await?.events)
}

/// The `migrate` command: creates or upgrades the schema and says so.
///
/// # Errors
///
/// When the database cannot be reached or migrated, or stdout fails.
pub async fn migrate(url: &DatabaseUrl, out: &mut impl Write) -> anyhow::Result<()> {
    open(url).await?;
    // TODO: name the migrations that were applied once the stores report
    // them; today a store's `migrate` only says that it succeeded.
    writeln!(out, "migrated {url}: the schema is up to date")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_postgres_urls_are_recognised() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://x.db"),
            Ok(DatabaseUrl::Sqlite("sqlite://x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite::memory:"),
            Ok(DatabaseUrl::Sqlite("sqlite::memory:".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
    }

    #[test]
    fn other_urls_are_refused_with_the_accepted_forms() {
        let error = DatabaseUrl::parse("mysql://h/db").unwrap_err();
        assert!(
            error.contains("\"mysql://h/db\"") && error.contains("sqlite://PATH"),
            "{error}"
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn a_postgres_password_is_never_shown() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@localhost/events").unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@localhost/events");
    }
}
