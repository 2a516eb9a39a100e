//! The two engines: which one a URL names, and how connections to it are set up.

use crate::durability::Durability;
use crate::error::StoreError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The engine behind a [`crate::Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(
                "database_url must start with sqlite: or postgres:".to_string(),
            ))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// Connections in the pool.
    pub max_connections: u32,
    /// SQLite `synchronous`: `full` (durable across power loss, the default) or `normal`.
    pub sqlite_synchronous: String,
    /// PostgreSQL role the server switches to after connecting (row-level security applies to
    /// it); empty to stay the login role (which must then be a role without BYPASSRLS).
    pub postgres_app_role: String,
    /// SQLite: a background task copies the WAL into the database file
    /// ([`crate::store::Store::checkpoint`]), so write transactions rarely pay for it; the writer then
    /// checkpoints itself only every [`Self::sqlite_writer_checkpoint_frames`]. Off (SQLite
    /// checkpoints as it commits, every 1,000 frames) for short-lived processes such as the CLI.
    pub sqlite_background_checkpoint: bool,
    /// SQLite, with background checkpoints: the log size (frames) at which the writer
    /// checkpoints itself, which bounds the log (32,768 frames of 4 KiB: 128 MiB).
    pub sqlite_writer_checkpoint_frames: u32,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            sqlite_synchronous: "full".to_string(),
            postgres_app_role: "confide_app".to_string(),
            sqlite_background_checkpoint: false,
            sqlite_writer_checkpoint_frames: 32768,
        }
    }
}

pub(crate) fn install_drivers() {
    sqlx::any::install_default_drivers();
}

/// Connect options, creating the SQLite file when missing.
pub(crate) fn connect_options(
    options: &StoreOptions,
    backend: Backend,
) -> Result<AnyConnectOptions, StoreError> {
    install_drivers();
    let url = match backend {
        Backend::Sqlite if !options.url.contains("mode=") => {
            let sep = if options.url.contains('?') { '&' } else { '?' };
            format!("{}{sep}mode=rwc", options.url)
        }
        _ => options.url.clone(),
    };
    let opts = AnyConnectOptions::from_str(&url)
        .map_err(|e| StoreError::Config(format!("database_url is not usable: {e}")))?;
    Ok(opts.disable_statement_logging())
}

/// Which of the two SQLite pools a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Reads (and, on PostgreSQL, everything).
    Shared,
    /// SQLite's one writer.
    Writer,
}

/// Statements run on every new pooled connection.
fn session_setup(
    options: &StoreOptions,
    backend: Backend,
    role: Role,
) -> Result<Vec<String>, StoreError> {
    match backend {
        Backend::Sqlite => {
            let sync = match options.sqlite_synchronous.as_str() {
                "full" => "FULL",
                "normal" => "NORMAL",
                other => {
                    return Err(StoreError::Config(format!(
                        "sqlite_synchronous must be full or normal, not {other:?}"
                    )));
                }
            };
            Ok(vec![
                "PRAGMA journal_mode = WAL".to_string(),
                format!("PRAGMA synchronous = {sync}"),
                "PRAGMA foreign_keys = ON".to_string(),
                "PRAGMA busy_timeout = 5000".to_string(),
                "PRAGMA trusted_schema = OFF".to_string(),
                // The writer keeps a 32 MiB page cache: it is the only connection that changes
                // the database, so its cache stays valid from one transaction to the next (a
                // reader's cache is dropped whenever the writer commits, so readers keep 2 MiB).
                format!(
                    "PRAGMA cache_size = {}",
                    match role {
                        Role::Writer => -32768,
                        Role::Shared => -2048,
                    }
                ),
                // Statement journals in memory: multi-row statements otherwise go to temporary
                // files.
                "PRAGMA temp_store = MEMORY".to_string(),
                // Deleted content is overwritten with zeros, so an erased row leaves no copy in
                // the database file's free space (see `crate::erasure`).
                "PRAGMA secure_delete = ON".to_string(),
                format!(
                    "PRAGMA wal_autocheckpoint = {}",
                    if role == Role::Writer && options.sqlite_background_checkpoint {
                        options.sqlite_writer_checkpoint_frames
                    } else {
                        1000
                    }
                ),
            ])
        }
        Backend::Postgres => {
            let role = options.postgres_app_role.trim();
            if role.is_empty() {
                return Ok(Vec::new());
            }
            if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(StoreError::Config(
                    "postgres_app_role may hold only letters, digits and _".to_string(),
                ));
            }
            Ok(vec![format!("SET ROLE {role}")])
        }
    }
}

/// The shared pool, SQLite's writer pool, and whether that writer may defer its flushes.
pub(crate) type Pools = (AnyPool, Option<AnyPool>, Option<Arc<Durability>>);

/// The application's pools: the shared one and, on SQLite, the writer's.
///
/// SQLite has one writer at a time. Every write transaction therefore goes through a pool of
/// exactly one long-lived connection: writers queue in the pool (fairly, without SQLite's
/// sleep-and-retry busy handler), and that connection's page cache stays warm. Readers use the
/// shared pool and never block the writer (WAL).
pub(crate) async fn connect_pools(
    options: &StoreOptions,
    backend: Backend,
) -> Result<Pools, StoreError> {
    match backend {
        Backend::Sqlite => {
            // A few readers are plenty.
            let shared = connect_pool(
                options,
                backend,
                Role::Shared,
                options.max_connections.clamp(1, 8),
                None,
            )
            .await?;
            // With `synchronous = full`, the ingest writer may leave its flushes to
            // `Store::sync_log` (see `crate::durability`); anything else writes at FULL.
            let durability =
                (options.sqlite_synchronous == "full").then(|| Arc::new(Durability::default()));
            let writer =
                connect_pool(options, backend, Role::Writer, 1, durability.clone()).await?;
            if let Some(d) = &durability {
                let file: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(&writer)
                        .await?;
                d.set_database_file(&file);
            }
            Ok((shared, Some(writer), durability))
        }
        Backend::Postgres => Ok((
            connect_pool(
                options,
                backend,
                Role::Shared,
                options.max_connections.max(1),
                None,
            )
            .await?,
            None,
            None,
        )),
    }
}

async fn connect_pool(
    options: &StoreOptions,
    backend: Backend,
    role: Role,
    max: u32,
    durability: Option<Arc<Durability>>,
) -> Result<AnyPool, StoreError> {
    let connect = connect_options(options, backend)?;
    let setup = Arc::new(session_setup(options, backend, role)?);
    let mut pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5));
    if role == Role::Writer {
        // Keep the one connection (and its cache) for the life of the process.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false);
        if let Some(d) = durability {
            pool = pool.before_acquire(move |conn, _meta| {
                let d = d.clone();
                Box::pin(async move { Durability::restore_on_acquire(&d, conn).await })
            });
        }
    }
    let pool = pool
        .after_connect(move |conn, _meta| {
            let setup = setup.clone();
            Box::pin(async move {
                for stmt in setup.iter() {
                    conn.execute(sqlx::AssertSqlSafe(stmt.clone())).await?;
                }
                Ok(())
            })
        })
        .connect_with(connect)
        .await?;
    Ok(pool)
}
