//! What every handler shares: the stores, the authentication and the
//! audit cursor key.

use std::sync::Arc;

use eventsource::projection::ProjectionStore;
use eventsource::{EventStore, StoreResult, TenantAwareRepository};
use eventsource_axum::TenantAuth;
use eventsource_examples::guide::order::Order;
use eventsource_sqlite::{SqliteEventStore, SqliteProjectionStore};

use crate::cursor::CursorSeal;

/// The service's shared state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Where orders' events are stored and the audit log is read from.
    pub events: Arc<dyn EventStore>,
    /// Where the order summaries and tenant statistics read models live.
    pub models: Arc<dyn ProjectionStore>,
    /// How requests are authenticated and their tenant established.
    pub auth: TenantAuth,
    /// The store the read models are fed from: `events` unless set apart
    /// (see [`Self::with_projection_feed`]).
    feed: Arc<dyn EventStore>,
    cursors: CursorSeal,
}

impl AppState {
    /// State over the given stores. Audit cursors are sealed with a random
    /// key, valid for the life of this state (see [`Self::with_cursor_key`]).
    pub fn new(events: Arc<dyn EventStore>, models: Arc<dyn ProjectionStore>, auth: TenantAuth) -> Self {
        Self {
            feed: Arc::clone(&events),
            events,
            models,
            auth,
            cursors: CursorSeal::random(),
        }
    }

    /// State over an SQLite database (events and read models in one
    /// database: a file such as `sqlite://events.db`, or `sqlite::memory:`),
    /// applying its migrations.
    ///
    /// The read models of a file get connections of their own, apart from
    /// those that serve requests: a projection batch holds SQLite's write
    /// lock while it reads the feed, and if it had to wait for a
    /// connection held by a save that waits for that same lock, both would
    /// wait until the busy timeout. An in-memory database lives in its
    /// connection pool and cannot be split, so it keeps that hazard: it is
    /// for trials with a few concurrent writers, not for load.
    ///
    /// # Errors
    ///
    /// As [`SqliteEventStore::open`].
    pub async fn open_sqlite(url: &str, auth: TenantAuth) -> StoreResult<Self> {
        let events = SqliteEventStore::open(url).await?;
        if url.contains(":memory:") || url.contains("mode=memory") {
            let models = SqliteProjectionStore::new(&events);
            return Ok(Self::new(Arc::new(events), Arc::new(models), auth));
        }
        let feed = SqliteEventStore::connect(url).await?;
        let models = SqliteProjectionStore::new(&feed);
        Ok(Self::new(Arc::new(events), Arc::new(models), auth).with_projection_feed(Arc::new(feed)))
    }

    /// Feeds the read models from `feed` instead of `events`: the same
    /// database through other connections.
    pub fn with_projection_feed(mut self, feed: Arc<dyn EventStore>) -> Self {
        self.feed = feed;
        self
    }

    /// Seals audit cursors with `key`, so that they stay valid across
    /// restarts and between processes that share the key.
    pub fn with_cursor_key(mut self, key: [u8; 32]) -> Self {
        self.cursors = CursorSeal::from_key(key);
        self
    }

    pub(crate) fn orders(&self) -> TenantAwareRepository<Order> {
        TenantAwareRepository::new(Arc::clone(&self.events))
    }

    pub(crate) fn projection_feed(&self) -> &Arc<dyn EventStore> {
        &self.feed
    }

    pub(crate) fn cursors(&self) -> &CursorSeal {
        &self.cursors
    }
}
