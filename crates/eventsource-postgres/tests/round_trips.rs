//! A save is one round trip to the server however many events it holds.
//!
//! The client's messages pass through a recording proxy on loopback, which
//! notes each exchange (the messages up to a `Sync`, or a simple `Query`)
//! and what it did: prepare a statement, execute one, or nothing (a bare
//! `Sync`, which is how sqlx pings a connection). A save on a connection
//! that already prepared the append statement must be exactly one exchange
//! that executes, with nothing before it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource::testing::event_for;
use eventsource::{EventStore, ExpectedVersion, StoreError, StreamWrite};
use eventsource_postgres::sqlx::postgres::PgSslMode;
use eventsource_postgres::PostgresEventStore;
use support::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// One client–server exchange, by what the client asked for in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exchange {
    /// Parse and describe, no execute: preparing a statement.
    Prepare,
    /// At least one execute (or a simple query).
    Execute,
    /// Nothing but a `Sync`: a ping.
    Ping,
}

type Log = Arc<Mutex<Vec<Exchange>>>;

/// Starts a proxy on a free loopback port in front of `upstream`, logging
/// the exchanges of every connection through it.
async fn recording_proxy(upstream: (String, u16)) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Log::default();
    let shared = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect((upstream.0.as_str(), upstream.1))
                .await
                .unwrap();
            let log = Arc::clone(&shared);
            tokio::spawn(async move {
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, to_server) = server.into_split();
                tokio::spawn(async move { tokio::io::copy(&mut from_server, &mut to_client).await });
                let _ = forward_recording(&mut from_client, to_server, &log).await;
            });
        }
    });
    (port, log)
}

/// Forwards the client's messages one by one: first the untyped startup
/// message, then typed ones (a type byte and a length that counts itself).
async fn forward_recording(
    from_client: &mut OwnedReadHalf,
    mut to_server: OwnedWriteHalf,
    log: &Log,
) -> std::io::Result<()> {
    let length = from_client.read_u32().await?;
    let mut startup = vec![0; length as usize - 4];
    from_client.read_exact(&mut startup).await?;
    to_server.write_u32(length).await?;
    to_server.write_all(&startup).await?;

    let (mut parsed, mut executed) = (false, false);
    loop {
        let kind = from_client.read_u8().await?;
        let length = from_client.read_u32().await?;
        let mut body = vec![0; length as usize - 4];
        from_client.read_exact(&mut body).await?;
        match kind {
            b'P' => parsed = true,
            b'E' => executed = true,
            b'Q' => log.lock().unwrap().push(Exchange::Execute),
            b'S' => {
                let exchange = match (executed, parsed) {
                    (true, _) => Exchange::Execute,
                    (false, true) => Exchange::Prepare,
                    (false, false) => Exchange::Ping,
                };
                log.lock().unwrap().push(exchange);
                (parsed, executed) = (false, false);
            }
            _ => {}
        }
        to_server.write_u8(kind).await?;
        to_server.write_u32(length).await?;
        to_server.write_all(&body).await?;
    }
}

fn new_streams(streams: usize, events_per_stream: u64) -> Vec<StreamWrite> {
    (0..streams)
        .map(|_| {
            let id = Uuid::new_v4();
            StreamWrite {
                expected: ExpectedVersion::NoStream,
                events: (1..=events_per_stream)
                    .map(|v| event_for(id, "Order", v, None))
                    .collect(),
            }
        })
        .collect()
}

/// Runs `save` and returns the exchanges sent from its start until it
/// returned (a ping sqlx sends when the connection goes back to the pool
/// may follow; it is not on the save's path).
async fn exchanges_of<F: std::future::Future>(log: &Log, save: F) -> (F::Output, Vec<Exchange>) {
    // Let pings of earlier calls settle first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = log.lock().unwrap().len();
    let output = save.await;
    let sent = log.lock().unwrap()[start..].to_vec();
    (output, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_is_one_round_trip_however_many_events_and_streams_it_holds() {
    let database = TestDatabase::create().await;
    database.store(1).await; // migrated
    let options = database.options();
    let (port, log) = recording_proxy((options.get_host().to_owned(), options.get_port())).await;
    let proxied = options.host("127.0.0.1").port(port).ssl_mode(PgSslMode::Disable);
    let store = PostgresEventStore::connect_with(proxied).await.unwrap();

    // The first save on a connection prepares the append statement (one
    // more exchange); warm up every connection the pool opened.
    for _ in 0..4 {
        store.append_streams(&new_streams(1, 1)).await.unwrap();
    }

    for (streams, events_per_stream) in [(1, 1), (1, 50), (5, 20), (40, 3)] {
        let (result, sent) = exchanges_of(
            &log,
            store.append_streams(&new_streams(streams, events_per_stream)),
        )
        .await;
        result.unwrap();
        eprintln!("a save of {streams} stream(s) of {events_per_stream} event(s) sent {sent:?}");
        assert_eq!(
            sent.first(),
            Some(&Exchange::Execute),
            "nothing precedes the statement: {sent:?}"
        );
        assert_eq!(
            sent.iter().filter(|e| **e != Exchange::Ping).count(),
            1,
            "{sent:?}"
        );
    }

    // A save refused for a conflict is one round trip too.
    let id = Uuid::new_v4();
    store
        .append(ExpectedVersion::NoStream, vec![event_for(id, "Order", 1, None)])
        .await
        .unwrap();
    let again = store.append(ExpectedVersion::NoStream, vec![event_for(id, "Order", 1, None)]);
    let (refused, sent) = exchanges_of(&log, again).await;
    assert!(
        matches!(refused, Err(StoreError::Concurrency { actual: 1, .. })),
        "{refused:?}"
    );
    assert_eq!(sent.first(), Some(&Exchange::Execute));
    assert_eq!(
        sent.iter().filter(|e| **e != Exchange::Ping).count(),
        1,
        "{sent:?}"
    );
}
