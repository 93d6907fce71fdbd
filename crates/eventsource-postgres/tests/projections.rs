//! What the PostgreSQL projection store guarantees beyond the conformance
//! suite: its lock lives in the database (so it serialises processes, not
//! only tasks) and is a key space apart from appends; documents keep their
//! exact JSON and sort by code point whatever the database collation; what
//! text cannot hold is refused without spoiling the transaction.

mod support;

use std::time::Duration;

use chrono::Utc;
use eventsource::projection::ProjectionStore;
use eventsource::testing::event_for;
use eventsource::{
    EventStore, ExpectedVersion, StoreError, StoredEvent, StreamWrite, TenantFilter, TenantId,
};
use eventsource_postgres::{PostgresEventStore, PostgresProjectionStore};
use serde_json::{json, Value};
use support::TestDatabase;
use uuid::Uuid;

/// Long enough for a task that is not blocked to have finished.
const SETTLE: Duration = Duration::from_millis(300);

/// A bound on anything that must not be blocked.
const PROMPT: Duration = Duration::from_secs(5);

fn stored(position: u64, tenant: Option<TenantId>) -> StoredEvent {
    StoredEvent {
        position,
        event: event_for(Uuid::new_v4(), "Order", 1, tenant),
    }
}

/// A migrated event store on `database` whose sessions default to
/// `REPEATABLE READ`, as a server may be configured.
async fn repeatable_read_store(database: &TestDatabase) -> PostgresEventStore {
    let options = database
        .options()
        // The server splits options at spaces unless escaped.
        .options([("default_transaction_isolation", r"repeatable\ read")]);
    let store = PostgresEventStore::from_pool(database.pool_with(options, 2).await);
    store.migrate().await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_waits_for_the_projections_open_transaction_then_reads_its_checkpoint() {
    let database = TestDatabase::create().await;
    // Two stores on two pools stand for two processes. Their sessions
    // default to REPEATABLE READ, under which a snapshot taken before the
    // lock was granted would miss the checkpoint committed meanwhile.
    let first = PostgresProjectionStore::new(&repeatable_read_store(&database).await);
    let second = PostgresProjectionStore::new(&repeatable_read_store(&database).await);

    let mut open = first.begin("orders").await.unwrap();
    let waiting = tokio::spawn(async move {
        let mut tx = second.begin("orders").await.unwrap();
        tx.checkpoint_position().await.unwrap()
    });
    tokio::time::sleep(SETTLE).await;
    assert!(
        !waiting.is_finished(),
        "the other process must wait for the open transaction"
    );

    open.advance_checkpoint(40, 40).await.unwrap();
    open.commit().await.unwrap();
    let seen = tokio::time::timeout(PROMPT, waiting).await.unwrap().unwrap();
    assert_eq!(seen, Some(40), "it reads the checkpoint committed before it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_of_different_projections_and_appends_do_not_wait_for_each_other() {
    let database = TestDatabase::create().await;
    let events = database.store(4).await;
    let models = PostgresProjectionStore::new(&events);

    let _orders = models.begin("orders").await.unwrap();
    let mut stats = tokio::time::timeout(PROMPT, models.begin("stats"))
        .await
        .expect("another projection does not wait")
        .unwrap();
    stats.put(None, "k", &json!(1)).await.unwrap();

    // An append while a projection transaction is open, and a projection
    // transaction while an append's transaction holds the append lock.
    let id = Uuid::new_v4();
    tokio::time::timeout(
        PROMPT,
        events.append(ExpectedVersion::NoStream, vec![event_for(id, "Order", 1, None)]),
    )
    .await
    .expect("appends do not wait for projections")
    .unwrap();
    let mut appending = events.pool().begin().await.unwrap();
    let write = StreamWrite {
        expected: ExpectedVersion::Exact(1),
        events: vec![event_for(id, "Order", 2, None)],
    };
    events.append_in(&mut appending, &[write]).await.unwrap();
    let mut reports = tokio::time::timeout(PROMPT, models.begin("reports"))
        .await
        .expect("projections do not wait for appends")
        .unwrap();
    reports.advance_checkpoint(1, 1).await.unwrap();
    reports.commit().await.unwrap();
    stats.commit().await.unwrap();
    appending.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_waits_for_the_open_transaction_of_its_projection() {
    let database = TestDatabase::create().await;
    let models = PostgresProjectionStore::new(&database.store(3).await);

    let mut open = models.begin("orders").await.unwrap();
    open.put(None, "k", &json!("late")).await.unwrap();
    open.advance_checkpoint(9, 9).await.unwrap();
    let reset = {
        let models = models.clone();
        tokio::spawn(async move { models.reset("orders").await })
    };
    tokio::time::sleep(SETTLE).await;
    assert!(!reset.is_finished(), "a reset waits for the batch under way");

    open.commit().await.unwrap();
    tokio::time::timeout(PROMPT, reset)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(models.document("orders", None, "k").await.unwrap(), None);
    assert!(models.checkpoint("orders").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_releases_its_lock_at_once() {
    let database = TestDatabase::create().await;
    let models = PostgresProjectionStore::new(&database.store(2).await);
    for _ in 0..3 {
        let mut tx = tokio::time::timeout(PROMPT, models.begin("orders"))
            .await
            .expect("the lock of the dropped transaction is free")
            .unwrap();
        tx.put(None, "k", &json!(1)).await.unwrap();
    }
    assert_eq!(models.document("orders", None, "k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_keep_their_exact_json() {
    let database = TestDatabase::create().await;
    let events = database.store(2).await;
    let models = PostgresProjectionStore::new(&events);
    let written = r#"{"z":1,"a":{"big":123456789012345678901234567890,"fine":0.1000000000000000000000000001},"nul":"a\u0000b","emoji":"👩‍💻","e":1e400}"#;
    let value: Value = serde_json::from_str(written).unwrap();
    // The text serde_json writes for it (it spells the exponent `1e+400`).
    let text = value.to_string();

    let mut tx = models.begin("orders").await.unwrap();
    tx.put(None, "exact", &value).await.unwrap();
    assert_eq!(tx.get(None, "exact").await.unwrap().unwrap().to_string(), text);
    tx.commit().await.unwrap();

    let stored: String = sqlx::query_scalar("SELECT value::text FROM projection_documents")
        .fetch_one(events.pool())
        .await
        .unwrap();
    assert_eq!(stored, text, "the database keeps key order and digits as written");
    let read = models.document("orders", None, "exact").await.unwrap().unwrap();
    assert_eq!(read.to_string(), text);
    let listed = models.documents("orders", TenantFilter::Any).await.unwrap();
    assert_eq!(listed[0].value.to_string(), text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_sort_by_code_point_whatever_the_database_collation() {
    // An ICU English collation sorts "a" before "B"; code points do not.
    let database =
        TestDatabase::create_with("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'")
            .await;
    let models = PostgresProjectionStore::new(&database.store(2).await);
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());

    let mut tx = models.begin("b").await.unwrap();
    for key in ["a", "B", "é", "_", "Z"] {
        tx.put(Some(acme), key, &json!(key)).await.unwrap();
    }
    tx.put(Some(globex), "a", &json!("globex")).await.unwrap();
    tx.put(None, "a", &json!("none")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = models.begin("a").await.unwrap();
    tx.advance_checkpoint(1, 1).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = models.begin("B").await.unwrap();
    tx.advance_checkpoint(1, 1).await.unwrap();
    tx.commit().await.unwrap();

    let keys: Vec<String> = models
        .documents("b", TenantFilter::Tenant(acme))
        .await
        .unwrap()
        .into_iter()
        .map(|document| document.key)
        .collect();
    let mut expected = ["a", "B", "é", "_", "Z"].map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(keys, expected);

    // Within a key: no tenant first, then tenants in id order.
    let owners: Vec<Option<TenantId>> = models
        .documents("b", TenantFilter::Any)
        .await
        .unwrap()
        .into_iter()
        .filter(|document| document.key == "a")
        .map(|document| document.tenant_id)
        .collect();
    let mut tenants = [acme, globex];
    tenants.sort();
    assert_eq!(
        owners,
        [None, Some(tenants[0]), Some(tenants[1])],
        "the same order as in memory"
    );

    let names: Vec<String> = models
        .checkpoints()
        .await
        .unwrap()
        .into_iter()
        .map(|checkpoint| checkpoint.projection)
        .collect();
    assert_eq!(names, ["B", "a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_key_is_refused_without_spoiling_the_transaction() {
    let database = TestDatabase::create().await;
    let models = PostgresProjectionStore::new(&database.store(2).await);

    let mut tx = models.begin("orders").await.unwrap();
    for refused in [
        tx.put(None, "a\0b", &json!(1)).await,
        tx.delete(None, "a\0b").await,
        tx.get(None, "a\0b").await.map(|_| ()),
    ] {
        assert!(
            matches!(refused, Err(StoreError::InvalidArgument(_))),
            "{refused:?}"
        );
    }
    tx.put(None, "fine", &json!(1)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        models.document("orders", None, "fine").await.unwrap(),
        Some(json!(1))
    );
    assert!(matches!(
        models.begin("or\0ders").await,
        Err(StoreError::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_error_text_can_be_parked() {
    let database = TestDatabase::create().await;
    let models = PostgresProjectionStore::new(&database.store(2).await);
    let tenant = Some(TenantId::new_random());

    let mut tx = models.begin("orders").await.unwrap();
    tx.park(
        &stored(3, tenant),
        "bad byte \0 here, ünïcødé",
        u32::MAX,
        Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let letter = &models.dead_letters(None).await.unwrap()[0];
    assert_eq!(
        letter.error, "bad byte \u{fffd} here, ünïcødé",
        "a NUL, which text cannot hold, is replaced"
    );
    assert_eq!(
        letter.attempts,
        i32::MAX as u32,
        "attempts are capped by the column"
    );
    assert_eq!(letter.tenant_id, tenant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_stop_growing_at_the_columns_limit() {
    let database = TestDatabase::create().await;
    let models = PostgresProjectionStore::new(&database.store(2).await);
    let event = stored(3, None);
    for attempts in [i32::MAX as u32 - 1, 5] {
        let mut tx = models.begin("orders").await.unwrap();
        tx.park(&event, "boom", attempts, Utc::now()).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        models.dead_letters(Some("orders")).await.unwrap()[0].attempts,
        i32::MAX as u32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_back_without_a_savepoint_is_refused() {
    let database = TestDatabase::create().await;
    let models = PostgresProjectionStore::new(&database.store(2).await);
    let mut tx = models.begin("orders").await.unwrap();
    tx.put(None, "k", &json!(1)).await.unwrap();
    assert!(matches!(
        tx.rollback_to_savepoint().await,
        Err(StoreError::InvalidArgument(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_back_undoes_only_the_changes_since_the_last_of_many_savepoints() {
    let database = TestDatabase::create().await;
    let models = PostgresProjectionStore::new(&database.store(2).await);
    let mut tx = models.begin("orders").await.unwrap();
    for n in 0..50 {
        tx.savepoint().await.unwrap();
        tx.put(None, &format!("k{n}"), &json!(n)).await.unwrap();
    }
    tx.rollback_to_savepoint().await.unwrap();
    tx.commit().await.unwrap();
    let documents = models.documents("orders", TenantFilter::Any).await.unwrap();
    assert_eq!(documents.len(), 49, "only the last event's change is undone");
    assert!(documents.iter().all(|document| document.key != "k49"));
}
