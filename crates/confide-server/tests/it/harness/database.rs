//! The test app's database: a SQLite file in the app's temporary directory, or a fresh
//! PostgreSQL database on the server `CONFIDE_TEST_POSTGRES_URL` names, dropped at the end.

use confide_core::entropy::OsEntropy;
use sqlx::{ConnectOptions, Connection, Executor};
use std::path::Path;
use std::str::FromStr;

pub(super) struct Database {
    /// The URL the server opens.
    pub url: String,
    /// PostgreSQL: (admin URL, database name), to drop at the end.
    postgres: Option<(String, String)>,
}

impl Database {
    pub fn sqlite(dir: &Path) -> Database {
        Database {
            url: format!("sqlite://{}/confide.db", dir.display()),
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (the test is skipped) when
    /// `CONFIDE_TEST_POSTGRES_URL` is not set.
    pub async fn postgres() -> Option<Database> {
        let Ok(admin) = std::env::var("CONFIDE_TEST_POSTGRES_URL") else {
            eprintln!("skipped: set CONFIDE_TEST_POSTGRES_URL to run the PostgreSQL variant");
            return None;
        };
        let name = format!(
            "confide_it_{}",
            hex::encode(confide_core::entropy::random_array::<6>(&OsEntropy))
        );
        admin_exec(&admin, &format!("CREATE DATABASE {name}")).await;
        Some(Database {
            url: with_database(&admin, &name),
            postgres: Some((admin, name)),
        })
    }

    /// Drops a PostgreSQL test database (SQLite goes with the temporary directory).
    pub async fn remove(&self) {
        if let Some((admin, name)) = &self.postgres {
            admin_exec(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

/// A connection outside the server's pool.
pub(super) async fn raw_connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn admin_exec(url: &str, sql: &str) {
    let mut conn = raw_connect(url).await;
    conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// `url` with its database (path) replaced by `db`, keeping any query string.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
