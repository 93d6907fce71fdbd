//! Tenants and the tenant context.
//!
//! A [`TenantId`] names one customer of a multi-tenant service. The *tenant
//! context* says which tenant the code running right now acts for. It has two
//! forms that never leak into each other:
//!
//! - an async scope ([`tenant_scope`]) bound to one task through a
//!   `tokio::task_local!`, so concurrent tasks each see only their own tenant;
//! - a sync scope ([`tenant_scope_sync`]) bound to the current thread.
//!
//! Scopes nest: leaving an inner scope restores the outer tenant, also when
//! the inner block returns an error or panics. Inside an async scope the async
//! value wins; [`set_current_tenant`] and [`clear_tenant_context`] change only
//! the innermost scope of the current task (or the thread's value outside any
//! async scope). A spawned task starts with no tenant unless it is spawned
//! with [`spawn_with_tenant`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identifier of a tenant: a UUID with its own type, so a tenant id can
/// never be passed where an aggregate or event id is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(Uuid);

impl TenantId {
    /// Wraps a UUID.
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// A new random tenant id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Uuid> for TenantId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl FromStr for TenantId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Failures of the tenant context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenancyError {
    /// An operation needs a tenant, and none is set for the current task or
    /// thread.
    #[error("no tenant is set in the current context; run this inside a tenant scope")]
    ContextNotSet,
}

tokio::task_local! {
    static TASK_TENANT: RefCell<Option<TenantId>>;
}

thread_local! {
    static THREAD_TENANT: Cell<Option<TenantId>> = const { Cell::new(None) };
}

/// Runs `future` with `tenant` as the current tenant of this task.
///
/// The tenant is visible to everything the future awaits, and to nothing
/// else: other tasks, even on the same worker thread, keep their own tenant.
///
/// ```
/// # use eventsource::{tenant_scope, get_current_tenant, TenantId};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let acme = TenantId::new_random();
/// let seen = tenant_scope(acme, async { get_current_tenant() }).await;
/// assert_eq!(seen, Some(acme));
/// assert_eq!(get_current_tenant(), None);
/// # }
/// ```
pub async fn tenant_scope<F: Future>(tenant: TenantId, future: F) -> F::Output {
    TASK_TENANT.scope(RefCell::new(Some(tenant)), future).await
}

/// Runs `body` with `tenant` as the current tenant of this thread, restoring
/// the previous tenant afterwards, also if `body` panics.
pub fn tenant_scope_sync<R>(tenant: TenantId, body: impl FnOnce() -> R) -> R {
    struct Restore(Option<TenantId>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_TENANT.with(|cell| cell.set(self.0));
        }
    }

    let _restore = Restore(THREAD_TENANT.with(|cell| cell.replace(Some(tenant))));
    // A sync scope opened inside an async scope must win over it for its
    // duration, so the task value is shadowed too where there is one.
    match TASK_TENANT.try_with(|cell| cell.replace(Some(tenant))) {
        Ok(outer) => {
            struct RestoreTask(Option<TenantId>);
            impl Drop for RestoreTask {
                fn drop(&mut self) {
                    let _ = TASK_TENANT.try_with(|cell| *cell.borrow_mut() = self.0);
                }
            }
            let _restore_task = RestoreTask(outer);
            body()
        }
        Err(_) => body(),
    }
}

/// The tenant of the current task (inside an async scope) or thread, if any.
pub fn get_current_tenant() -> Option<TenantId> {
    TASK_TENANT
        .try_with(|cell| *cell.borrow())
        .unwrap_or_else(|_| THREAD_TENANT.with(Cell::get))
}

/// The current tenant, or [`TenancyError::ContextNotSet`] outside any scope.
///
/// # Errors
///
/// [`TenancyError::ContextNotSet`] when no tenant is set.
pub fn get_required_tenant() -> Result<TenantId, TenancyError> {
    get_current_tenant().ok_or(TenancyError::ContextNotSet)
}

/// Sets the tenant of the innermost scope of this task, or of this thread
/// outside any async scope. The change ends with that scope.
pub fn set_current_tenant(tenant: TenantId) {
    set_innermost(Some(tenant));
}

/// Clears the tenant of the innermost scope of this task, or of this thread
/// outside any async scope.
pub fn clear_tenant_context() {
    set_innermost(None);
}

fn set_innermost(tenant: Option<TenantId>) {
    if TASK_TENANT.try_with(|cell| *cell.borrow_mut() = tenant).is_err() {
        THREAD_TENANT.with(|cell| cell.set(tenant));
    }
}

/// Spawns a tokio task that runs inside the current tenant's scope (or with
/// no tenant when there is none).
pub fn spawn_with_tenant<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match get_current_tenant() {
        Some(tenant) => tokio::spawn(tenant_scope(tenant, future)),
        None => tokio::spawn(future),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nested_async_scopes_restore_the_outer_tenant() {
        let (outer, inner) = (TenantId::new_random(), TenantId::new_random());
        tenant_scope(outer, async {
            tenant_scope(inner, async {
                assert_eq!(get_current_tenant(), Some(inner));
            })
            .await;
            assert_eq!(get_current_tenant(), Some(outer));
        })
        .await;
        assert_eq!(get_current_tenant(), None);
    }

    #[tokio::test]
    async fn an_inner_scope_that_fails_still_restores_the_outer_tenant() {
        let (outer, inner) = (TenantId::new_random(), TenantId::new_random());
        tenant_scope(outer, async {
            let result: Result<(), &str> = tenant_scope(inner, async { Err("boom") }).await;
            assert!(result.is_err());
            assert_eq!(get_current_tenant(), Some(outer));
        })
        .await;
    }

    #[test]
    fn a_panicking_sync_scope_restores_the_outer_tenant() {
        let (outer, inner) = (TenantId::new_random(), TenantId::new_random());
        tenant_scope_sync(outer, || {
            let caught = std::panic::catch_unwind(|| tenant_scope_sync(inner, || panic!("inner")));
            assert!(caught.is_err());
            assert_eq!(get_current_tenant(), Some(outer));
        });
        assert_eq!(get_current_tenant(), None);
    }

    #[tokio::test]
    async fn a_panicking_async_scope_restores_the_outer_tenant() {
        use futures::FutureExt;
        let (outer, inner) = (TenantId::new_random(), TenantId::new_random());
        tenant_scope(outer, async {
            let caught = std::panic::AssertUnwindSafe(tenant_scope(inner, async {
                panic!("inner");
            }))
            .catch_unwind()
            .await;
            assert!(caught.is_err());
            assert_eq!(get_current_tenant(), Some(outer));
        })
        .await;
    }

    #[test]
    fn required_tenant_outside_a_scope_is_a_clear_error() {
        assert_eq!(get_required_tenant(), Err(TenancyError::ContextNotSet));
        let tenant = TenantId::new_random();
        tenant_scope_sync(tenant, || assert_eq!(get_required_tenant(), Ok(tenant)));
    }

    #[tokio::test]
    async fn set_and_clear_change_only_the_innermost_scope() {
        let (outer, replaced) = (TenantId::new_random(), TenantId::new_random());
        tenant_scope(outer, async {
            tenant_scope(outer, async {
                set_current_tenant(replaced);
                assert_eq!(get_current_tenant(), Some(replaced));
                clear_tenant_context();
                assert_eq!(get_current_tenant(), None);
            })
            .await;
            assert_eq!(get_current_tenant(), Some(outer));
        })
        .await;
    }

    #[tokio::test]
    async fn spawned_tasks_carry_the_tenant_only_through_the_helper() {
        let tenant = TenantId::new_random();
        tenant_scope(tenant, async {
            let carried = spawn_with_tenant(async { get_current_tenant() }).await.unwrap();
            let plain = tokio::spawn(async { get_current_tenant() }).await.unwrap();
            assert_eq!(carried, Some(tenant));
            assert_eq!(plain, None);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn thousands_of_concurrent_tasks_never_observe_another_tenant() {
        let tasks: Vec<_> = (0..2_000)
            .map(|i| {
                let tenant = TenantId::new_random();
                tokio::spawn(tenant_scope(tenant, async move {
                    let mut observed_wrong = 0usize;
                    for step in 0..20 {
                        if (i + step) % 3 == 0 {
                            tokio::task::yield_now().await;
                        } else {
                            tokio::time::sleep(std::time::Duration::from_micros(50)).await;
                        }
                        if get_current_tenant() != Some(tenant) {
                            observed_wrong += 1;
                        }
                        // A nested scope for another tenant must not leak out.
                        if step == 10 {
                            let other = TenantId::new_random();
                            tenant_scope(other, async {
                                tokio::task::yield_now().await;
                                assert_eq!(get_current_tenant(), Some(other));
                            })
                            .await;
                        }
                    }
                    observed_wrong
                }))
            })
            .collect();
        let mut wrong = 0;
        for task in tasks {
            wrong += task.await.expect("task panicked");
        }
        assert_eq!(wrong, 0, "tasks observed a tenant that was not theirs");
    }
}
