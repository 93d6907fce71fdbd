//! The conformance checks of projection stores (documents, checkpoints and
//! dead letters), one public function per guarantee. Each takes a fresh,
//! empty store.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::fixtures::event_for;
use crate::event::StoredEvent;
use crate::projection::{Document, DocumentKey, ProjectionStore};
use crate::store::TenantFilter;
use crate::tenant::TenantId;

type Store = Arc<dyn ProjectionStore>;

fn stored(position: u64, tenant: Option<TenantId>) -> StoredEvent {
    StoredEvent {
        position,
        event: event_for(Uuid::new_v4(), "Order", 1, tenant),
    }
}

/// Documents, dead letters and the checkpoint of a transaction become
/// visible together on commit.
pub async fn a_committed_transaction_is_visible_whole(store: Store) {
    let tenant = Some(TenantId::new_random());
    let mut tx = store.begin("orders").await.unwrap();
    tx.put(tenant, "a", &json!({"count": 1})).await.unwrap();
    tx.park(&stored(3, tenant), "boom", 2, Utc::now()).await.unwrap();
    tx.advance_checkpoint(5, 4).await.unwrap();
    assert_eq!(
        tx.get(tenant, "a").await.unwrap(),
        Some(json!({"count": 1})),
        "a transaction sees its writes"
    );
    assert_eq!(
        store.document("orders", tenant, "a").await.unwrap(),
        None,
        "nothing visible before commit"
    );
    assert!(store.checkpoint("orders").await.unwrap().is_none());
    tx.commit().await.unwrap();

    assert_eq!(
        store.document("orders", tenant, "a").await.unwrap(),
        Some(json!({"count": 1}))
    );
    let checkpoint = store.checkpoint("orders").await.unwrap().expect("a checkpoint");
    assert_eq!((checkpoint.position, checkpoint.events_processed), (5, 4));
    assert_eq!(store.dead_letters(Some("orders")).await.unwrap().len(), 1);
}

/// A transaction dropped without commit leaves nothing behind.
pub async fn a_dropped_transaction_changes_nothing(store: Store) {
    {
        let mut tx = store.begin("orders").await.unwrap();
        tx.put(None, "a", &json!(1)).await.unwrap();
        tx.park(&stored(1, None), "boom", 1, Utc::now()).await.unwrap();
        tx.advance_checkpoint(9, 9).await.unwrap();
    }
    assert_eq!(store.document("orders", None, "a").await.unwrap(), None);
    assert!(store.checkpoint("orders").await.unwrap().is_none());
    assert!(store.dead_letters(None).await.unwrap().is_empty());
    // The store is still usable afterwards.
    let mut tx = store.begin("orders").await.unwrap();
    tx.put(None, "b", &json!(2)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.document("orders", None, "b").await.unwrap(), Some(json!(2)));
}

/// Rolling back to the savepoint undoes exactly the changes made after it.
pub async fn rolling_back_to_the_savepoint_undoes_only_later_changes(store: Store) {
    let mut tx = store.begin("orders").await.unwrap();
    tx.put(None, "kept", &json!("before")).await.unwrap();
    tx.savepoint().await.unwrap();
    tx.put(None, "kept", &json!("after")).await.unwrap();
    tx.put(None, "undone", &json!(true)).await.unwrap();
    tx.rollback_to_savepoint().await.unwrap();
    assert_eq!(tx.get(None, "kept").await.unwrap(), Some(json!("before")));
    assert_eq!(tx.get(None, "undone").await.unwrap(), None);
    // A second savepoint on the same transaction works the same way.
    tx.savepoint().await.unwrap();
    tx.delete(None, "kept").await.unwrap();
    tx.rollback_to_savepoint().await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.document("orders", None, "kept").await.unwrap(),
        Some(json!("before"))
    );
    assert_eq!(store.document("orders", None, "undone").await.unwrap(), None);
}

/// Documents are keyed by projection, tenant and key; listing filters by
/// tenant with the three-valued filter.
pub async fn documents_are_separated_by_projection_and_tenant(store: Store) {
    let (acme, globex) = (TenantId::new_random(), TenantId::new_random());
    let mut tx = store.begin("orders").await.unwrap();
    tx.put(Some(acme), "k", &json!("acme")).await.unwrap();
    tx.put(Some(globex), "k", &json!("globex")).await.unwrap();
    tx.put(None, "k", &json!("none")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin("other").await.unwrap();
    tx.put(Some(acme), "k", &json!("other projection")).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        store.document("orders", Some(acme), "k").await.unwrap(),
        Some(json!("acme"))
    );
    assert_eq!(
        store.document("orders", Some(globex), "k").await.unwrap(),
        Some(json!("globex"))
    );
    assert_eq!(
        store.document("other", Some(acme), "k").await.unwrap(),
        Some(json!("other projection"))
    );
    let acme_only = store
        .documents("orders", TenantFilter::Tenant(acme))
        .await
        .unwrap();
    assert_eq!(acme_only.len(), 1);
    assert_eq!(acme_only[0].value, json!("acme"));
    let untenanted = store.documents("orders", TenantFilter::NoTenant).await.unwrap();
    assert_eq!(untenanted.len(), 1);
    assert_eq!(untenanted[0].tenant_id, None);
    assert_eq!(
        store.documents("orders", TenantFilter::Any).await.unwrap().len(),
        3
    );

    let mut tx = store.begin("orders").await.unwrap();
    tx.delete(Some(acme), "k").await.unwrap();
    tx.delete(Some(acme), "never-there").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.document("orders", Some(acme), "k").await.unwrap(), None);
    assert_eq!(
        store.document("orders", Some(globex), "k").await.unwrap(),
        Some(json!("globex"))
    );
}

/// The checkpoint only moves forward and counts processed events across
/// commits; each projection has its own.
pub async fn checkpoints_accumulate_per_projection(store: Store) {
    for (position, processed) in [(10, 10), (25, 7)] {
        let mut tx = store.begin("orders").await.unwrap();
        tx.advance_checkpoint(position, processed).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = store.begin("stats").await.unwrap();
    tx.advance_checkpoint(3, 3).await.unwrap();
    tx.commit().await.unwrap();

    let orders = store.checkpoint("orders").await.unwrap().unwrap();
    assert_eq!((orders.position, orders.events_processed), (25, 17));
    assert!(orders.updated_at <= Utc::now());
    let names: Vec<String> = store
        .checkpoints()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.projection)
        .collect();
    assert_eq!(names, ["orders", "stats"]);
    assert!(store.checkpoint("unknown").await.unwrap().is_none());
}

/// Parking the same event again updates its dead letter: attempts add up,
/// the error and last failure are replaced, the first failure stays.
pub async fn parking_again_updates_the_dead_letter(store: Store) {
    let tenant = Some(TenantId::new_random());
    let event = stored(42, tenant);
    let first = Utc::now() - chrono::Duration::seconds(60);
    let mut tx = store.begin("orders").await.unwrap();
    tx.park(&event, "first error", 3, first).await.unwrap();
    tx.commit().await.unwrap();
    let later = Utc::now();
    let mut tx = store.begin("orders").await.unwrap();
    tx.park(&event, "second error", 1, later).await.unwrap();
    tx.commit().await.unwrap();

    let letters = store.dead_letters(Some("orders")).await.unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(
        (letter.position, letter.event_id),
        (42, event.event.envelope.event_id)
    );
    assert_eq!(
        (letter.event_type.as_str(), letter.tenant_id),
        ("OrderChanged", tenant)
    );
    assert_eq!((letter.attempts, letter.error.as_str()), (4, "second error"));
    assert_eq!(
        letter.first_failed_at.timestamp_micros(),
        first.timestamp_micros()
    );
    assert_eq!(letter.last_failed_at.timestamp_micros(), later.timestamp_micros());
}

/// Dead letters are listed per projection in position order and removed
/// only through a transaction of their own projection.
pub async fn dead_letters_are_listed_and_removed_per_projection(store: Store) {
    let mut tx = store.begin("orders").await.unwrap();
    tx.park(&stored(7, None), "b", 1, Utc::now()).await.unwrap();
    tx.park(&stored(3, None), "a", 1, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin("stats").await.unwrap();
    tx.park(&stored(5, None), "c", 1, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();

    let orders = store.dead_letters(Some("orders")).await.unwrap();
    assert_eq!(orders.iter().map(|l| l.position).collect::<Vec<_>>(), [3, 7]);
    assert_eq!(store.dead_letters(None).await.unwrap().len(), 3);
    let stats_letter = store.dead_letters(Some("stats")).await.unwrap()[0].id;

    let mut tx = store.begin("orders").await.unwrap();
    assert!(
        !tx.remove_dead_letter(stats_letter).await.unwrap(),
        "another projection's letter is not removable"
    );
    assert!(tx.remove_dead_letter(orders[0].id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.dead_letters(Some("orders")).await.unwrap().len(), 1);
    assert_eq!(store.dead_letters(Some("stats")).await.unwrap().len(), 1);
}

/// A reset removes one projection's documents, checkpoint and dead letters
/// and nothing of any other projection.
pub async fn a_reset_clears_one_projection_only(store: Store) {
    for name in ["orders", "stats"] {
        let mut tx = store.begin(name).await.unwrap();
        tx.put(None, "k", &json!(name)).await.unwrap();
        tx.park(&stored(1, None), "x", 1, Utc::now()).await.unwrap();
        tx.advance_checkpoint(4, 4).await.unwrap();
        tx.commit().await.unwrap();
    }
    store.reset("orders").await.unwrap();
    assert!(store
        .documents("orders", TenantFilter::Any)
        .await
        .unwrap()
        .is_empty());
    assert!(store.checkpoint("orders").await.unwrap().is_none());
    assert!(store.dead_letters(Some("orders")).await.unwrap().is_empty());
    assert_eq!(
        store.document("stats", None, "k").await.unwrap(),
        Some(json!("stats"))
    );
    assert!(store.checkpoint("stats").await.unwrap().is_some());
    assert_eq!(store.dead_letters(Some("stats")).await.unwrap().len(), 1);
}

/// A second transaction of the same projection waits until the first
/// ends, and then sees its checkpoint.
pub async fn transactions_of_one_projection_are_serialised(store: Store) {
    let mut first = store.begin("orders").await.unwrap();
    assert_eq!(first.checkpoint_position().await.unwrap(), None);

    let second = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut tx = store.begin("orders").await.unwrap();
            tx.checkpoint_position().await.unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "the second transaction must wait for the first"
    );

    first.advance_checkpoint(12, 12).await.unwrap();
    first.commit().await.unwrap();
    assert_eq!(second.await.unwrap(), Some(12));
}

/// Rolling back with no savepoint set is refused, and the transaction stays
/// usable; advancing twice keeps the highest position.
pub async fn a_rollback_without_savepoint_is_refused_and_checkpoints_never_go_back(store: Store) {
    let mut tx = store.begin("orders").await.unwrap();
    tx.put(None, "kept", &json!(1)).await.unwrap();
    assert!(matches!(
        tx.rollback_to_savepoint().await,
        Err(crate::store::StoreError::InvalidArgument(_))
    ));
    tx.advance_checkpoint(9, 2).await.unwrap();
    tx.advance_checkpoint(4, 1).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.document("orders", None, "kept").await.unwrap(),
        Some(json!(1))
    );
    let checkpoint = store.checkpoint("orders").await.unwrap().unwrap();
    assert_eq!((checkpoint.position, checkpoint.events_processed), (9, 3));
}

fn key(tenant: Option<TenantId>, key: &str) -> DocumentKey {
    DocumentKey {
        tenant_id: tenant,
        key: key.to_owned(),
    }
}

fn document(tenant: Option<TenantId>, key: &str, value: serde_json::Value) -> Document {
    Document {
        tenant_id: tenant,
        key: key.to_owned(),
        value,
    }
}

/// Reading many documents answers each key in the order asked, a key
/// asked twice twice, a missing one with `None`; the same key is a
/// different document for each tenant and for none; the transaction's own
/// writes are seen; nothing asked, nothing answered.
pub async fn reading_many_documents_answers_each_key_in_order(store: Store) {
    let (acme, globex) = (Some(TenantId::new_random()), Some(TenantId::new_random()));
    let mut tx = store.begin("orders").await.unwrap();
    tx.put(acme, "k", &json!("acme")).await.unwrap();
    tx.put(None, "k", &json!("none")).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin("orders").await.unwrap();
    assert!(tx.get_many(&[]).await.unwrap().is_empty());
    tx.put(globex, "k", &json!("globex, uncommitted")).await.unwrap();
    let asked = [
        key(None, "k"),
        key(acme, "missing"),
        key(globex, "k"),
        key(acme, "k"),
        key(None, "k"),
    ];
    assert_eq!(
        tx.get_many(&asked).await.unwrap(),
        [
            Some(json!("none")),
            None,
            Some(json!("globex, uncommitted")),
            Some(json!("acme")),
            Some(json!("none")),
        ]
    );
}

/// Writing many documents writes each tenant's own; of two with the same
/// tenant and key the later wins; they commit with the transaction, and
/// an empty write changes nothing. More documents than one statement of
/// a SQL store holds are written too.
pub async fn writing_many_documents_keeps_the_last_of_each_key(store: Store) {
    let (acme, globex) = (Some(TenantId::new_random()), Some(TenantId::new_random()));
    let mut tx = store.begin("orders").await.unwrap();
    tx.put_many(&[]).await.unwrap();
    tx.put(acme, "k", &json!("stored before")).await.unwrap();
    tx.put_many(&[
        document(acme, "k", json!("acme, first")),
        document(globex, "k", json!("globex")),
        document(None, "k", json!("none")),
        document(acme, "k", json!("acme, last")),
    ])
    .await
    .unwrap();
    assert_eq!(tx.get(acme, "k").await.unwrap(), Some(json!("acme, last")));
    let many: Vec<Document> = (0..450)
        .map(|n| document(globex, &format!("many-{n}"), json!({ "n": n })))
        .collect();
    tx.put_many(&many).await.unwrap();
    tx.commit().await.unwrap();

    for (tenant, expected) in [(acme, "acme, last"), (globex, "globex"), (None, "none")] {
        assert_eq!(
            store.document("orders", tenant, "k").await.unwrap(),
            Some(json!(expected))
        );
    }
    let mut tx = store.begin("orders").await.unwrap();
    let keys: Vec<DocumentKey> = many.iter().map(|d| key(d.tenant_id, &d.key)).collect();
    let values = tx.get_many(&keys).await.unwrap();
    let expected: Vec<Option<serde_json::Value>> = many.into_iter().map(|d| Some(d.value)).collect();
    assert!(values == expected, "every one of many documents reads back");
}

/// Deleting many documents removes exactly those keys of those tenants:
/// the transaction sees them gone at once, the commit makes it so; absent
/// keys and an empty list are passed over.
pub async fn deleting_many_documents_removes_only_those(store: Store) {
    let (acme, globex) = (Some(TenantId::new_random()), Some(TenantId::new_random()));
    let mut tx = store.begin("orders").await.unwrap();
    for tenant in [acme, globex, None] {
        tx.put(tenant, "k", &json!("kept")).await.unwrap();
        tx.put(tenant, "gone", &json!("deleted")).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin("orders").await.unwrap();
    tx.delete_many(&[]).await.unwrap();
    let deleted = [
        key(acme, "gone"),
        key(None, "gone"),
        key(acme, "gone"),
        key(acme, "never-there"),
    ];
    tx.delete_many(&deleted).await.unwrap();
    assert_eq!(tx.get(acme, "gone").await.unwrap(), None);
    assert_eq!(
        tx.get_many(&[key(None, "gone"), key(globex, "gone"), key(acme, "k")])
            .await
            .unwrap(),
        [None, Some(json!("deleted")), Some(json!("kept"))]
    );
    tx.commit().await.unwrap();

    assert_eq!(store.document("orders", acme, "gone").await.unwrap(), None);
    assert_eq!(store.document("orders", None, "gone").await.unwrap(), None);
    assert_eq!(
        store.document("orders", globex, "gone").await.unwrap(),
        Some(json!("deleted")),
        "another tenant's document of the same key stays"
    );
    assert_eq!(
        store.documents("orders", TenantFilter::Any).await.unwrap().len(),
        4
    );
}
