//! Tenants' keys: created with the tenant, stored wrapped by a key-encryption key (KEK) from the
//! keyring, unwrapped on first use and cached in memory (zeroized when dropped). Rewrapping them
//! when the keyring rotates is [`crate::rotation`].
//!
//! Row version 0 of `tenant_keys` is the tenant's blind-index key; versions 1.. are data keys,
//! the highest being current. Destroying these rows crypto-shreds the tenant.

use crate::error::StoreError;
use confide_core::audit::Sealer;
use confide_core::entropy::Entropy;
use confide_core::ids::TenantId;
use confide_crypto::envelope::{DataKey, TenantKeys};
use confide_crypto::keyring::{Keyring, WrappedKey};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// Reads the keyring again from its source (a file another process may have rotated).
pub type KeyringReload = Arc<dyn Fn() -> Result<Keyring, String> + Send + Sync>;

const INDEX_VERSION: i64 = 0;

fn slot(version: i64) -> String {
    if version == INDEX_VERSION {
        "index".to_string()
    } else {
        format!("data:{version}")
    }
}

/// The keyring, where to reload it from, and the tenants' unwrapped keys (by tenant).
pub(crate) struct Keys {
    keyring: Arc<RwLock<Keyring>>,
    reload: Option<KeyringReload>,
    cache: Mutex<HashMap<TenantId, Arc<TenantKeys>>>,
}

impl Keys {
    pub(crate) fn new(keyring: Keyring, reload: Option<KeyringReload>) -> Keys {
        Keys {
            keyring: Arc::new(RwLock::new(keyring)),
            reload,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, t: TenantId) -> Option<Arc<TenantKeys>> {
        self.cache.lock().ok().and_then(|m| m.get(&t).cloned())
    }

    fn cache(&self, t: TenantId, k: Arc<TenantKeys>) {
        if let Ok(mut m) = self.cache.lock() {
            m.insert(t, k);
        }
    }

    /// Drops a tenant's unwrapped keys from the cache (its wrapped keys were destroyed).
    pub(crate) fn forget(&self, t: TenantId) {
        if let Ok(mut m) = self.cache.lock() {
            m.remove(&t);
        }
    }

    /// Runs `f` on the current keyring.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Keyring) -> T) -> Result<T, StoreError> {
        let guard = self
            .keyring
            .read()
            .map_err(|_| StoreError::Keys("keyring lock poisoned".into()))?;
        Ok(f(&guard))
    }

    /// Replaces the keyring.
    pub(crate) fn replace(&self, keyring: Keyring) -> Result<(), StoreError> {
        let mut guard = self
            .keyring
            .write()
            .map_err(|_| StoreError::Keys("keyring lock poisoned".into()))?;
        *guard = keyring;
        Ok(())
    }

    /// Reloads the keyring from where it came from (after another process rotated it).
    fn reload(&self) -> Result<bool, StoreError> {
        let Some(reload) = &self.reload else {
            return Ok(false);
        };
        let fresh = reload().map_err(|e| StoreError::Keys(e.to_string()))?;
        self.replace(fresh)?;
        Ok(true)
    }

    /// A keyring-keyed blind index, the same for every tenant (login emails, audit seals).
    pub(crate) fn platform_blind_index(
        &self,
        purpose: &str,
        value: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.read(|k| k.platform_blind_index(purpose, value).to_vec())
    }

    /// Generates and stores a new tenant's index key and first data key, on `conn` (the
    /// transaction creating the tenant).
    pub(crate) async fn create_tenant(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        entropy: &dyn Entropy,
        now: i64,
    ) -> Result<Arc<TenantKeys>, StoreError> {
        let index = DataKey::generate(entropy);
        let data = DataKey::generate(entropy);
        let t = tenant.to_string();
        for (version, key) in [(INDEX_VERSION, &index), (1, &data)] {
            let wrapped = self.read(|k| k.wrap_key(&t, &slot(version), key, entropy))??;
            sqlx::query("INSERT INTO tenant_keys (tenant_id, version, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(t.clone())
                .bind(version)
                .bind(wrapped.kek_id.clone())
                .bind(wrapped.bytes.clone())
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        let mut map = BTreeMap::new();
        map.insert(1u32, data);
        let keys = Arc::new(TenantKeys::new(t, map, 1, index)?);
        self.cache(tenant, keys.clone());
        Ok(keys)
    }

    /// The tenant's unwrapped keys, from the cache or the database (on `conn`, a transaction
    /// already bound to the tenant).
    pub(crate) async fn tenant(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
    ) -> Result<Arc<TenantKeys>, StoreError> {
        if let Some(k) = self.cached(tenant) {
            return Ok(k);
        }
        let t = tenant.to_string();
        let rows: Vec<(i64, String, Vec<u8>)> =
            sqlx::query_as("SELECT version, kek_id, wrapped FROM tenant_keys WHERE tenant_id = $1")
                .bind(t.clone())
                .fetch_all(conn)
                .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        let wrapped: Vec<(i64, WrappedKey)> = rows
            .into_iter()
            .map(|(version, kek_id, bytes)| (version, WrappedKey { kek_id, bytes }))
            .collect();
        let keys = match self.unwrap_all(&t, &wrapped) {
            Err(StoreError::Keys(_)) if self.reload()? => self.unwrap_all(&t, &wrapped)?,
            other => other?,
        };
        let keys = Arc::new(keys);
        self.cache(tenant, keys.clone());
        Ok(keys)
    }

    fn unwrap_all(
        &self,
        tenant: &str,
        wrapped: &[(i64, WrappedKey)],
    ) -> Result<TenantKeys, StoreError> {
        self.read(|ring| {
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

    /// One of a tenant's wrapped keys, unwrapped and wrapped again under the primary KEK.
    pub(crate) fn rewrap(
        &self,
        tenant: &str,
        version: i64,
        old: &WrappedKey,
        entropy: &dyn Entropy,
    ) -> Result<WrappedKey, StoreError> {
        self.read(|ring| -> Result<WrappedKey, StoreError> {
            let key = ring
                .unwrap_key(tenant, &slot(version), old)
                .map_err(|e| StoreError::Keys(format!("tenant {tenant} key {version}: {e}")))?;
            Ok(ring.wrap_key(tenant, &slot(version), &key, entropy)?)
        })?
    }

    /// The sealer of the audit chain: keyed by the keyring, which is not in the database.
    pub(crate) fn audit_sealer(&self) -> KeyringSealer {
        KeyringSealer(self.keyring.clone())
    }
}

/// Blind-index purpose whose key seals audit hashes.
const AUDIT_SEAL: &str = "audit-seal";

/// Seals audit hashes with a key derived from the keyring (HMAC-SHA256).
pub(crate) struct KeyringSealer(Arc<RwLock<Keyring>>);

impl Sealer for KeyringSealer {
    fn seal(&self, hash: &[u8; 32]) -> [u8; 32] {
        match self.0.read() {
            Ok(ring) => ring.platform_blind_index(AUDIT_SEAL, hash),
            Err(poisoned) => poisoned.into_inner().platform_blind_index(AUDIT_SEAL, hash),
        }
    }
}
