//! What the conformance cases share: tenants, contacts and channels to create, raw SQL, and
//! everything the database keeps on disk.

use crate::harness::TestDb;
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::entropy::{OsEntropy, random_array};
use confide_core::ids::TenantId;
use confide_core::phone::Phone;
use confide_store::channels::NewChannel;
use confide_store::contacts::NewContact;
use confide_store::{Backend, Store};
use secrecy::SecretString;
use sqlx::{AnyConnection, Executor};

pub(crate) fn marker(tag: &str) -> String {
    format!("{tag}-{}", hex::encode(random_array::<8>(&OsEntropy)))
}

pub async fn tenant(store: &Store, name: &str) -> TenantId {
    let email = Email::parse(&format!("{}@example.com", marker("owner"))).unwrap();
    store
        .create_tenant(name, &email, "$argon2id$not-a-real-hash", Actor::Cli)
        .await
        .unwrap()
        .tenant_id
}

pub(crate) fn contact(phone: Option<&str>, name: &str) -> NewContact {
    NewContact {
        phone: phone.map(|p| Phone::parse(p).unwrap()),
        name: Some(name.to_string()),
        ..NewContact::default()
    }
}

pub(crate) async fn exec(conn: &mut AnyConnection, sql: &str) -> Result<u64, sqlx::Error> {
    conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
        .await
        .map(|r| r.rows_affected())
}

pub fn channel(phone_number_id: &str) -> NewChannel {
    NewChannel {
        phone_number_id: phone_number_id.into(),
        waba_id: "waba".into(),
        display_phone_number: "15550001111".into(),
        access_token: SecretString::from("token"),
        app_secret: SecretString::from("secret"),
        verify_token: SecretString::from("verify"),
        graph_base_url: "http://127.0.0.1:1".into(),
    }
}

/// Everything on disk (SQLite database, WAL and shared memory; a PostgreSQL dump).
pub(crate) async fn disk_bytes(db: &TestDb) -> Vec<u8> {
    match db.backend() {
        Backend::Sqlite => {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(db.dir.as_ref().unwrap().path()).unwrap() {
                all.extend(std::fs::read(entry.unwrap().path()).unwrap());
            }
            all
        }
        Backend::Postgres => {
            let url = &db.pg.as_ref().unwrap().url;
            let out = tokio::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg(url)
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}

pub(crate) fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}
