//! Tenant isolation the database enforces.
//!
//! With row-level security switched on for `events` (see
//! [`PostgresEventStore::enable_tenant_isolation`](crate::PostgresEventStore::enable_tenant_isolation)),
//! a role that neither owns the table nor bypasses row-level security sees and
//! inserts only rows of the tenant its current transaction carries in the
//! setting `eventsource.tenant_id`. A [`Session`] is how the store runs one
//! operation: on a pooled connection when it carries no tenant, or in a
//! transaction that starts with `set_config('eventsource.tenant_id', $1,
//! true)` (a `SET LOCAL` with the tenant as a bound parameter) when it does.
//! The setting ends with the transaction, so a pooled connection never
//! carries a tenant into the next operation.

use eventsource::{get_current_tenant, StoreResult, TenantId};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::error::backend;

/// The setting the row-level security policy reads.
pub const TENANT_SETTING: &str = "eventsource.tenant_id";

/// Whether, and with which tenant, a store's operations run in a
/// transaction that carries the tenant for row-level security.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TenantIsolation {
    /// Operations carry no tenant; tenant filters are applied by the
    /// queries alone. Right for the table's owner and for cross-tenant work
    /// (migrations, projections over every tenant, statistics).
    #[default]
    Off,
    /// Each operation carries the tenant of the current tenant context
    /// ([`eventsource::tenant_scope`]), read when the operation starts; an
    /// operation outside any tenant scope carries none, so under row-level
    /// security it sees no rows and may insert none.
    FromContext,
    /// Each operation carries this tenant, whatever the context says.
    Fixed(TenantId),
}

impl TenantIsolation {
    /// The tenant an operation starting now carries, if any.
    pub(crate) fn current_tenant(self) -> Option<TenantId> {
        match self {
            Self::Off => None,
            Self::FromContext => get_current_tenant(),
            Self::Fixed(tenant) => Some(tenant),
        }
    }
}

/// The connection one store operation runs on.
pub(crate) enum Session {
    /// A pooled connection in autocommit mode: one round trip per statement.
    Pooled(PoolConnection<Postgres>),
    /// A transaction carrying a tenant.
    Tenant(Transaction<'static, Postgres>),
}

impl Session {
    /// Opens a session for an operation that carries `tenant`.
    ///
    /// # Errors
    ///
    /// [`eventsource::StoreError::Backend`] when no connection can be had or
    /// the transaction cannot start.
    pub async fn open(pool: &PgPool, tenant: Option<TenantId>) -> StoreResult<Self> {
        match tenant {
            None => pool.acquire().await.map(Self::Pooled).map_err(backend),
            Some(tenant) => begin_tenant_transaction(pool, tenant).await.map(Self::Tenant),
        }
    }

    /// The connection to run statements on.
    pub fn connection(&mut self) -> &mut PgConnection {
        match self {
            Self::Pooled(connection) => connection,
            Self::Tenant(transaction) => transaction,
        }
    }

    /// Ends the session, committing its transaction if it has one. Dropping
    /// a session instead rolls the transaction back.
    ///
    /// # Errors
    ///
    /// [`eventsource::StoreError::Backend`] when the commit fails.
    pub async fn finish(self) -> StoreResult<()> {
        match self {
            Self::Pooled(_) => Ok(()),
            Self::Tenant(transaction) => transaction.commit().await.map_err(backend),
        }
    }
}

/// Begins a transaction whose tenant setting is `tenant`.
///
/// # Errors
///
/// [`eventsource::StoreError::Backend`] when the transaction cannot start.
pub(crate) async fn begin_tenant_transaction(
    pool: &PgPool,
    tenant: TenantId,
) -> StoreResult<Transaction<'static, Postgres>> {
    let mut transaction = pool.begin().await.map_err(backend)?;
    sqlx::query("SELECT set_config($1, $2, true)")
        .bind(TENANT_SETTING)
        .bind(tenant.as_uuid().to_string())
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    Ok(transaction)
}
