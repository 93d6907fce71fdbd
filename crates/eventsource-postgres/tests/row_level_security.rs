//! Tenant isolation the database enforces: with row-level security on, a
//! session of the application role that carries tenant A sees, counts and
//! inserts only A's rows — in hand-written SQL as through the store.

mod support;

use eventsource::testing::event_for;
use eventsource::{
    tenant_scope, EventFilter, EventStore, ExpectedVersion, ReadAllOptions, StoreError, StreamWrite,
    TenantFilter, TenantId,
};
use eventsource_postgres::{PostgresEventStore, TenantIsolation};
use futures::TryStreamExt;
use sqlx::Row;
use support::{grant_app_role, TestDatabase, TestRole};
use uuid::Uuid;

/// SQLSTATE `insufficient_privilege`, which a row-level security refusal
/// raises.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// A database with row-level security on, the owner's store holding three
/// events of tenant A, two of B and one without a tenant, and a store for
/// the application role (a plain login role with only the grants the
/// documentation lists).
struct Isolated {
    owner: PostgresEventStore,
    app: PostgresEventStore,
    a: TenantId,
    b: TenantId,
    // Dropped in this order: the database, then the role granted in it.
    _database: TestDatabase,
    _role: TestRole,
}

async fn isolated() -> Isolated {
    let role = TestRole::create().await;
    let database = TestDatabase::create().await;
    let owner = database.store(4).await;
    grant_app_role(&owner, &role).await;
    owner.enable_tenant_isolation().await.unwrap();
    owner
        .enable_tenant_isolation()
        .await
        .expect("switching it on twice is harmless");

    let (a, b) = (TenantId::new_random(), TenantId::new_random());
    let order_of_a = Uuid::new_v4();
    let streams = [
        vec![
            event_for(order_of_a, "Order", 1, Some(a)),
            event_for(order_of_a, "Order", 2, Some(a)),
        ],
        vec![event_for(Uuid::new_v4(), "Task", 1, Some(a))],
        vec![event_for(Uuid::new_v4(), "Order", 1, Some(b))],
        vec![event_for(Uuid::new_v4(), "Order", 1, Some(b))],
        vec![event_for(Uuid::new_v4(), "Order", 1, None)],
    ];
    let writes: Vec<StreamWrite> = streams
        .into_iter()
        .map(|events| StreamWrite {
            expected: ExpectedVersion::NoStream,
            events,
        })
        .collect();
    owner.append_streams(&writes).await.unwrap();
    let app_pool = database
        .pool_with(database.options().username(&role.name), 4)
        .await;
    Isolated {
        owner,
        app: PostgresEventStore::from_pool(app_pool),
        a,
        b,
        _database: database,
        _role: role,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_written_sql_in_a_tenant_session_sees_counts_and_inserts_only_that_tenants_rows() {
    let db = isolated().await;
    assert_eq!(
        db.owner.count(&EventFilter::all()).await.unwrap(),
        6,
        "the owner is not restricted"
    );

    let mut session = db.app.tenant_transaction(db.a).await.unwrap();
    let rows = sqlx::query("SELECT * FROM events")
        .fetch_all(&mut *session)
        .await
        .unwrap();
    let tenants: Vec<Option<Uuid>> = rows.iter().map(|row| row.get("tenant_id")).collect();
    assert_eq!(
        tenants,
        vec![Some(db.a.as_uuid()); 3],
        "SELECT * returns only A's rows"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *session)
        .await
        .unwrap();
    assert_eq!(count, 3, "count(*) counts only A's rows");
    let b_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE tenant_id = $1")
        .bind(db.b.as_uuid())
        .fetch_one(&mut *session)
        .await
        .unwrap();
    assert_eq!(b_rows, 0, "asking for B by name finds nothing either");

    let insert =
        "INSERT INTO events (event_id, aggregate_id, aggregate_type, event_type, tenant_id, version, \
                  \"timestamp\", payload, correlation_id) \
                  VALUES ($1, $2, 'Order', 'OrderChanged', $3, 1, now(), '{}', $4)";
    let own = sqlx::query(insert)
        .bind(Uuid::new_v4())
        .bind(Uuid::new_v4())
        .bind(db.a.as_uuid())
        .bind(Uuid::new_v4())
        .execute(&mut *session)
        .await;
    assert!(own.is_ok(), "a row of A may be inserted: {own:?}");
    let refused = sqlx::query(insert)
        .bind(Uuid::new_v4())
        .bind(Uuid::new_v4())
        .bind(db.b.as_uuid())
        .bind(Uuid::new_v4())
        .execute(&mut *session)
        .await
        .expect_err("a row of B is refused");
    let code = refused
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some(INSUFFICIENT_PRIVILEGE), "{refused}");
    drop(session);

    // Without a tenant the application role sees nothing at all.
    let mut bare = db.app.pool().acquire().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *bare)
        .await
        .unwrap();
    assert_eq!(count, 0);
    assert_eq!(
        db.owner.count(&EventFilter::all()).await.unwrap(),
        6,
        "the refused insert left nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_in_isolation_mode_carries_the_tenant_of_the_current_scope_into_the_database() {
    let db = isolated().await;
    let app = db.app.clone().with_tenant_isolation();
    assert_eq!(app.isolation(), TenantIsolation::FromContext);

    let (feed, count, stats, of_b) = tenant_scope(db.a, async {
        let feed: Vec<_> = app
            .read_all(ReadAllOptions::default())
            .try_collect()
            .await
            .unwrap();
        let count = app.count(&EventFilter::all()).await.unwrap();
        let stats = app.tenant_stats().await.unwrap();
        let of_b = app
            .count(&EventFilter::tenant(TenantFilter::Tenant(db.b)))
            .await
            .unwrap();
        (feed, count, stats, of_b)
    })
    .await;
    assert_eq!(feed.len(), 3);
    assert!(feed.iter().all(|e| e.event.envelope.tenant_id == Some(db.a)));
    assert_eq!(count, 3);
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].tenant_id, Some(db.a));
    assert_eq!(of_b, 0);

    // Appends of the scope's tenant go through; the store refuses another
    // tenant's events before sending them.
    let mine = event_for(Uuid::new_v4(), "Order", 1, Some(db.a));
    let theirs = event_for(Uuid::new_v4(), "Order", 1, Some(db.b));
    tenant_scope(db.a, app.append(ExpectedVersion::NoStream, vec![mine]))
        .await
        .unwrap();
    let refused = tenant_scope(db.a, app.append(ExpectedVersion::NoStream, vec![theirs.clone()])).await;
    assert!(
        matches!(refused, Err(StoreError::InvalidArgument(_))),
        "{refused:?}"
    );

    // Outside any tenant scope the application role sees nothing.
    assert_eq!(app.count(&EventFilter::all()).await.unwrap(), 0);
    assert_eq!(app.current_position().await.unwrap(), None);
    // A fixed tenant works without a scope.
    let for_b = db.app.clone().for_tenant(db.b);
    assert_eq!(for_b.count(&EventFilter::all()).await.unwrap(), 2);
    assert_eq!(db.owner.count(&EventFilter::all()).await.unwrap(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_another_tenants_event_even_when_the_store_does_not_check() {
    let db = isolated().await;
    // `append_in` on a transaction of tenant A, from a store not in
    // isolation mode: nothing in the library stands in the way.
    let mut session = db.app.tenant_transaction(db.a).await.unwrap();
    let write = StreamWrite {
        expected: ExpectedVersion::NoStream,
        events: vec![event_for(Uuid::new_v4(), "Order", 1, Some(db.b))],
    };
    let refused = db.app.append_in(&mut session, &[write]).await;
    let Err(StoreError::Backend(source)) = refused else {
        panic!("expected the database to refuse, got {refused:?}")
    };
    let code = source
        .downcast_ref::<sqlx::Error>()
        .and_then(|error| error.as_database_error())
        .and_then(|error| error.code())
        .map(|code| code.into_owned());
    assert_eq!(code.as_deref(), Some(INSUFFICIENT_PRIVILEGE), "{source}");
    drop(session);
    assert_eq!(db.owner.count(&EventFilter::all()).await.unwrap(), 6);
}
