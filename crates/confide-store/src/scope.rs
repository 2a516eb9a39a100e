//! Tenant scopes: the only way to touch a tenant's rows.
//!
//! A [`Scope`] is one database transaction bound to one tenant, holding that tenant's keys. The
//! tenant comes from the caller's authenticated principal (or a webhook's channel), never from
//! request input. On PostgreSQL the transaction also sets `confide.tenant_id`, which the
//! row-level security policies compare against every row.

use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Access;
use confide_core::ids::TenantId;
use confide_crypto::envelope::{FieldRef, TenantKeys};
use sqlx::{Any, AnyConnection, Transaction};
use std::sync::Arc;
use zeroize::Zeroizing;

/// A transaction scoped to one tenant. Dropped without [`Scope::commit`], it rolls back.
pub struct Scope<'s> {
    pub(crate) store: &'s Store,
    pub(crate) tenant: TenantId,
    tenant_text: String,
    pub(crate) tx: Transaction<'static, Any>,
    keys: Arc<TenantKeys>,
}

impl Store {
    /// Opens a write transaction for `tenant`.
    pub async fn scope(&self, tenant: TenantId) -> Result<Scope<'_>, StoreError> {
        self.scope_with(tenant, Access::Write).await
    }

    /// Opens a read-only transaction for `tenant`.
    pub async fn read_scope(&self, tenant: TenantId) -> Result<Scope<'_>, StoreError> {
        self.scope_with(tenant, Access::Read).await
    }

    pub async fn scope_with(
        &self,
        tenant: TenantId,
        access: Access,
    ) -> Result<Scope<'_>, StoreError> {
        let tenant_text = tenant.to_string();
        let mut tx = self.begin_tenant_tx(&tenant_text, access).await?;
        let keys = self.keys().tenant(&mut tx, tenant).await?;
        Ok(Scope {
            store: self,
            tenant,
            tenant_text,
            tx,
            keys,
        })
    }
}

impl<'s> Scope<'s> {
    /// A scope over a transaction already bound to the tenant (tenant creation).
    pub(crate) fn from_parts(
        store: &'s Store,
        tenant: TenantId,
        tx: Transaction<'static, Any>,
        keys: Arc<TenantKeys>,
    ) -> Self {
        Scope {
            store,
            tenant,
            tenant_text: tenant.to_string(),
            tx,
            keys,
        }
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The tenant's keys, for sealing media objects outside this transaction.
    pub(crate) fn tenant_keys(&self) -> Arc<TenantKeys> {
        self.keys.clone()
    }

    pub(crate) fn tenant_str(&self) -> &str {
        &self.tenant_text
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// The store clock's time (Unix microseconds).
    pub fn now(&self) -> i64 {
        self.store.clock().now_micros()
    }

    /// Encrypts a field of a row with the tenant's current data key.
    pub(crate) fn seal(
        &self,
        table: &str,
        column: &str,
        row: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        Ok(self.keys.encrypt(
            FieldRef { table, column, row },
            plaintext,
            self.store.entropy().as_ref(),
        )?)
    }

    pub(crate) fn seal_str(
        &self,
        table: &str,
        column: &str,
        row: &str,
        plaintext: &str,
    ) -> Result<Vec<u8>, StoreError> {
        self.seal(table, column, row, plaintext.as_bytes())
    }

    /// Decrypts a field; a ciphertext moved from another row, column or tenant fails here.
    pub(crate) fn open(
        &self,
        table: &str,
        column: &str,
        row: &str,
        envelope: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        Ok(self
            .keys
            .decrypt(FieldRef { table, column, row }, envelope)?)
    }

    pub(crate) fn open_string(
        &self,
        table: &str,
        column: &str,
        row: &str,
        envelope: &[u8],
    ) -> Result<String, StoreError> {
        let bytes = self.open(table, column, row, envelope)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| StoreError::Corrupt(format!("{table}.{column} is not text")))
    }

    /// The tenant's keyed blind index of a normalised value (also a dedupe key that reveals
    /// nothing about the value).
    pub fn blind_index(&self, purpose: &str, normalized: &[u8]) -> Vec<u8> {
        self.keys.blind_index(purpose, normalized).to_vec()
    }

    /// The rows of `sql`, whose `$1` is this scope's tenant.
    pub(crate) async fn tenant_rows(
        &mut self,
        sql: String,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let t = self.tenant_text.clone();
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    /// The one row of `sql`, whose `$1` is this scope's tenant and `$2` the id;
    /// [`StoreError::NotFound`] when the id is not this tenant's.
    pub(crate) async fn tenant_row(
        &mut self,
        sql: String,
        id: String,
    ) -> Result<sqlx::any::AnyRow, StoreError> {
        let t = self.tenant_text.clone();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// How many rows of a tenant table belong to this tenant (exports, backup checks, tests).
    pub async fn count_rows(&mut self, table: &str) -> Result<i64, StoreError> {
        const TABLES: &[&str] = &[
            "roles",
            "users",
            "sessions",
            "api_keys",
            "channels",
            "contacts",
            "conversations",
            "messages",
            "message_statuses",
            "consent_events",
            "templates",
            "audit_entries",
        ];
        if !TABLES.contains(&table) {
            return Err(StoreError::Config(format!("{table} is not a tenant table")));
        }
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1");
        let t = self.tenant_text.clone();
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(sqlx::Row::try_get::<i64, _>(&row, 0)?)
    }

    /// Commits everything done in the scope.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
