//! Tenants' keys: created with the tenant, stored wrapped by a key-encryption key (KEK) from the
//! keyring, unwrapped on first use and cached in memory (zeroized when dropped), and rewrapped
//! online when the keyring rotates.
//!
//! Row version 0 of `tenant_keys` is the tenant's blind-index key; versions 1.. are data keys,
//! the highest being current. Destroying these rows crypto-shreds the tenant.

use crate::scope::{Access, set_tenant};
use crate::{Store, StoreError};
use confide_core::audit::Sealer;
use confide_core::ids::TenantId;
use confide_crypto::envelope::{DataKey, TenantKeys};
use confide_crypto::keyring::{Keyring, WrappedKey};
use sqlx::{Any, Row, Transaction};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

const INDEX_VERSION: i64 = 0;

fn slot(version: i64) -> String {
    if version == INDEX_VERSION {
        "index".to_string()
    } else {
        format!("data:{version}")
    }
}

/// Unwrapped tenant keys, by tenant.
#[derive(Default)]
pub(crate) struct KeyCache {
    map: Mutex<HashMap<TenantId, Arc<TenantKeys>>>,
}

impl KeyCache {
    fn get(&self, t: TenantId) -> Option<Arc<TenantKeys>> {
        self.map.lock().ok().and_then(|m| m.get(&t).cloned())
    }
    fn put(&self, t: TenantId, k: Arc<TenantKeys>) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(t, k);
        }
    }
}

/// How many wrapped tenant keys each KEK protects (for `keys status` and safe retirement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekUsage {
    pub kek_id: String,
    pub wrapped_keys: i64,
}

impl Store {
    fn keyring_read<T>(&self, f: impl FnOnce(&Keyring) -> T) -> Result<T, StoreError> {
        let guard = self
            .inner
            .keyring
            .read()
            .map_err(|_| StoreError::Keys("keyring lock poisoned".into()))?;
        Ok(f(&guard))
    }

    /// Reloads the keyring from where it came from (after another process rotated it).
    fn reload_keyring(&self) -> Result<bool, StoreError> {
        let Some(reload) = &self.inner.keyring_reload else {
            return Ok(false);
        };
        let fresh = reload().map_err(|e| StoreError::Keys(e.to_string()))?;
        let mut guard = self
            .inner
            .keyring
            .write()
            .map_err(|_| StoreError::Keys("keyring lock poisoned".into()))?;
        *guard = fresh;
        Ok(true)
    }

    /// Replaces the in-memory keyring (after `rotate` in this process).
    pub fn set_keyring(&self, keyring: Keyring) -> Result<(), StoreError> {
        let mut guard = self
            .inner
            .keyring
            .write()
            .map_err(|_| StoreError::Keys("keyring lock poisoned".into()))?;
        *guard = keyring;
        Ok(())
    }

    /// A copy of the current keyring (to save it after a rotation).
    pub fn keyring_snapshot(&self) -> Result<Keyring, StoreError> {
        self.keyring_read(Clone::clone)
    }

    /// Generates and stores a new tenant's index key and first data key, in `tx`.
    pub(crate) async fn create_tenant_keys(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant: TenantId,
    ) -> Result<Arc<TenantKeys>, StoreError> {
        let entropy = self.entropy().as_ref();
        let index = DataKey::generate(entropy);
        let data = DataKey::generate(entropy);
        let t = tenant.to_string();
        let now = self.clock().now_micros();
        for (version, key) in [(INDEX_VERSION, &index), (1, &data)] {
            let wrapped = self.keyring_read(|k| k.wrap_key(&t, &slot(version), key, entropy))??;
            sqlx::query("INSERT INTO tenant_keys (tenant_id, version, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(t.clone())
                .bind(version)
                .bind(wrapped.kek_id.clone())
                .bind(wrapped.bytes.clone())
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        let mut map = BTreeMap::new();
        map.insert(1u32, data);
        let keys = Arc::new(TenantKeys::new(t, map, 1, index)?);
        self.inner.keys.put(tenant, keys.clone());
        Ok(keys)
    }

    /// The tenant's unwrapped keys, from the cache or the database (within `tx`, which is
    /// already bound to the tenant).
    pub(crate) async fn tenant_keys_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant: TenantId,
    ) -> Result<Arc<TenantKeys>, StoreError> {
        if let Some(k) = self.inner.keys.get(tenant) {
            return Ok(k);
        }
        let t = tenant.to_string();
        let rows =
            sqlx::query("SELECT version, kek_id, wrapped FROM tenant_keys WHERE tenant_id = $1")
                .bind(t.clone())
                .fetch_all(&mut **tx)
                .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        let mut wrapped = Vec::with_capacity(rows.len());
        for r in &rows {
            let version: i64 = r.try_get(0)?;
            let kek_id: String = r.try_get(1)?;
            let bytes: Vec<u8> = r.try_get(2)?;
            wrapped.push((version, WrappedKey { kek_id, bytes }));
        }
        let keys = match self.unwrap_all(&t, &wrapped) {
            Err(StoreError::Keys(_)) if self.reload_keyring()? => self.unwrap_all(&t, &wrapped)?,
            other => other?,
        };
        let keys = Arc::new(keys);
        self.inner.keys.put(tenant, keys.clone());
        Ok(keys)
    }

    fn unwrap_all(
        &self,
        tenant: &str,
        wrapped: &[(i64, WrappedKey)],
    ) -> Result<TenantKeys, StoreError> {
        self.keyring_read(|ring| {
            let mut index = None;
            let mut data = BTreeMap::new();
            for (version, w) in wrapped {
                let key = ring
                    .unwrap_key(tenant, &slot(*version), w)
                    .map_err(|e| StoreError::Keys(format!("tenant key {version}: {e}")))?;
                if *version == INDEX_VERSION {
                    index = Some(key);
                } else {
                    let v = u32::try_from(*version)
                        .map_err(|_| StoreError::Corrupt("key version".into()))?;
                    data.insert(v, key);
                }
            }
            let index =
                index.ok_or_else(|| StoreError::Corrupt("tenant has no index key".into()))?;
            let current = data
                .keys()
                .next_back()
                .copied()
                .ok_or_else(|| StoreError::Corrupt("tenant has no data key".into()))?;
            Ok(TenantKeys::new(tenant.to_string(), data, current, index)?)
        })?
    }

    /// Rewraps every tenant key under the keyring's primary KEK, one tenant per transaction, while
    /// the server keeps serving (both KEKs stay in the keyring until this finishes). Returns the
    /// number of keys rewrapped.
    pub async fn rewrap_all_keys(&self) -> Result<u64, StoreError> {
        let primary = self.keyring_read(|k| k.primary_kek_id().to_string())?;
        let tenants: Vec<String> = sqlx::query("SELECT tenant_id FROM tenants")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        let mut count = 0u64;
        for t in tenants {
            let mut tx = self.begin_tx(Access::Write).await?;
            set_tenant(&mut tx, self.backend(), &t).await?;
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
                let new = self.keyring_read(|ring| -> Result<WrappedKey, StoreError> {
                    let key = ring
                        .unwrap_key(&t, &slot(version), &old)
                        .map_err(|e| StoreError::Keys(format!("tenant {t} key {version}: {e}")))?;
                    Ok(ring.wrap_key(&t, &slot(version), &key, self.entropy().as_ref())?)
                })??;
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
        let tenants: Vec<String> = sqlx::query("SELECT tenant_id FROM tenants")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        let mut usage: BTreeMap<String, i64> = BTreeMap::new();
        for t in tenants {
            let mut tx = self.begin_tx(Access::Read).await?;
            set_tenant(&mut tx, self.backend(), &t).await?;
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

    /// The sealer of the audit chain: keyed by the keyring, which is not in the database.
    pub(crate) fn audit_sealer(&self) -> Result<KeyringSealer, StoreError> {
        Ok(KeyringSealer(self.inner.keyring.clone()))
    }
}

/// Blind-index purpose whose key seals audit hashes.
const AUDIT_SEAL: &str = "audit-seal";

/// Seals audit hashes with a key derived from the keyring (HMAC-SHA256).
pub(crate) struct KeyringSealer(Arc<std::sync::RwLock<Keyring>>);

impl Sealer for KeyringSealer {
    fn seal(&self, hash: &[u8; 32]) -> [u8; 32] {
        match self.0.read() {
            Ok(ring) => ring.platform_blind_index(AUDIT_SEAL, hash),
            Err(poisoned) => poisoned.into_inner().platform_blind_index(AUDIT_SEAL, hash),
        }
    }
}
