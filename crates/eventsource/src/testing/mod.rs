//! The conformance suite every [`EventStore`](crate::EventStore) must pass.
//!
//! A backend crate implements [`StoreFixture`] (how to make a fresh, empty
//! store and how to clean it up) and invokes [`event_store_conformance!`]
//! once; the macro expands to one `#[tokio::test]` per guarantee, so each
//! shows up by name in the test report.
//!
//! ```ignore
//! struct Fixture(Arc<MyStore>);
//! #[async_trait::async_trait]
//! impl eventsource::testing::StoreFixture for Fixture {
//!     type Store = MyStore;
//!     async fn setup() -> Self { Fixture(Arc::new(MyStore::new())) }
//!     fn store(&self) -> Arc<MyStore> { self.0.clone() }
//! }
//! eventsource::event_store_conformance!(Fixture);
//! ```

mod checks;
mod fixtures;
mod projection_checks;
mod snapshot_checks;

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;

use crate::projection::ProjectionStore;
use crate::store::EventStore;

pub use checks::*;
pub use fixtures::{event_for, payload_event};
pub use projection_checks::*;
pub use snapshot_checks::*;

/// A fresh store for one conformance test, and its cleanup.
#[async_trait::async_trait]
pub trait StoreFixture: Send + Sync + Sized + 'static {
    /// The store under test.
    type Store: EventStore + 'static;

    /// Makes a new, empty, migrated store that shares nothing with any
    /// other test.
    async fn setup() -> Self;

    /// The store.
    fn store(&self) -> Arc<Self::Store>;

    /// Removes what `setup` created (a database, a schema, a file). Runs
    /// also when the check failed.
    async fn teardown(self) {}
}

/// Runs one check on a fresh fixture, tearing it down afterwards even when
/// the check panics (the panic is then resumed).
pub async fn run_check<F, C, Fut>(check: C)
where
    F: StoreFixture,
    C: FnOnce(Arc<dyn EventStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let fixture = F::setup().await;
    let store: Arc<dyn EventStore> = fixture.store();
    let outcome = std::panic::AssertUnwindSafe(check(store)).catch_unwind().await;
    fixture.teardown().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A fresh projection store for one conformance test, and its cleanup.
#[async_trait::async_trait]
pub trait ProjectionStoreFixture: Send + Sync + Sized + 'static {
    /// The store under test.
    type Store: ProjectionStore + 'static;

    /// Makes a new, empty, migrated store that shares nothing with any
    /// other test.
    async fn setup() -> Self;

    /// The store.
    fn store(&self) -> Arc<Self::Store>;

    /// Removes what `setup` created. Runs also when the check failed.
    async fn teardown(self) {}
}

/// Runs one projection store check on a fresh fixture, tearing it down
/// afterwards even when the check panics.
pub async fn run_projection_check<F, C, Fut>(check: C)
where
    F: ProjectionStoreFixture,
    C: FnOnce(Arc<dyn ProjectionStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let fixture = F::setup().await;
    let store: Arc<dyn ProjectionStore> = fixture.store();
    let outcome = std::panic::AssertUnwindSafe(check(store)).catch_unwind().await;
    fixture.teardown().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Expands to one test per guarantee of the projection store contract, each
/// on a fresh store made by the given [`ProjectionStoreFixture`].
#[macro_export]
macro_rules! projection_store_conformance {
    ($fixture:ty) => {
        $crate::projection_store_conformance!(@tests $fixture;
            a_committed_transaction_is_visible_whole,
            a_dropped_transaction_changes_nothing,
            rolling_back_to_the_savepoint_undoes_only_later_changes,
            documents_are_separated_by_projection_and_tenant,
            checkpoints_accumulate_per_projection,
            parking_again_updates_the_dead_letter,
            dead_letters_are_listed_and_removed_per_projection,
            a_reset_clears_one_projection_only,
            transactions_of_one_projection_are_serialised,
            a_rollback_without_savepoint_is_refused_and_checkpoints_never_go_back,
            reading_many_documents_answers_each_key_in_order,
            writing_many_documents_keeps_the_last_of_each_key,
            deleting_many_documents_removes_only_those,
        );
    };
    (@tests $fixture:ty; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::testing::run_projection_check::<$fixture, _, _>($crate::testing::$check).await;
            }
        )+
    };
}

/// Expands to one test per guarantee of the event store contract, each on a
/// fresh store made by the given [`StoreFixture`].
#[macro_export]
macro_rules! event_store_conformance {
    ($fixture:ty) => {
        $crate::event_store_conformance!(@tests $fixture;
            an_append_is_atomic_across_streams,
            a_conflicting_append_writes_nothing,
            exactly_one_of_many_racing_writers_wins,
            versions_start_at_one_and_stay_contiguous,
            the_expected_version_kinds_mean_what_they_say,
            an_empty_append_is_an_invalid_argument,
            a_stored_event_id_is_refused_whole_batch,
            an_event_id_twice_in_one_batch_is_refused,
            a_payload_field_named_like_the_envelope_is_refused,
            reading_a_stream_starts_after_the_given_version,
            the_tenant_filter_has_three_distinct_values,
            aggregate_type_event_type_and_time_filters_apply,
            the_feed_starts_after_the_given_position,
            the_feed_limit_applies_after_filtering,
            the_feed_reads_everything_in_small_pages,
            an_empty_store_has_no_current_position,
            counts_and_existence_follow_the_filters,
            tenant_stats_count_events_and_aggregates_per_tenant,
            aggregate_types_of_an_id_respect_the_tenant,
            the_first_event_tenant_of_a_stream_is_known,
            reading_a_stream_for_a_tenant_needs_its_first_event,
            a_long_stream_reads_whole_from_any_version,
            timestamps_keep_their_microseconds,
            payloads_round_trip_exactly,
            a_follower_of_the_feed_never_skips_events_of_concurrent_writers,
            a_tenant_aware_load_is_decided_on_the_whole_stream,
        );
    };
    (@tests $fixture:ty; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                $crate::testing::run_check::<$fixture, _, _>($crate::testing::$check).await;
            }
        )+
    };
}

/// Expands to one test per guarantee of the snapshot store contract; the
/// argument is an async expression giving a fresh `Arc<dyn SnapshotStore>`
/// (kept alive, with whatever it needs, for the test's duration).
#[macro_export]
macro_rules! snapshot_store_conformance {
    ($make:expr) => {
        $crate::snapshot_store_conformance!(@tests $make;
            a_snapshot_round_trips,
            only_the_newest_snapshot_is_kept,
            deleting_removes_one_streams_snapshot,
        );
    };
    (@tests $make:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (store, _guard) = $make.await;
                $crate::testing::$check(store).await;
            }
        )+
    };
}
