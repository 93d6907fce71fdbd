//! The global feed never skips an event, proven against the real server:
//! a follower reading in small pages receives every event of eight
//! concurrent writers exactly once and in order, also when one writer's
//! transaction stays open after it got its position; and, as a control,
//! without the append lock the same follower does skip.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventsource::testing::event_for;
use eventsource::{EventStore, ExpectedVersion, ReadAllOptions, StoredEvent, StreamWrite};
use eventsource_postgres::PostgresEventStore;
use futures::TryStreamExt;
use support::TestDatabase;
use uuid::Uuid;

/// What a follower saw while writers appended.
struct FeedRace {
    /// The events the follower received, in the order received.
    seen: Vec<StoredEvent>,
    /// The whole feed, read once every writer was done.
    everything: Vec<StoredEvent>,
    /// Feed reads the follower made.
    polls: u64,
    elapsed: Duration,
    /// With a held transaction: its first position, and the highest position
    /// the follower had received just before it committed.
    held: Option<(u64, u64)>,
}

impl FeedRace {
    fn assert_every_event_once_in_order(&self) {
        assert_eq!(
            self.seen.len(),
            self.everything.len(),
            "the follower missed or repeated events"
        );
        assert_eq!(self.everything.len() as u64, WRITERS as u64 * EVENTS_PER_WRITER);
        assert!(
            self.seen.windows(2).all(|w| w[0].position < w[1].position),
            "positions strictly increase"
        );
        let distinct: HashSet<Uuid> = self.seen.iter().map(|e| e.event.envelope.event_id).collect();
        assert_eq!(distinct.len(), self.seen.len(), "every event exactly once");
        assert!(
            self.seen == self.everything,
            "the follower saw the whole feed, in order"
        );
    }
}

const WRITERS: usize = 8;
const AGGREGATES_PER_WRITER: usize = 100;
const SAVES_PER_AGGREGATE: u64 = 5;
const EVENTS_PER_SAVE: u64 = 4;
const EVENTS_PER_WRITER: u64 = AGGREGATES_PER_WRITER as u64 * SAVES_PER_AGGREGATE * EVENTS_PER_SAVE;
const SAVES: usize = WRITERS * AGGREGATES_PER_WRITER * SAVES_PER_AGGREGATE as usize;
const PAGE_SIZE: usize = 7;

/// Eight writers append 2,000 events each to aggregates of their own while
/// a follower reads the feed from the start in pages of seven, until the
/// writers are done and a read finds nothing new. With `hold`, writer 0
/// appends one save halfway through inside a transaction it keeps open that
/// long after its insert took its positions.
async fn follow_the_feed_while_eight_writers_append(
    store: Arc<PostgresEventStore>,
    hold: Option<Duration>,
) -> FeedRace {
    let follower_reached = Arc::new(AtomicU64::new(0));
    let writers_done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            let follower_reached = Arc::clone(&follower_reached);
            tokio::spawn(async move {
                let mut held = None;
                for aggregate in 0..AGGREGATES_PER_WRITER {
                    let id = Uuid::new_v4();
                    for save in 0..SAVES_PER_AGGREGATE {
                        let first = save * EVENTS_PER_SAVE + 1;
                        let events: Vec<_> = (first..first + EVENTS_PER_SAVE)
                            .map(|v| event_for(id, "Order", v, None))
                            .collect();
                        let expected = if save == 0 {
                            ExpectedVersion::NoStream
                        } else {
                            ExpectedVersion::Exact(first - 1)
                        };
                        let write = StreamWrite { expected, events };
                        let hold_this =
                            hold.filter(|_| writer == 0 && aggregate == AGGREGATES_PER_WRITER / 2);
                        match hold_this {
                            Some(hold) if save == 0 => {
                                held = Some(hold_open(&store, write, hold, &follower_reached).await);
                            }
                            _ => {
                                store
                                    .append_streams(&[write])
                                    .await
                                    .expect("an uncontended append succeeds");
                            }
                        }
                    }
                }
                held
            })
        })
        .collect();

    let follower = {
        let store = Arc::clone(&store);
        let reached = Arc::clone(&follower_reached);
        let writers_done = Arc::clone(&writers_done);
        tokio::spawn(async move {
            let mut seen: Vec<StoredEvent> = Vec::new();
            let mut polls = 0;
            let deadline = Instant::now() + Duration::from_secs(90);
            while Instant::now() < deadline {
                let done_before_reading = writers_done.load(Ordering::SeqCst);
                let options = ReadAllOptions {
                    after: seen.last().map(|e| e.position),
                    page_size: PAGE_SIZE,
                    ..ReadAllOptions::default()
                };
                let page: Vec<StoredEvent> = store
                    .read_all(options)
                    .try_collect()
                    .await
                    .expect("the feed reads");
                polls += 1;
                if let Some(last) = page.last() {
                    reached.fetch_max(last.position, Ordering::SeqCst);
                }
                let nothing_new = page.is_empty();
                seen.extend(page);
                if nothing_new {
                    if done_before_reading {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            (seen, polls)
        })
    };

    let mut held = None;
    for writer in writers {
        held = held.or(writer.await.expect("writer task"));
    }
    writers_done.store(true, Ordering::SeqCst);
    let (seen, polls) = follower.await.expect("follower task");
    let elapsed = started.elapsed();
    let everything = store
        .read_all(ReadAllOptions::default())
        .try_collect()
        .await
        .unwrap();
    FeedRace {
        seen,
        everything,
        polls,
        elapsed,
        held,
    }
}

/// Appends `write` in a transaction held open for `hold` after its insert
/// took its positions; returns the first of them and the highest position
/// the follower had received just before the commit.
async fn hold_open(
    store: &PostgresEventStore,
    write: StreamWrite,
    hold: Duration,
    follower_reached: &AtomicU64,
) -> (u64, u64) {
    let mut transaction = store.pool().begin().await.unwrap();
    let positions = store
        .append_in(&mut transaction, &[write])
        .await
        .expect("the held append succeeds");
    tokio::time::sleep(hold).await;
    let reached_before_commit = follower_reached.load(Ordering::SeqCst);
    transaction.commit().await.unwrap();
    (positions.positions[0], reached_before_commit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_reads_every_event_of_eight_concurrent_writers_once_and_in_order() {
    let database = TestDatabase::create().await;
    let store = Arc::new(database.store(WRITERS as u32 + 4).await);

    let race = follow_the_feed_while_eight_writers_append(store, None).await;
    race.assert_every_event_once_in_order();
    eprintln!(
        "the follower read {} events in {} reads of up to {PAGE_SIZE} while {WRITERS} writers made {SAVES} \
         saves in {:.2?} ({:.0} saves/s, {:.0} events/s)",
        race.seen.len(),
        race.polls,
        race.elapsed,
        SAVES as f64 / race.elapsed.as_secs_f64(),
        race.seen.len() as f64 / race.elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_held_open_after_taking_its_position_makes_the_follower_wait_not_skip() {
    let database = TestDatabase::create().await;
    let store = Arc::new(database.store(WRITERS as u32 + 4).await);

    let race = follow_the_feed_while_eight_writers_append(store, Some(Duration::from_secs(1))).await;
    race.assert_every_event_once_in_order();
    let (held, reached) = race.held.expect("one save was held open");
    assert!(
        reached < held,
        "the follower reached position {reached} while position {held} was uncommitted"
    );
    eprintln!(
        "position {held} was held uncommitted for 1s; the follower stood at {reached} until it committed, \
         then read all {} events ({} reads, {:.2?})",
        race.seen.len(),
        race.polls,
        race.elapsed
    );
}

/// One write held uncommitted after taking its position, one later write,
/// and a follower reading in between: what the follower receives, and the
/// whole feed afterwards.
async fn read_around_a_held_write(store: &PostgresEventStore) -> (Vec<StoredEvent>, Vec<StoredEvent>) {
    let mut held = store.pool().begin().await.unwrap();
    let first = StreamWrite {
        expected: ExpectedVersion::NoStream,
        events: vec![event_for(Uuid::new_v4(), "Order", 1, None)],
    };
    store.append_in(&mut held, &[first]).await.unwrap();
    let later = {
        let store = store.clone();
        tokio::spawn(async move {
            let events = vec![event_for(Uuid::new_v4(), "Order", 1, None)];
            store.append(ExpectedVersion::NoStream, events).await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let follow = |after: Option<u64>| {
        let options = ReadAllOptions {
            after,
            ..ReadAllOptions::default()
        };
        store.read_all(options).try_collect::<Vec<_>>()
    };
    let mut seen = follow(None).await.unwrap();
    held.commit().await.unwrap();
    later.await.unwrap();
    seen.extend(follow(seen.last().map(|e| e.position)).await.unwrap());
    let everything = follow(None).await.unwrap();
    (seen, everything)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_later_write_waits_for_a_held_one_so_a_follower_in_between_skips_nothing() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;

    let (seen, everything) = read_around_a_held_write(&store).await;
    assert_eq!(everything.len(), 2);
    assert_eq!(seen, everything);
}

/// The control experiment: without the trigger that serialises appends, the
/// later write commits first, the follower reads past the held position and
/// never receives it — the sequence-gap bug the tests above rule out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_append_lock_a_follower_in_between_skips_the_held_write() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    sqlx::query("DROP TRIGGER events_serialise_appends ON events")
        .execute(store.pool())
        .await
        .unwrap();

    let (seen, everything) = read_around_a_held_write(&store).await;
    assert_eq!(everything.len(), 2);
    assert_eq!(
        seen,
        everything[1..],
        "the follower skipped the held write's position"
    );
}
