//! Keyring rotation, online: the in-memory keyring replaced, every tenant key rewrapped under the
//! new primary KEK one tenant per transaction while the server keeps serving, and which KEK
//! wraps how many keys (so an old KEK is retired only once nothing needs it).

use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Access;
use confide_crypto::keyring::{Keyring, WrappedKey};
use sqlx::Row;
use std::collections::BTreeMap;

/// How many wrapped tenant keys each KEK protects (for `keys status` and safe retirement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekUsage {
    pub kek_id: String,
    pub wrapped_keys: i64,
}

impl Store {
    /// Replaces the in-memory keyring (after `rotate` in this process).
    pub fn set_keyring(&self, keyring: Keyring) -> Result<(), StoreError> {
        self.keys().replace(keyring)
    }

    /// A copy of the current keyring (to save it after a rotation).
    pub fn keyring_snapshot(&self) -> Result<Keyring, StoreError> {
        self.keys().read(Clone::clone)
    }

    /// Every tenant's id.
    async fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query("SELECT tenant_id FROM tenants")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?)
    }

    /// Rewraps every tenant key under the keyring's primary KEK, one tenant per transaction, while
    /// the server keeps serving (both KEKs stay in the keyring until this finishes). Returns the
    /// number of keys rewrapped.
    pub async fn rewrap_all_keys(&self) -> Result<u64, StoreError> {
        let primary = self.keys().read(|k| k.primary_kek_id().to_string())?;
        let mut count = 0u64;
        for t in self.tenant_ids().await? {
            let mut tx = self.begin_tenant_tx(&t, Access::Write).await?;
            let rows = sqlx::query("SELECT version, kek_id, wrapped FROM tenant_keys WHERE tenant_id = $1 AND kek_id <> $2")
                .bind(t.clone())
                .bind(primary.clone())
                .fetch_all(&mut *tx)
                .await?;
            for r in rows {
                let version: i64 = r.try_get(0)?;
                let old = WrappedKey {
                    kek_id: r.try_get(1)?,
                    bytes: r.try_get(2)?,
                };
                let new = self
                    .keys()
                    .rewrap(&t, version, &old, self.entropy().as_ref())?;
                sqlx::query("UPDATE tenant_keys SET kek_id = $1, wrapped = $2 WHERE tenant_id = $3 AND version = $4")
                    .bind(new.kek_id)
                    .bind(new.bytes)
                    .bind(t.clone())
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                count += 1;
            }
            tx.commit().await?;
        }
        Ok(count)
    }

    /// How many tenant keys each KEK wraps. Reads across tenants, so it is for the operator (CLI)
    /// and runs as the login role, never through a tenant scope.
    pub async fn kek_usage(&self) -> Result<Vec<KekUsage>, StoreError> {
        let mut usage: BTreeMap<String, i64> = BTreeMap::new();
        for t in self.tenant_ids().await? {
            let mut tx = self.begin_tenant_tx(&t, Access::Read).await?;
            let rows = sqlx::query("SELECT kek_id FROM tenant_keys WHERE tenant_id = $1")
                .bind(t)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            for r in rows {
                *usage.entry(r.try_get::<String, _>(0)?).or_default() += 1;
            }
        }
        Ok(usage
            .into_iter()
            .map(|(kek_id, wrapped_keys)| KekUsage {
                kek_id,
                wrapped_keys,
            })
            .collect())
    }
}
