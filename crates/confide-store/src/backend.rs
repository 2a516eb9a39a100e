//! The two engines: which one a URL names, and how connections to it are set up.

use crate::StoreError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::str::FromStr;
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
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            sqlite_synchronous: "full".to_string(),
            postgres_app_role: "confide_app".to_string(),
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

/// Statements run on every new pooled connection.
fn session_setup(options: &StoreOptions, backend: Backend) -> Result<Vec<String>, StoreError> {
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
                // An 8 MiB page cache per connection and statement journals in memory: the
                // ingest writer's multi-row statements otherwise go to temporary files.
                "PRAGMA cache_size = -8192".to_string(),
                "PRAGMA temp_store = MEMORY".to_string(),
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

/// The application pool.
pub(crate) async fn connect_pool(
    options: &StoreOptions,
    backend: Backend,
) -> Result<AnyPool, StoreError> {
    let connect = connect_options(options, backend)?;
    let setup = std::sync::Arc::new(session_setup(options, backend)?);
    let max = match backend {
        // SQLite has one writer; a few readers are plenty.
        Backend::Sqlite => options.max_connections.clamp(1, 8),
        Backend::Postgres => options.max_connections.max(1),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
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
