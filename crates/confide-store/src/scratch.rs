//! Scratch databases: a fresh PostgreSQL database on a server, for the test suites and the
//! benchmarks (each test gets its own, dropped at the end). Nothing in the server uses this.

use crate::error::StoreError;
use confide_core::entropy::{OsEntropy, random_array};
use sqlx::{ConnectOptions, Connection, Executor};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

/// A database created on a PostgreSQL server, removed by [`ScratchDatabase::remove`] or, when
/// that never ran (a test that panicked), when the value is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    /// The URL naming the new database (on the admin URL's server, with its credentials).
    pub url: String,
    admin: String,
    name: String,
    removed: AtomicBool,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<random hex>` on the server `admin_url` names (its user must be
    /// allowed to create databases). `prefix` holds only lowercase letters, digits and `_`.
    pub async fn create(admin_url: &str, prefix: &str) -> Result<ScratchDatabase, StoreError> {
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(StoreError::Config(format!(
                "a scratch database prefix may hold only a-z, 0-9 and _, not {prefix:?}"
            )));
        }
        let name = format!("{prefix}_{}", hex::encode(random_array::<6>(&OsEntropy)));
        admin_exec(admin_url, &format!("CREATE DATABASE {name}")).await?;
        Ok(ScratchDatabase {
            url: with_database(admin_url, &name),
            admin: admin_url.to_string(),
            name,
            removed: AtomicBool::new(false),
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, closing whatever connections are still open to it.
    pub async fn remove(&self) -> Result<(), StoreError> {
        admin_exec(&self.admin, &drop_statement(&self.name)).await?;
        self.removed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn drop_statement(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
}

impl Drop for ScratchDatabase {
    /// A test that panicked never reached its clean-up: remove the database anyway, from a
    /// thread and runtime of its own (this may run inside another runtime).
    fn drop(&mut self) {
        if self.removed.load(Ordering::SeqCst) {
            return;
        }
        let (admin, sql) = (self.admin.clone(), drop_statement(&self.name));
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(admin_exec(&admin, &sql));
            }
        })
        .join();
    }
}

/// Runs one statement on its own connection to `url`.
pub async fn admin_exec(url: &str, sql: &str) -> Result<(), StoreError> {
    crate::backend::install_drivers();
    let mut conn = sqlx::any::AnyConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("database URL: {e}")))?
        .connect()
        .await?;
    conn.execute(sqlx::AssertSqlSafe(sql.to_string())).await?;
    conn.close().await?;
    Ok(())
}

/// `url` with its database (path) replaced by `db`, keeping any query string.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base
        .get(scheme_end..)
        .and_then(|rest| rest.find('/'))
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", base.get(..path_start).unwrap_or(base));
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
