//! Group commit with the disk flush taken off the writer's path (SQLite with
//! `synchronous = full`).
//!
//! With `synchronous = FULL`, SQLite flushes its write-ahead log inside every `COMMIT`: the one
//! writer connection then sits idle for the whole flush, and nothing else can be written
//! meanwhile. The ingest writer instead opens its transactions with
//! [`Store::scope_synced_later`]: that one commit runs at `synchronous = NORMAL` (the frames are
//! written to the log but not flushed), and the writer calls [`Store::sync_log`] afterwards,
//! on another task, before it answers anyone, while its next round is already being written.
//! One flush of the log file covers every frame written before it, so one flush answers every
//! round committed since the previous one.
//!
//! Why this is as durable as `FULL`: a request is answered only after a flush that began after
//! its commit had written its frames; SQLite's recovery keeps every transaction whose commit
//! frame is in the log with valid checksums. A checkpoint flushes the log before it copies
//! frames into the database (at `NORMAL` too), and the log restarts from its beginning only once
//! every frame is in the database file, which the checkpoint has flushed; so a later round never
//! overwrites frames an earlier round still depends on.
//!
//! Every other write keeps `FULL`: the writer pool's connection is switched back before anyone
//! else acquires it ([`Durability::restore_on_acquire`]).

use crate::error::StoreError;
use crate::store::Store;
use crate::tx::set_tenant;
use sqlx::AnyConnection;
use sqlx::{Any, Executor, SqlSafeStr, Transaction};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Whether commits may leave the log flush to [`Store::sync_log`], and the log to flush.
#[derive(Debug, Default)]
pub(crate) struct Durability {
    /// SQLite's write-ahead log, once known, when deferred flushes are on (a database file,
    /// `FULL`).
    wal: OnceLock<PathBuf>,
    /// The writer connection runs at `NORMAL` until it is next acquired.
    lowered: AtomicBool,
}

impl Durability {
    /// Turns deferred flushes on for the database file at `db_path` (empty: in memory, off).
    pub(crate) fn set_database_file(&self, db_path: &str) {
        if !db_path.is_empty() {
            let _ = self.wal.set(PathBuf::from(format!("{db_path}-wal")));
        }
    }

    fn wal(&self) -> Option<&PathBuf> {
        self.wal.get()
    }

    /// The writer pool's `before_acquire`: a connection left at `NORMAL` by the ingest writer
    /// goes back to `FULL` before anything else writes with it.
    pub(crate) async fn restore_on_acquire(
        this: &Arc<Durability>,
        conn: &mut AnyConnection,
    ) -> Result<bool, sqlx::Error> {
        if this.lowered.swap(false, Ordering::AcqRel) {
            conn.execute("PRAGMA synchronous = FULL").await?;
        }
        Ok(true)
    }
}

impl Store {
    /// Opens a write transaction for `tenant` whose commit may return before the log reaches the
    /// disk: the caller must await [`Store::sync_log`] after the commit and before it treats the
    /// writes as durable (before answering anyone). See the module documentation. On
    /// PostgreSQL, in memory, or with `synchronous = normal`, this is [`Store::scope`].
    pub async fn scope_synced_later(
        &self,
        tenant: confide_core::ids::TenantId,
    ) -> Result<crate::Scope<'_>, StoreError> {
        let Some(durability) = self.durability().filter(|d| d.wal().is_some()) else {
            return self.scope(tenant).await;
        };
        let mut conn = self.write_pool().acquire().await?;
        // Marked first: if anything below fails, the next acquire still restores FULL.
        durability.lowered.store(true, Ordering::Release);
        conn.execute("PRAGMA synchronous = NORMAL").await?;
        let mut tx: Transaction<'static, Any> =
            Transaction::begin(conn, Some("BEGIN IMMEDIATE".into_sql_str())).await?;
        let tenant_text = tenant.to_string();
        set_tenant(&mut tx, self.backend(), &tenant_text).await?;
        let keys = self.keys().tenant(&mut tx, tenant).await?;
        Ok(crate::Scope::from_parts(self, tenant, tx, keys))
    }

    /// Flushes SQLite's write-ahead log to the disk (on a blocking thread): after it returns,
    /// every transaction committed before it was called is durable. Nothing to do on
    /// PostgreSQL, in memory, or with `synchronous = normal`.
    pub async fn sync_log(&self) -> Result<(), StoreError> {
        let Some(wal) = self.durability().and_then(|d| d.wal().cloned()) else {
            return Ok(());
        };
        let flushed = tokio::task::spawn_blocking(move || std::fs::File::open(&wal)?.sync_data())
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r);
        flushed.map_err(|e| StoreError::Database(sqlx::Error::Io(e)))
    }
}

impl crate::Scope<'_> {
    /// SQLite's `PRAGMA synchronous` on this scope's connection (2: FULL, 1: NORMAL); `None`
    /// on PostgreSQL. For the tests that show which commits wait for the disk.
    #[doc(hidden)]
    pub async fn sqlite_synchronous(&mut self) -> Result<Option<i64>, StoreError> {
        if self.store.backend() != crate::Backend::Sqlite {
            return Ok(None);
        }
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(self.conn())
            .await?;
        Ok(Some(level))
    }
}
