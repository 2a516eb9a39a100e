//! Fresh databases for tests.

use confide_core::clock::{ManualClock, SharedClock};
use confide_core::entropy::{OsEntropy, SharedEntropy};
use confide_crypto::keyring::Keyring;
use confide_store::{Backend, Store, StoreOptions};
use sqlx::{AnyConnection, ConnectOptions, Connection, Executor};
use std::str::FromStr;
use std::sync::Arc;

pub struct TestDb {
    pub store: Store,
    pub options: StoreOptions,
    pub clock: Arc<ManualClock>,
    pub keyring: Keyring,
    /// SQLite: the directory holding the database files.
    pub dir: Option<tempfile::TempDir>,
    /// PostgreSQL: (admin url, database name, url of the test database).
    pub pg: Option<(String, String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        Self::sqlite_with(|_| {}).await
    }

    /// A fresh SQLite database opened with adjusted options.
    pub async fn sqlite_with(adjust: impl FnOnce(&mut StoreOptions)) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/confide.db", dir.path().display());
        let mut options = StoreOptions::new(url);
        adjust(&mut options);
        Self::open(options, Some(dir), None).await
    }

    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin) = std::env::var("CONFIDE_TEST_POSTGRES_URL") else {
            eprintln!(
                "skipped: set CONFIDE_TEST_POSTGRES_URL to run the PostgreSQL conformance suite"
            );
            return None;
        };
        let name = format!(
            "confide_test_{}",
            hex::encode(confide_core::entropy::random_array::<6>(&OsEntropy))
        );
        let mut conn = admin_conn(&admin).await;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        conn.close().await.unwrap();
        let url = with_database(&admin, &name);
        Some(
            Self::open(
                StoreOptions::new(url.clone()),
                None,
                Some((admin, name, url)),
            )
            .await,
        )
    }

    /// A fresh, empty PostgreSQL database (no store opened, so nothing migrated yet).
    pub async fn postgres_unmigrated() -> Option<Unmigrated> {
        let admin = std::env::var("CONFIDE_TEST_POSTGRES_URL").ok()?;
        let name = format!(
            "confide_test_{}",
            hex::encode(confide_core::entropy::random_array::<6>(&OsEntropy))
        );
        let mut conn = admin_conn(&admin).await;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        conn.close().await.unwrap();
        let url = with_database(&admin, &name);
        Some(Unmigrated {
            admin,
            name,
            options: StoreOptions::new(url),
        })
    }

    async fn open(
        options: StoreOptions,
        dir: Option<tempfile::TempDir>,
        pg: Option<(String, String, String)>,
    ) -> TestDb {
        let clock = Arc::new(ManualClock::at_epoch_2026());
        let keyring = Keyring::generate(clock.as_ref(), &OsEntropy);
        let store = open_store(&options, keyring.clone(), clock.clone()).await;
        TestDb {
            store,
            options,
            clock,
            keyring,
            dir,
            pg,
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// A raw connection as the login role (superuser on the test PostgreSQL; no RLS, no role).
    pub async fn raw(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match &self.pg {
            Some((_, _, url)) => url.clone(),
            None => self.options.url.clone(),
        };
        sqlx::any::AnyConnectOptions::from_str(&url)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name, _)) = self.pg {
            let mut conn = admin_conn(&admin).await;
            conn.execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await
            .unwrap();
        }
    }
}

pub async fn open_store(
    options: &StoreOptions,
    keyring: Keyring,
    clock: Arc<ManualClock>,
) -> Store {
    let clock: SharedClock = clock;
    let entropy: SharedEntropy = Arc::new(OsEntropy);
    Store::open(options, keyring, None, clock, entropy)
        .await
        .unwrap()
}

async fn admin_conn(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The same server URL naming another database.
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

/// A PostgreSQL database nobody has migrated yet.
pub struct Unmigrated {
    admin: String,
    name: String,
    pub options: StoreOptions,
}

impl Unmigrated {
    pub async fn drop_database(self) {
        let mut conn = admin_conn(&self.admin).await;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .await
        .unwrap();
    }
}
