//! Optimistic concurrency against the real server: racing writers at one
//! version leave one winner and conflicts that name the expected and the
//! actual version; a writer that loses the race while waiting for the
//! winner's commit learns the winner's version (or stored event id).

mod support;

use std::sync::Arc;
use std::time::Duration;

use eventsource::testing::event_for;
use eventsource::{EventStore, ExpectedVersion, StoreError, StreamId, StreamWrite};
use eventsource_postgres::PostgresEventStore;
use support::TestDatabase;
use tokio::sync::Barrier;
use uuid::Uuid;

async fn versions(store: &PostgresEventStore, stream: &StreamId) -> Vec<u64> {
    let events = store.read_stream(stream, 0).await.expect("the stream reads");
    events
        .iter()
        .map(|e| e.event.envelope.aggregate_version)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_at_one_version_leave_one_winner_and_fifteen_conflicts_naming_both_versions() {
    const ROUNDS: usize = 10;
    const WRITERS: usize = 16;
    let database = TestDatabase::create().await;
    let store = Arc::new(database.store(WRITERS as u32).await);

    let mut conflicts_seen = 0;
    for _ in 0..ROUNDS {
        let id = Uuid::new_v4();
        let stream = StreamId::new(id, "Order");
        store
            .append(ExpectedVersion::NoStream, vec![event_for(id, "Order", 1, None)])
            .await
            .unwrap();

        let barrier = Arc::new(Barrier::new(WRITERS));
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                let events = vec![event_for(id, "Order", 2, None)];
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.append(ExpectedVersion::Exact(1), events).await
                })
            })
            .collect();

        let (mut wins, mut conflicts) = (0, 0);
        for writer in writers {
            match writer.await.expect("writer task") {
                Ok(result) => {
                    wins += 1;
                    assert_eq!(result.positions.len(), 1);
                }
                Err(StoreError::Concurrency {
                    stream: conflicted,
                    expected,
                    actual,
                }) => {
                    assert_eq!(conflicted, stream);
                    assert_eq!(expected, ExpectedVersion::Exact(1));
                    assert_eq!(actual, 2, "the conflict names the winner's version");
                    conflicts += 1;
                }
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!((wins, conflicts), (1, WRITERS - 1));
        assert_eq!(
            versions(&store, &stream).await,
            [1, 2],
            "versions stay contiguous"
        );
        conflicts_seen += conflicts;
    }
    eprintln!("{ROUNDS} rounds of {WRITERS} racing writers: {ROUNDS} wins, {conflicts_seen} conflicts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_that_loses_the_race_while_waiting_reports_the_winners_version() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    let id = Uuid::new_v4();
    store
        .append(ExpectedVersion::NoStream, vec![event_for(id, "Order", 1, None)])
        .await
        .unwrap();

    // The winner holds its transaction open after inserting version 2; the
    // loser's statement reads version 1 (its snapshot), then waits for the
    // append lock and finds version 2 taken when it inserts.
    let mut winner = store.pool().begin().await.unwrap();
    let write = StreamWrite {
        expected: ExpectedVersion::Exact(1),
        events: vec![event_for(id, "Order", 2, None)],
    };
    store.append_in(&mut winner, &[write]).await.unwrap();
    let loser = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append(ExpectedVersion::Exact(1), vec![event_for(id, "Order", 2, None)])
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!loser.is_finished(), "the loser waits for the winner's commit");
    winner.commit().await.unwrap();

    match loser.await.unwrap() {
        Err(StoreError::Concurrency { expected, actual, .. }) => {
            assert_eq!((expected, actual), (ExpectedVersion::Exact(1), 2));
        }
        other => panic!("expected a concurrency conflict, got {other:?}"),
    }
    assert_eq!(versions(&store, &StreamId::new(id, "Order")).await, [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_id_stored_while_a_writer_waits_is_reported_as_that_duplicate() {
    let database = TestDatabase::create().await;
    let store = database.store(4).await;
    let first = event_for(Uuid::new_v4(), "Order", 1, None);
    let mut copy = event_for(Uuid::new_v4(), "Order", 1, None);
    copy.envelope.event_id = first.envelope.event_id;

    let mut winner = store.pool().begin().await.unwrap();
    let write = StreamWrite {
        expected: ExpectedVersion::NoStream,
        events: vec![first.clone()],
    };
    store.append_in(&mut winner, &[write]).await.unwrap();
    let loser = {
        let store = store.clone();
        tokio::spawn(async move { store.append(ExpectedVersion::NoStream, vec![copy]).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    winner.commit().await.unwrap();

    match loser.await.unwrap() {
        Err(StoreError::DuplicateEvent { event_id }) => assert_eq!(event_id, first.envelope.event_id),
        other => panic!("expected a duplicate event error, got {other:?}"),
    }
    assert_eq!(store.current_position().await.unwrap(), Some(1));
}
