//! The in-memory event store: the reference implementation of the contract,
//! for tests and examples. Everything lives in one process and is lost when
//! it ends.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use futures::stream::BoxStream;
use uuid::Uuid;

use super::feed::paged_feed;
use super::{
    check_expected_version, validate_writes, AppendResult, EventFilter, EventStore, ExpectedVersion,
    ReadAllOptions, StoreError, StoreResult, StreamId, StreamWrite, TenantFilter, TenantStats,
};
use crate::event::{RawEvent, StoredEvent};
use crate::tenant::TenantId;

#[derive(Default)]
struct Log {
    /// Every event; the event at index `i` has position `i + 1`.
    events: Vec<StoredEvent>,
    /// Index into `events` of each stream's events, in version order.
    streams: HashMap<StreamId, Vec<usize>>,
    event_ids: HashSet<Uuid>,
}

impl Log {
    fn stream_after(&self, stream: &StreamId, after_version: u64) -> Vec<StoredEvent> {
        let indexes = self.streams.get(stream).map(Vec::as_slice).unwrap_or_default();
        let after = usize::try_from(after_version)
            .unwrap_or(usize::MAX)
            .min(indexes.len());
        indexes[after..]
            .iter()
            .map(|&index| self.events[index].clone())
            .collect()
    }

    fn first_event_tenant(&self, stream: &StreamId) -> Option<Option<TenantId>> {
        self.streams
            .get(stream)
            .and_then(|indexes| indexes.first())
            .map(|&index| self.events[index].event.envelope.tenant_id)
    }
}

/// An event store held in memory. Cloning it shares the same events.
#[derive(Clone, Default)]
pub struct InMemoryEventStore {
    log: Arc<RwLock<Log>>,
    appended: Arc<tokio::sync::Notify>,
}

impl InMemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        // A panic while holding the lock cannot leave the log half-written:
        // appends check everything before they change anything.
        self.log.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Log> {
        self.log.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks every write, then stores them all (moving owned events in).
    fn insert(&self, writes: Cow<'_, [StreamWrite]>) -> StoreResult<AppendResult> {
        let streams = validate_writes(&writes)?;
        let mut log = self.write();

        for (stream, write) in streams.iter().zip(writes.iter()) {
            let actual = log.streams.get(stream).map_or(0, Vec::len) as u64;
            check_expected_version(stream, write, actual)?;
            if let Some(event) = write
                .events
                .iter()
                .find(|e| log.event_ids.contains(&e.envelope.event_id))
            {
                return Err(StoreError::DuplicateEvent {
                    event_id: event.envelope.event_id,
                });
            }
        }

        let total: usize = writes.iter().map(|write| write.events.len()).sum();
        let batches: Vec<Vec<RawEvent>> = match writes {
            Cow::Borrowed(writes) => writes.iter().map(|write| write.events.clone()).collect(),
            Cow::Owned(writes) => writes.into_iter().map(|write| write.events).collect(),
        };
        let mut positions = Vec::with_capacity(total);
        log.events.reserve(total);
        log.event_ids.reserve(total);
        for (stream, events) in streams.into_iter().zip(batches) {
            let first = log.events.len();
            for event in events {
                let position = log.events.len() as u64 + 1;
                log.event_ids.insert(event.envelope.event_id);
                log.events.push(StoredEvent { position, event });
                positions.push(position);
            }
            let last = log.events.len();
            log.streams.entry(stream).or_default().extend(first..last);
        }
        drop(log);
        self.appended.notify_waiters();
        Ok(AppendResult { positions })
    }

    fn page(&self, filter: &EventFilter, after: Option<u64>, size: usize) -> Vec<StoredEvent> {
        let log = self.read();
        let start = after.unwrap_or(0) as usize;
        log.events
            .iter()
            .skip(start)
            .filter(|stored| filter.matches(&stored.event))
            .take(size)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl EventStore for InMemoryEventStore {
    async fn append_streams(&self, writes: &[StreamWrite]) -> StoreResult<AppendResult> {
        self.insert(Cow::Borrowed(writes))
    }

    async fn append(&self, expected: ExpectedVersion, events: Vec<RawEvent>) -> StoreResult<AppendResult> {
        // The caller gives the events away: they are moved into the log,
        // not copied.
        self.insert(Cow::Owned(vec![StreamWrite { expected, events }]))
    }

    async fn wait_for_events(&self, after: Option<u64>, max_wait: std::time::Duration) -> StoreResult<()> {
        let appended = self.appended.notified();
        if self.read().events.len() as u64 > after.unwrap_or(0) {
            return Ok(());
        }
        let _ = tokio::time::timeout(max_wait, appended).await;
        Ok(())
    }

    async fn read_stream(&self, stream: &StreamId, after_version: u64) -> StoreResult<Vec<StoredEvent>> {
        Ok(self.read().stream_after(stream, after_version))
    }

    async fn read_stream_of_tenant(
        &self,
        stream: &StreamId,
        after_version: u64,
        tenant: TenantId,
    ) -> StoreResult<Vec<StoredEvent>> {
        let log = self.read();
        if log.first_event_tenant(stream) != Some(Some(tenant)) {
            return Ok(Vec::new());
        }
        Ok(log.stream_after(stream, after_version))
    }

    async fn stream_version(&self, stream: &StreamId) -> StoreResult<u64> {
        Ok(self.read().streams.get(stream).map_or(0, Vec::len) as u64)
    }

    async fn first_event_tenant(&self, stream: &StreamId) -> StoreResult<Option<Option<TenantId>>> {
        Ok(self.read().first_event_tenant(stream))
    }

    async fn aggregate_types_of(&self, aggregate_id: Uuid, tenant: TenantFilter) -> StoreResult<Vec<String>> {
        let log = self.read();
        let mut types: Vec<String> = log
            .streams
            .iter()
            .filter(|(stream, indexes)| {
                stream.aggregate_id == aggregate_id
                    && indexes
                        .iter()
                        .any(|&i| tenant.admits(log.events[i].event.envelope.tenant_id))
            })
            .map(|(stream, _)| stream.aggregate_type.clone())
            .collect();
        types.sort();
        Ok(types)
    }

    fn read_all(&self, options: ReadAllOptions) -> BoxStream<'_, StoreResult<StoredEvent>> {
        let filter = options.filter.clone();
        paged_feed(options, move |after, size| {
            let page = self.page(&filter, after, size);
            async move { Ok(page) }
        })
    }

    async fn existing_event_ids(&self, event_ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
        let log = self.read();
        Ok(event_ids
            .iter()
            .copied()
            .filter(|id| log.event_ids.contains(id))
            .collect())
    }

    async fn count(&self, filter: &EventFilter) -> StoreResult<u64> {
        Ok(self
            .read()
            .events
            .iter()
            .filter(|stored| filter.matches(&stored.event))
            .count() as u64)
    }

    async fn current_position(&self) -> StoreResult<Option<u64>> {
        Ok(self.read().events.last().map(|stored| stored.position))
    }

    async fn tenant_stats(&self) -> StoreResult<Vec<TenantStats>> {
        #[derive(Default)]
        struct Tally {
            events: u64,
            aggregates: HashSet<StreamId>,
            by_type: BTreeMap<String, u64>,
        }

        let log = self.read();
        let mut tallies: BTreeMap<Option<TenantId>, Tally> = BTreeMap::new();
        for stored in &log.events {
            let envelope = &stored.event.envelope;
            let tally = tallies.entry(envelope.tenant_id).or_default();
            tally.events += 1;
            tally.aggregates.insert(StreamId::of(&stored.event));
            *tally.by_type.entry(envelope.aggregate_type.clone()).or_default() += 1;
        }
        let mut stats: Vec<TenantStats> = tallies
            .into_iter()
            .map(|(tenant_id, tally)| TenantStats {
                tenant_id,
                events: tally.events,
                aggregates: tally.aggregates.len() as u64,
                by_aggregate_type: tally.by_type.into_iter().collect(),
            })
            .collect();
        // `None` sorts first in a BTreeMap; the contract puts it last.
        let no_tenant_first = stats.first().is_some_and(|s| s.tenant_id.is_none());
        stats.rotate_left(usize::from(no_tenant_first));
        Ok(stats)
    }
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use super::InMemoryEventStore;
    use crate::testing::StoreFixture;

    struct InMemory(Arc<InMemoryEventStore>);

    #[async_trait::async_trait]
    impl StoreFixture for InMemory {
        type Store = InMemoryEventStore;

        async fn setup() -> Self {
            Self(Arc::new(InMemoryEventStore::new()))
        }

        fn store(&self) -> Arc<InMemoryEventStore> {
            Arc::clone(&self.0)
        }
    }

    crate::event_store_conformance!(InMemory);
}
