//! The test app's database: a SQLite file in the app's temporary directory, or a fresh
//! PostgreSQL database on the server `CONFIDE_TEST_POSTGRES_URL` names, dropped at the end.

use confide_app::operator::store::scratch::ScratchDatabase;
use sqlx::ConnectOptions;
use std::path::Path;
use std::str::FromStr;

pub(super) struct Database {
    /// The URL the server opens.
    pub url: String,
    /// PostgreSQL: the test's own database, dropped at the end.
    postgres: Option<ScratchDatabase>,
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
        let db = ScratchDatabase::create(&admin, "confide_it").await.unwrap();
        Some(Database {
            url: db.url.clone(),
            postgres: Some(db),
        })
    }

    /// Drops a PostgreSQL test database (SQLite goes with the temporary directory).
    pub async fn remove(&self) {
        if let Some(db) = &self.postgres {
            db.remove().await.unwrap();
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
