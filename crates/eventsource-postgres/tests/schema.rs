//! The schema the migrations create: the guide's table and indexes, applied
//! idempotently through the same entry points the CLI uses.

mod support;

use eventsource::{EventStore, StoreError};
use eventsource_postgres::PostgresEventStore;
use support::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_by_url_migrates_and_opening_again_changes_nothing() {
    let database = TestDatabase::create().await;
    let first = PostgresEventStore::open(&database.url())
        .await
        .expect("open connects and migrates");
    let second = PostgresEventStore::open(&database.url())
        .await
        .expect("migrating again is a no-op");
    second.migrate().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(first.pool())
        .await
        .unwrap();
    assert_eq!(applied, 7);
    assert_eq!(second.current_position().await.unwrap(), None);

    let connected = PostgresEventStore::connect(&database.url()).await.unwrap();
    assert_eq!(
        connected.count(&eventsource::EventFilter::all()).await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_does_not_migrate() {
    let database = TestDatabase::create().await;
    let store = PostgresEventStore::connect(&database.url()).await.unwrap();
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'events'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(tables, 0);
    assert!(matches!(
        store.current_position().await,
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_url_is_an_invalid_argument() {
    let result = PostgresEventStore::connect("postgres://host:notaport/db").await;
    assert!(
        matches!(result, Err(StoreError::InvalidArgument(_))),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_fails_at_once_with_the_reason() {
    // Port 1 on loopback: nothing listens there.
    let started = std::time::Instant::now();
    let result = PostgresEventStore::connect("postgres://postgres@127.0.0.1:1/events").await;
    let Err(StoreError::Backend(error)) = result else {
        panic!("expected a backend error, got {result:?}")
    };
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(error.to_string().contains("refused"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_table_has_the_guides_columns_constraint_and_indexes() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;

    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_name = 'events' ORDER BY ordinal_position",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let expected = [
        ("global_position", "bigint", "NO"),
        ("event_id", "uuid", "NO"),
        ("aggregate_id", "uuid", "NO"),
        ("aggregate_type", "character varying", "NO"),
        ("event_type", "character varying", "NO"),
        ("tenant_id", "uuid", "YES"),
        ("actor_id", "character varying", "YES"),
        ("version", "integer", "NO"),
        ("timestamp", "timestamp with time zone", "NO"),
        ("payload", "json", "NO"),
        ("created_at", "timestamp with time zone", "NO"),
        ("event_version", "integer", "NO"),
        ("correlation_id", "uuid", "NO"),
        ("causation_id", "uuid", "YES"),
        ("metadata", "json", "NO"),
    ];
    let columns: Vec<(&str, &str, &str)> = columns
        .iter()
        .map(|(n, t, null)| (n.as_str(), t.as_str(), null.as_str()))
        .collect();
    assert_eq!(columns, expected);

    let indexes: Vec<(String, String)> =
        sqlx::query_as("SELECT indexname::text, indexdef FROM pg_indexes WHERE tablename = 'events'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let definition = |name: &str| {
        indexes
            .iter()
            .find(|(index, _)| index == name)
            .map(|(_, definition)| definition.clone())
            .unwrap_or_else(|| panic!("index {name} is missing: {indexes:?}"))
    };
    assert!(definition("events_pkey").ends_with("(global_position)"));
    assert!(definition("events_event_id_key").starts_with("CREATE UNIQUE INDEX"));
    assert!(definition("events_aggregate_id_aggregate_type_version_key")
        .ends_with("UNIQUE INDEX events_aggregate_id_aggregate_type_version_key ON public.events USING btree (aggregate_id, aggregate_type, version)"));
    assert!(definition("idx_events_tenant_id").ends_with("(tenant_id) WHERE (tenant_id IS NOT NULL)"));
    assert!(definition("idx_events_type_tenant_timestamp")
        .ends_with("(aggregate_type, tenant_id, \"timestamp\")"));
    assert!(definition("idx_events_tenant_position")
        .ends_with("(tenant_id, global_position) WHERE (tenant_id IS NOT NULL)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_and_snapshots_have_their_tables_and_appends_notify() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;

    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename IN \
         ('projection_documents', 'projection_checkpoints', 'projection_dead_letters', 'snapshots') \
         ORDER BY indexname",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let has = |suffix: &str| {
        assert!(
            indexes.iter().any(|definition| definition.ends_with(suffix)),
            "no index ending {suffix:?} in {indexes:#?}"
        )
    };
    has("projection_checkpoints USING btree (projection)");
    has("projection_dead_letters USING btree (id)");
    has("projection_dead_letters USING btree (projection, event_id)");
    has("projection_dead_letters USING btree (projection, \"position\")");
    has("projection_documents USING btree (projection, tenant_key, key)");
    has("snapshots USING btree (aggregate_id, aggregate_type)");

    // Documents without a tenant share one key ('').
    let tenant_keys: Vec<String> = sqlx::query_scalar(
        "INSERT INTO projection_documents (projection, tenant_id, key, value) \
         VALUES ('p', NULL, 'k', '1'), ('p', '8a6e0804-2bd0-4672-b79d-d97027f9071b', 'k', '2') \
         RETURNING tenant_key",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(tenant_keys, ["", "8a6e0804-2bd0-4672-b79d-d97027f9071b"]);
    let duplicate =
        sqlx::query("INSERT INTO projection_documents (projection, key, value) VALUES ('p', 'k', '3')")
            .execute(store.pool())
            .await;
    assert!(
        duplicate.is_err(),
        "a second untenanted document under the same key"
    );

    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT tgname::text FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal ORDER BY tgname",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(triggers, ["events_notify_appends", "events_serialise_appends"]);
}
