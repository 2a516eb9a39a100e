//! The [`Store`] handle: the pools, the engine, the tenants' keys, the clock and the entropy
//! every part of the server shares. Opening one (migrations, pools, one-time maintenance) is
//! [`crate::open`]; everything a tenant's rows allow goes through a [`crate::Scope`].

use crate::backend::Backend;
use crate::durability::Durability;
use crate::error::StoreError;
use crate::keys::Keys;
use crate::migrate;
use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use sqlx::{AnyPool, Row};
use std::sync::Arc;

/// The handle every part of the server shares (cheap to clone).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    /// PostgreSQL: where [`crate::notify`] listens for other instances' channel changes.
    listen_url: Option<String>,
    /// SQLite: the one writer connection (see [`crate::backend::connect_pools`]).
    writer: Option<AnyPool>,
    /// SQLite with `synchronous = full`: commits that leave the log flush to the caller.
    durability: Option<Arc<Durability>>,
    backend: Backend,
    keys: Keys,
    clock: SharedClock,
    entropy: SharedEntropy,
}

/// What a [`Store`] is made of (see [`crate::open`]).
pub(crate) struct Parts {
    pub pool: AnyPool,
    pub listen_url: Option<String>,
    pub writer: Option<AnyPool>,
    pub durability: Option<Arc<Durability>>,
    pub backend: Backend,
    pub keys: Keys,
    pub clock: SharedClock,
    pub entropy: SharedEntropy,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub(crate) fn from_parts(p: Parts) -> Store {
        Store {
            inner: Arc::new(Inner {
                pool: p.pool,
                listen_url: p.listen_url,
                writer: p.writer,
                durability: p.durability,
                backend: p.backend,
                keys: p.keys,
                clock: p.clock,
                entropy: p.entropy,
            }),
        }
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

    /// The keyring and the tenants' unwrapped keys.
    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// PostgreSQL: the URL to listen for notifications on (`None` on SQLite).
    pub(crate) fn listen_url(&self) -> Option<&str> {
        self.inner.listen_url.as_deref()
    }

    /// Deferred log flushes (see [`crate::durability`]), when on.
    pub(crate) fn durability(&self) -> Option<&Durability> {
        self.inner.durability.as_deref()
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
    /// milliseconds when [`crate::StoreOptions::sqlite_background_checkpoint`] is set; nothing
    /// to do on PostgreSQL.
    ///
    /// Under sustained writes such a checkpoint never quite catches up with the log's end, and a
    /// log starts again from the beginning only after a checkpoint that has: left alone it would
    /// grow without bound. The writer therefore still checkpoints itself once the log holds
    /// [`crate::StoreOptions::sqlite_writer_checkpoint_frames`]; as the writer is the only
    /// connection that writes, its next transaction then restarts the log, and as this
    /// background copy has already done most of the work, the writer's share is small.
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
