//! Transactions: the writer-aware `BEGIN` and the binding of a transaction to one tenant for
//! PostgreSQL's row-level security. Scopes, the audit log's readers, key administration and the
//! login throttle all open theirs here.

use crate::backend::Backend;
use crate::error::StoreError;
use crate::store::Store;
use sqlx::{Any, Transaction};

/// Whether a transaction will write (SQLite takes the write lock up front, avoiding lock
/// upgrades).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Store {
    /// Begins a transaction: writes on the writer pool (SQLite: `BEGIN IMMEDIATE`), reads on the
    /// shared one.
    pub(crate) async fn begin_tx(
        &self,
        access: Access,
    ) -> Result<Transaction<'static, Any>, StoreError> {
        let tx = match (self.backend(), access) {
            (Backend::Sqlite, Access::Write) => {
                self.write_pool().begin_with("BEGIN IMMEDIATE").await?
            }
            (_, Access::Write) => self.write_pool().begin().await?,
            (_, Access::Read) => self.pool().begin().await?,
        };
        Ok(tx)
    }

    /// Begins a transaction bound to `tenant` (see [`set_tenant`]).
    pub(crate) async fn begin_tenant_tx(
        &self,
        tenant: &str,
        access: Access,
    ) -> Result<Transaction<'static, Any>, StoreError> {
        let mut tx = self.begin_tx(access).await?;
        set_tenant(&mut tx, self.backend(), tenant).await?;
        Ok(tx)
    }
}

/// Binds the transaction to a tenant for PostgreSQL's row-level security.
pub(crate) async fn set_tenant(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    tenant: &str,
) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT set_config('confide.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
