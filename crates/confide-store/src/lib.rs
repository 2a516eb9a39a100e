//! The Store: every byte Confide keeps, behind one interface, on SQLite or PostgreSQL.
//!
//! One implementation serves both engines through sqlx's `Any` driver, so the conformance suite
//! (`tests/it`) proves the same code on both. What differs per engine lives in two places only:
//! the migrations (`migrations/{sqlite,postgres}`) and [`backend`] (connection set-up).
//!
//! Rules a reviewer can check here:
//! - **Tenant from the caller's principal.** Every tenant-scoped operation goes through
//!   [`Store::scope`], which opens a transaction bound to one tenant; on PostgreSQL it also sets
//!   `confide.tenant_id` so row-level security is a second wall.
//! - **Ciphertext by default.** Personal data and secrets are sealed with the tenant's keys
//!   ([`keys`]) before any query sees them; lookups use keyed blind indexes.
//! - **Append-only audit.** [`audit`] appends sealed, chained entries in the same transaction as
//!   the change they record.

pub mod api_keys;
pub mod audit;
pub mod backend;
pub mod bulk;
pub mod channels;
pub mod consent;
pub mod contacts;
pub mod conversations;
pub mod error;
pub mod inbox;
pub mod ingest;
pub mod keys;
mod legacy;
pub mod media;
pub mod migrate;
pub mod notify;
pub mod platform;
pub mod roles;
pub mod scope;
pub mod scratch;
pub mod sessions;
pub mod tenants;
pub mod throttle;
pub mod users;

pub use backend::{Backend, StoreOptions};
pub use error::StoreError;
pub use scope::Scope;

use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_crypto::keyring::Keyring;
use sqlx::{AnyPool, Row};
use std::sync::{Arc, RwLock};

/// Reads the keyring again from its source (a file another process may have rotated).
pub type KeyringReload = Arc<dyn Fn() -> Result<Keyring, String> + Send + Sync>;

/// The handle every part of the server shares (cheap to clone).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    /// PostgreSQL: where [`notify`] listens for other instances' channel changes.
    listen_url: Option<String>,
    /// SQLite: the one writer connection (see [`backend::connect_pools`]).
    writer: Option<AnyPool>,
    backend: Backend,
    keyring: Arc<RwLock<Keyring>>,
    keyring_reload: Option<KeyringReload>,
    keys: keys::KeyCache,
    clock: SharedClock,
    entropy: SharedEntropy,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}

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
        let (pool, writer) = backend::connect_pools(options, backend).await?;
        let store = Store {
            inner: Arc::new(Inner {
                pool,
                listen_url: (backend == Backend::Postgres).then(|| options.url.clone()),
                writer,
                backend,
                keyring: Arc::new(RwLock::new(keyring)),
                keyring_reload,
                keys: keys::KeyCache::default(),
                clock,
                entropy,
            }),
        };
        store.seal_legacy_plaintext(options).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    pub fn entropy(&self) -> &SharedEntropy {
        &self.inner.entropy
    }

    /// The pool for reads.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The pool for anything that writes: on SQLite its one writer connection.
    pub(crate) fn write_pool(&self) -> &AnyPool {
        self.inner.writer.as_ref().unwrap_or(&self.inner.pool)
    }

    /// Readiness: the database answers and every migration this binary knows is applied.
    pub async fn ready(&self) -> Result<(), StoreError> {
        migrate::check_current(self.pool(), self.inner.backend).await
    }

    /// SQLite: copies committed WAL frames into the database file without waiting for (or
    /// blocking) readers and the writer, and returns the log's size in frames. Called every few
    /// milliseconds when [`StoreOptions::sqlite_background_checkpoint`] is set; nothing to do on
    /// PostgreSQL.
    ///
    /// Under sustained writes such a checkpoint never quite catches up with the log's end, and a
    /// log starts again from the beginning only after a checkpoint that has: left alone it would
    /// grow without bound. The writer therefore still checkpoints itself once the log holds
    /// [`StoreOptions::sqlite_writer_checkpoint_frames`]; as the writer is the only connection
    /// that writes, its next transaction then restarts the log, and as this background copy has
    /// already done most of the work, the writer's share is small.
    pub async fn checkpoint(&self) -> Result<i64, StoreError> {
        if self.inner.backend != Backend::Sqlite {
            return Ok(0);
        }
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get(1)?)
    }

    /// Closes the pool, waiting for connections in use to be returned (graceful shutdown).
    pub async fn close(&self) {
        if let Some(writer) = &self.inner.writer {
            writer.close().await;
        }
        self.inner.pool.close().await;
    }
}
