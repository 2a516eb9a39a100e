//! Opening a [`Store`]: pending migrations, the pools, and the one-time maintenance passes that
//! need a working store ([`crate::legacy`]).

use crate::backend::{self, Backend, StoreOptions};
use crate::error::StoreError;
use crate::keys::{KeyringReload, Keys};
use crate::migrate;
use crate::store::{Parts, Store};
use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_crypto::keyring::Keyring;

impl Store {
    /// Connects, applies pending migrations, and returns the store.
    pub async fn open(
        options: &StoreOptions,
        keyring: Keyring,
        keyring_reload: Option<KeyringReload>,
        clock: SharedClock,
        entropy: SharedEntropy,
    ) -> Result<Store, StoreError> {
        let backend = Backend::from_url(&options.url)?;
        migrate::run(options, backend).await?;
        let (pool, writer, durability) = backend::connect_pools(options, backend).await?;
        let store = Store::from_parts(Parts {
            pool,
            listen_url: (backend == Backend::Postgres).then(|| options.url.clone()),
            writer,
            durability,
            backend,
            keys: Keys::new(keyring, keyring_reload),
            clock,
            entropy,
        });
        store.seal_legacy_plaintext(options).await?;
        store.index_legacy_names().await?;
        Ok(store)
    }
}
