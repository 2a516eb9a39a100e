//! Fresh databases for tests.

use confide_core::clock::{ManualClock, SharedClock};
use confide_core::entropy::{OsEntropy, SharedEntropy};
use confide_crypto::keyring::Keyring;
use confide_store::scratch::ScratchDatabase;
use confide_store::{Backend, Store, StoreOptions};
use sqlx::{AnyConnection, ConnectOptions};
use std::str::FromStr;
use std::sync::Arc;

pub struct TestDb {
    pub store: Store,
    pub options: StoreOptions,
    pub clock: Arc<ManualClock>,
    pub keyring: Keyring,
    /// SQLite: the directory holding the database files.
    pub dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the test's own database, dropped by `finish`.
    pub pg: Option<ScratchDatabase>,
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
        let db = ScratchDatabase::create(&admin, "confide_test")
            .await
            .unwrap();
        Some(Self::open(StoreOptions::new(db.url.clone()), None, Some(db)).await)
    }

    /// A fresh, empty PostgreSQL database (no store opened, so nothing migrated yet).
    pub async fn postgres_unmigrated() -> Option<Unmigrated> {
        let admin = std::env::var("CONFIDE_TEST_POSTGRES_URL").ok()?;
        let db = ScratchDatabase::create(&admin, "confide_test")
            .await
            .unwrap();
        Some(Unmigrated {
            options: StoreOptions::new(db.url.clone()),
            db,
        })
    }

    async fn open(
        options: StoreOptions,
        dir: Option<tempfile::TempDir>,
        pg: Option<ScratchDatabase>,
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
            Some(db) => db.url.clone(),
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
        if let Some(db) = self.pg {
            db.remove().await.unwrap();
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

/// A PostgreSQL database nobody has migrated yet.
pub struct Unmigrated {
    db: ScratchDatabase,
    pub options: StoreOptions,
}

impl Unmigrated {
    pub async fn drop_database(self) {
        self.db.remove().await.unwrap();
    }
}
