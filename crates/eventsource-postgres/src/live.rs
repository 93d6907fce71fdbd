//! Live delivery: waking followers of the feed as soon as events are
//! appended, through PostgreSQL's `LISTEN`/`NOTIFY`.
//!
//! A trigger on `events` (migration `0006`) notifies the channel
//! [`CHANNEL`] with the highest position each insert statement stored;
//! PostgreSQL delivers it when the transaction commits, never before, and
//! never for a rollback. Each store (with its clones) has one listener: a
//! background task, started by the first wait, that holds one connection of
//! its own (not one of the pool's), listens on the channel and publishes
//! what it hears through a [`watch`] channel that every waiter subscribes
//! to. When its connection is lost it reconnects, with a growing pause
//! while the server stays unreachable; the task ends when the last clone of
//! the store is dropped.
//!
//! A wait returns at once when the store's current position is past the
//! follower's. Otherwise it never misses an append: it subscribes first,
//! and compares positions only once the listener is listening (waiting for
//! that within its time limit), so every commit after the comparison is
//! notified to it. Notifications lost while the listener reconnected are
//! made up for by waking every waiter once it listens again. While no
//! listener can connect, waits last their whole time limit: followers fall
//! back to polling.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eventsource::StoreResult;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, timeout_at, Instant};

/// The channel appends are notified on; the payload is the highest position
/// the inserting statement stored, as decimal text.
pub const CHANNEL: &str = "eventsource_events";

/// The `application_name` of the listener's connection, so operators can
/// tell it apart in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "eventsource_listener";

/// The first pause before connecting again after a failure; it doubles on
/// each failure in a row, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the listener has heard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Heard {
    /// Whether it is listening now.
    listening: bool,
    /// How many times it started listening. A change means notifications
    /// may have been lost in between.
    sessions: u64,
    /// The highest position notified so far.
    position: Option<u64>,
}

/// The listener of one store and its clones, started on first use.
#[derive(Clone, Debug, Default)]
pub(crate) struct LiveFeed {
    heard: Arc<Mutex<Option<watch::Receiver<Heard>>>>,
}

impl LiveFeed {
    /// Waits until events after `after` may have been appended, or until
    /// `max_wait` has passed. `current_position` reads the store's current
    /// position (in the store's session, so under tenant isolation the
    /// tenant's own).
    ///
    /// # Errors
    ///
    /// Those of `current_position`; a listener that cannot connect is no
    /// error (the wait then lasts `max_wait`).
    pub(crate) async fn wait_for_events<F, Fut>(
        &self,
        pool: &PgPool,
        after: Option<u64>,
        max_wait: Duration,
        current_position: F,
    ) -> StoreResult<()>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = StoreResult<Option<u64>>>,
    {
        let deadline = Instant::now() + max_wait;
        let mut heard = self.subscribe(pool);
        let mut start = *heard.borrow_and_update();

        if !start.listening {
            // Until the listener listens, a commit could go unnoticed. A
            // follower already behind need not wait for it, though.
            if current_position().await? > after {
                return Ok(());
            }
            let listening = timeout_at(deadline, heard.wait_for(|heard| heard.listening))
                .await
                .ok()
                .and_then(|listening| listening.ok().map(|heard| *heard));
            let Some(listening) = listening else {
                sleep_until(deadline).await;
                return Ok(());
            };
            start = listening;
        }
        // From here on, every commit is notified to this subscription.
        if current_position().await? > after {
            return Ok(());
        }

        loop {
            match timeout_at(deadline, heard.changed()).await {
                Err(_) => return Ok(()),
                Ok(Err(_)) => {
                    sleep_until(deadline).await;
                    return Ok(());
                }
                Ok(Ok(())) => {
                    let now = *heard.borrow_and_update();
                    // Positions this follower has seen, or that were
                    // notified before it looked, wake it no more.
                    let appended = now.position > after && now.position > start.position;
                    if appended || now.sessions != start.sessions {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// A subscription to the listener, started now unless it runs already.
    fn subscribe(&self, pool: &PgPool) -> watch::Receiver<Heard> {
        let mut heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        // A closed channel means the task ended with the runtime it ran on;
        // this runtime starts another.
        if let Some(receiver) = heard.as_ref().filter(|r| r.has_changed().is_ok()) {
            return receiver.clone();
        }
        let (sender, receiver) = watch::channel(Heard::default());
        let options = (*pool.connect_options())
            .clone()
            .application_name(LISTENER_APPLICATION_NAME);
        tokio::spawn(listen(options, sender));
        *heard = Some(receiver.clone());
        receiver
    }
}

/// The listener task: listens on [`CHANNEL`] and publishes what it hears,
/// reconnecting when the connection is lost, until nobody subscribes.
async fn listen(options: PgConnectOptions, heard: watch::Sender<Heard>) {
    // A pool of one connection, apart from the store's: the listener holds
    // its connection for good, and a small store pool must not lose one.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .connect_lazy_with(options);
    let mut retry = RETRY_FIRST;
    loop {
        let connected = tokio::select! {
            () = heard.closed() => return,
            connected = connect(&pool) => connected,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?retry, "cannot listen for appended events; followers poll meanwhile");
                if pause(&heard, &mut retry).await.is_err() {
                    return;
                }
                continue;
            }
        };

        let started = Instant::now();
        heard.send_modify(|heard| {
            heard.listening = true;
            heard.sessions += 1;
        });
        tracing::debug!(channel = CHANNEL, "listening for appended events");
        let lost = loop {
            let received = tokio::select! {
                () = heard.closed() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => publish(&heard, notification.payload()),
                Ok(None) => break "the connection was lost".to_owned(),
                Err(error) => break error.to_string(),
            }
        };
        heard.send_modify(|heard| heard.listening = false);
        drop(listener);

        // A connection that lived long gets a new one at once; one lost
        // right after connecting waits like a failed attempt.
        tracing::warn!(reason = %lost, "stopped listening for appended events; reconnecting");
        if started.elapsed() >= RETRY_MAX {
            retry = RETRY_FIRST;
        } else if pause(&heard, &mut retry).await.is_err() {
            return;
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnecting is done by `listen`, which also wakes the waiters.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Sleeps for `retry` and doubles it (up to [`RETRY_MAX`]); `Err` when
/// nobody subscribes any more.
async fn pause(heard: &watch::Sender<Heard>, retry: &mut Duration) -> Result<(), ()> {
    tokio::select! {
        () = heard.closed() => return Err(()),
        () = sleep(*retry) => {}
    }
    *retry = (*retry * 2).min(RETRY_MAX);
    Ok(())
}

/// Records a notified position. A payload that is not a position (someone
/// else notifying the channel) wakes nobody.
fn publish(heard: &watch::Sender<Heard>, payload: &str) {
    let Ok(position) = payload.parse::<u64>() else {
        tracing::debug!(payload, "ignored a notification that names no position");
        return;
    };
    heard.send_if_modified(|heard| {
        let newer = heard.position < Some(position);
        if newer {
            heard.position = Some(position);
        }
        newer
    });
}
