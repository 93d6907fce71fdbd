//! The conformance checks of snapshot stores. Each takes a fresh store.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::snapshot::{Snapshot, SnapshotStore};
use crate::store::StreamId;
use crate::tenant::TenantId;

type Store = Arc<dyn SnapshotStore>;

fn snapshot(stream: &StreamId, version: u64) -> Snapshot {
    Snapshot {
        stream: stream.clone(),
        tenant_id: Some(TenantId::new_random()),
        version,
        schema_version: 3,
        state: json!({"total": "12345678901234567890.123", "items": ["ü", {"n": 1}]}),
        taken_at: Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
            + chrono::Duration::microseconds(654_321),
    }
}

/// A saved snapshot loads back field for field.
pub async fn a_snapshot_round_trips(store: Store) {
    let stream = StreamId::new(Uuid::new_v4(), "Order");
    let saved = snapshot(&stream, 10);
    store.save(&saved).await.unwrap();
    assert_eq!(store.load(&stream).await.unwrap(), Some(saved));
    assert_eq!(
        store
            .load(&StreamId::new(stream.aggregate_id, "Task"))
            .await
            .unwrap(),
        None,
        "keyed by stream"
    );
}

/// A newer snapshot replaces an older one; an older one is ignored.
pub async fn only_the_newest_snapshot_is_kept(store: Store) {
    let stream = StreamId::new(Uuid::new_v4(), "Order");
    store.save(&snapshot(&stream, 10)).await.unwrap();
    store.save(&snapshot(&stream, 20)).await.unwrap();
    store.save(&snapshot(&stream, 15)).await.unwrap();
    assert_eq!(store.load(&stream).await.unwrap().unwrap().version, 20);
}

/// Deleting removes one stream's snapshot only.
pub async fn deleting_removes_one_streams_snapshot(store: Store) {
    let (first, second) = (
        StreamId::new(Uuid::new_v4(), "Order"),
        StreamId::new(Uuid::new_v4(), "Order"),
    );
    store.save(&snapshot(&first, 1)).await.unwrap();
    store.save(&snapshot(&second, 1)).await.unwrap();
    store.delete(&first).await.unwrap();
    store.delete(&first).await.unwrap();
    assert!(store.load(&first).await.unwrap().is_none());
    assert!(store.load(&second).await.unwrap().is_some());
}
