//! Live delivery through LISTEN/NOTIFY: a follower waiting for new events
//! wakes when an append commits (not before, and not for a rollback), waits
//! its whole time limit when nothing is appended, and keeps waking after
//! the listener's connection was cut.
//!
//! The time limits are generous and the assertions loose: they check that a
//! wake-up happens because of the append (well before the limit), not how
//! fast it is.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use eventsource::projection::{
    Projection, ProjectionError, ProjectionRunner, ProjectionStore, ProjectionTx, RunnerOptions,
};
use eventsource::testing::event_for;
use eventsource::{EventStore, ExpectedVersion, StoredEvent, StreamWrite};
use eventsource_postgres::{PostgresEventStore, PostgresProjectionStore, LISTENER_APPLICATION_NAME};
use serde_json::json;
use support::TestDatabase;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The time limit of a wait that should end early.
const LONG_WAIT: Duration = Duration::from_secs(10);

/// How long a follower is left waiting before the append, so that it
/// really waits.
const WAITING: Duration = Duration::from_millis(300);

async fn append_one(store: &PostgresEventStore) -> u64 {
    let events = vec![event_for(Uuid::new_v4(), "Order", 1, None)];
    store
        .append(ExpectedVersion::NoStream, events)
        .await
        .unwrap()
        .positions[0]
}

/// A follower waiting from `after`; yields when its wait ended.
fn follower(store: &PostgresEventStore, after: Option<u64>, max_wait: Duration) -> JoinHandle<Instant> {
    let store = store.clone();
    tokio::spawn(async move {
        store.wait_for_events(after, max_wait).await.unwrap();
        Instant::now()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_follower_wakes_when_another_task_appends() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    let after = Some(append_one(&store).await);

    for _ in 0..3 {
        let started = Instant::now();
        let waiting = follower(&store, store.current_position().await.unwrap(), LONG_WAIT);
        tokio::time::sleep(WAITING).await;
        assert!(!waiting.is_finished(), "nothing was appended yet");

        let appended_at = Instant::now();
        append_one(&store).await;
        let woke_at = waiting.await.unwrap();
        assert!(woke_at >= appended_at);
        assert!(
            woke_at - started < LONG_WAIT / 2,
            "woke {:?} after the append",
            woke_at - appended_at
        );
    }
    assert!(store.current_position().await.unwrap() > after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_waits_its_whole_time_limit_when_nothing_is_appended() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let max_wait = Duration::from_millis(800);

    // An empty store, then one with events the follower has seen.
    for appended in [false, true] {
        let after = if appended {
            Some(append_one(&store).await)
        } else {
            None
        };
        let started = Instant::now();
        store.wait_for_events(after, max_wait).await.unwrap();
        let waited = started.elapsed();
        assert!(waited >= max_wait, "returned after {waited:?}");
        assert!(
            waited < max_wait + Duration::from_secs(4),
            "returned after {waited:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_store_returns_at_once() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let last = append_one(&store).await;

    for after in [None, Some(last - 1).filter(|&p| p > 0)] {
        let started = Instant::now();
        store.wait_for_events(after, LONG_WAIT).await.unwrap();
        assert!(started.elapsed() < LONG_WAIT / 2, "{:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_wakes_when_the_append_commits_and_not_for_a_rollback() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    let after = Some(append_one(&store).await);
    let write = || StreamWrite {
        expected: ExpectedVersion::NoStream,
        events: vec![event_for(Uuid::new_v4(), "Order", 1, None)],
    };

    // Rolled back: nobody is woken.
    let max_wait = Duration::from_millis(1500);
    let started = Instant::now();
    let waiting = follower(&store, after, max_wait);
    tokio::time::sleep(WAITING).await;
    let mut transaction = store.pool().begin().await.unwrap();
    store.append_in(&mut transaction, &[write()]).await.unwrap();
    transaction.rollback().await.unwrap();
    let woke_at = waiting.await.unwrap();
    assert!(woke_at - started >= max_wait, "woke for a rollback");

    // Committed late: the follower wakes after the commit, not at the insert.
    let started = Instant::now();
    let waiting = follower(&store, after, LONG_WAIT);
    tokio::time::sleep(WAITING).await;
    let mut transaction = store.pool().begin().await.unwrap();
    store.append_in(&mut transaction, &[write()]).await.unwrap();
    tokio::time::sleep(WAITING).await;
    assert!(!waiting.is_finished(), "woke before the commit");
    let committed_at = Instant::now();
    transaction.commit().await.unwrap();
    let woke_at = waiting.await.unwrap();
    assert!(woke_at >= committed_at);
    assert!(woke_at - started < LONG_WAIT / 2, "{:?}", woke_at - started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_keeps_waking_after_the_listeners_connection_was_cut() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    let after = Some(append_one(&store).await);
    // Starts the listener.
    store
        .wait_for_events(after, Duration::from_millis(100))
        .await
        .unwrap();

    let listener_pid = || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
        )
        .bind(LISTENER_APPLICATION_NAME)
        .fetch_optional(store.pool())
        .await
        .unwrap()
    };
    let cut = listener_pid().await.expect("the listener is connected");
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(cut)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(terminated);

    // A follower that waits across the reconnection, then one that starts
    // after it: both wake on an append.
    let across = follower(&store, after, LONG_WAIT);
    let reconnected = Instant::now();
    while listener_pid().await.is_none_or(|pid| pid == cut) {
        assert!(
            reconnected.elapsed() < LONG_WAIT,
            "the listener did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let waiting = follower(&store, after, LONG_WAIT);
    tokio::time::sleep(WAITING).await;
    append_one(&store).await;
    for follower in [across, waiting] {
        let woke_at = follower.await.unwrap();
        assert!(woke_at - started < LONG_WAIT / 2, "{:?}", woke_at - started);
    }
}

/// Writes one document per event.
struct Orders;

#[async_trait]
impl Projection for Orders {
    fn name(&self) -> &str {
        "orders"
    }

    async fn apply(&self, event: &StoredEvent, model: &mut dyn ProjectionTx) -> Result<(), ProjectionError> {
        let key = event.event.envelope.aggregate_id.to_string();
        model.put(None, &key, &json!(event.position)).await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_with_a_long_poll_interval_follows_appends_live() {
    let database = TestDatabase::create().await;
    let events = Arc::new(database.store(6).await);
    let models = Arc::new(PostgresProjectionStore::new(&events));
    let runner = ProjectionRunner::new(
        Arc::clone(&events) as Arc<dyn EventStore>,
        Arc::clone(&models) as Arc<dyn ProjectionStore>,
    )
    .with_options(RunnerOptions {
        poll_interval: LONG_WAIT,
        ..RunnerOptions::default()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        runner
            .run(Arc::new(Orders), async {
                let _ = stopped.await;
            })
            .await;
    });

    for _ in 0..3 {
        tokio::time::sleep(WAITING).await;
        let appended_at = Instant::now();
        let position = append_one(&events).await;
        while models.checkpoint("orders").await.unwrap().map(|c| c.position) != Some(position) {
            assert!(
                appended_at.elapsed() < LONG_WAIT / 2,
                "the runner did not wake for position {position}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let _ = stop.send(());
    running.await.unwrap();
}
