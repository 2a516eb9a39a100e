//! The conformance cases, each run against every engine by `main.rs`.

use crate::harness::{TestDb, open_store};
use confide_core::audit::{Actor, AuditEntry, AuditEvent, ChainBreak, Sealer, next_entry};
use confide_core::email::Email;
use confide_core::entropy::{OsEntropy, random_array};
use confide_core::ids::TenantId;
use confide_core::phone::Phone;
use confide_store::audit::Verification;
use confide_store::channels::NewChannel;
use confide_store::contacts::NewContact;
use confide_store::conversations::{Direction, NewMessage, Stored};
use confide_store::{Backend, Store, StoreError};
use secrecy::SecretString;
use sqlx::{AnyConnection, Executor, Row};

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

pub async fn migrations_are_current_and_idempotent(db: &TestDb) {
    db.store.ready().await.unwrap();
    // Opening again applies nothing new and still reports ready.
    let again = open_store(&db.options, db.keyring.clone(), db.clock.clone()).await;
    again.ready().await.unwrap();
    again.close().await;
}

pub async fn tenant_creation_writes_keys_roles_owner_and_audit(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let tenants = db.store.list_tenants().await.unwrap();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].name, "Acme");
    let mut raw = db.raw().await;
    for (table, want) in [
        ("tenant_keys", 2i64),
        ("roles", 4),
        ("users", 1),
        ("principals", 1),
    ] {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"
        )))
        .bind(t.to_string())
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
        assert_eq!(n, want, "{table}");
    }
    match db.store.audit_verify(t).await.unwrap() {
        Verification::Intact { entries } => {
            assert_eq!(entries, 2, "tenant.created and user.created")
        }
        other => panic!("chain broken: {other:?}"),
    }
    let page = db.store.audit_page(t, None, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["user.created", "tenant.created"]
    );
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

pub async fn secrets_and_personal_data_never_reach_the_disk_in_clear(db: &TestDb) {
    let control = marker("tenant-name-in-clear");
    let t = tenant(&db.store, &control).await;
    let token = marker("EAAGaccesstoken");
    let secret = marker("appsecret");
    let verify = marker("verifytoken");
    let name = marker("Sheena Nelson");
    let body = marker("my card number is");
    let digits: String = random_array::<5>(&OsEntropy)
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let phone = format!("+1555{digits}42");
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s
        .create_channel(
            NewChannel {
                phone_number_id: "106540352242922".into(),
                waba_id: "102290129340398".into(),
                display_phone_number: "15550783881".into(),
                access_token: SecretString::from(token.clone()),
                app_secret: SecretString::from(secret.clone()),
                verify_token: SecretString::from(verify.clone()),
                graph_base_url: "http://127.0.0.1:1".into(),
            },
            Actor::Cli,
        )
        .await
        .unwrap();
    let c = s
        .create_contact(contact(Some(&phone), &name), Actor::Cli)
        .await
        .unwrap();
    let conv = s.open_conversation(c.id, ch.id).await.unwrap();
    let m = NewMessage {
        direction: Direction::Inbound,
        wamid: Some("wamid.scan".into()),
        kind: "text".into(),
        body: serde_json::json!({"body": body}),
        status: "received".into(),
        at_micros: 1,
    };
    s.insert_message(conv, m).await.unwrap();
    s.commit().await.unwrap();

    // The data is really there and readable through the store.
    let mut s = db.store.read_scope(t).await.unwrap();
    assert_eq!(
        s.get_contact(c.id).await.unwrap().name.as_deref(),
        Some(name.as_str())
    );
    let secrets = s.channel_secrets(ch.id).await.unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&secrets.app_secret),
        secret
    );
    drop(s);

    let bytes = disk_bytes(db).await;
    assert!(
        contains(&bytes, &control),
        "the scan must see plaintext that is stored in clear"
    );
    for planted in [&token, &secret, &verify, &name, &body, &phone, &phone[1..]] {
        assert!(
            !contains(&bytes, planted),
            "found {planted:?} in clear on disk"
        );
    }
}

pub async fn ciphertext_swapped_between_rows_does_not_decrypt(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let a = s
        .create_contact(contact(None, "Alice"), Actor::Cli)
        .await
        .unwrap();
    let b = s
        .create_contact(contact(None, "Bob"), Actor::Cli)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut raw = db.raw().await;
    let name_of = |row: sqlx::any::AnyRow| row.get::<Vec<u8>, _>(0);
    let ca = name_of(
        sqlx::query("SELECT name_ct FROM contacts WHERE contact_id = $1")
            .bind(a.id.to_string())
            .fetch_one(&mut raw)
            .await
            .unwrap(),
    );
    let cb = name_of(
        sqlx::query("SELECT name_ct FROM contacts WHERE contact_id = $1")
            .bind(b.id.to_string())
            .fetch_one(&mut raw)
            .await
            .unwrap(),
    );
    for (id, ct) in [(a.id, cb), (b.id, ca)] {
        sqlx::query("UPDATE contacts SET name_ct = $1 WHERE contact_id = $2")
            .bind(ct)
            .bind(id.to_string())
            .execute(&mut raw)
            .await
            .unwrap();
    }
    let mut s = db.store.read_scope(t).await.unwrap();
    assert!(matches!(
        s.get_contact(a.id).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        s.get_contact(b.id).await,
        Err(StoreError::Corrupt(_))
    ));
}

pub async fn contacts_are_found_by_blind_index_only_within_their_tenant(db: &TestDb) {
    let a = tenant(&db.store, "A").await;
    let b = tenant(&db.store, "B").await;
    let mut s = db.store.scope(a).await.unwrap();
    let ca = s
        .create_contact(contact(Some("+16505551234"), "Sheena"), Actor::Cli)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut s = db.store.scope(a).await.unwrap();
    let dup = s
        .create_contact(contact(Some("+1 650 555 1234"), "Again"), Actor::Cli)
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(_))),
        "same phone twice in one tenant"
    );
    drop(s);
    let mut s = db.store.scope(b).await.unwrap();
    // The same number may be a contact of another tenant; its index differs.
    s.create_contact(contact(Some("+16505551234"), "Other"), Actor::Cli)
        .await
        .unwrap();
    assert!(
        s.find_contact_by_phone(&Phone::parse("+16505559999").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    s.commit().await.unwrap();
    let mut s = db.store.read_scope(a).await.unwrap();
    let found = s
        .find_contact_by_phone(&Phone::parse("16505551234").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, ca.id);
    assert_eq!(found.name.as_deref(), Some("Sheena"));
    let mut raw = db.raw().await;
    let distinct: i64 = sqlx::query("SELECT COUNT(DISTINCT phone_bidx) FROM contacts")
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        distinct, 2,
        "per-tenant blind indexes differ for the same number"
    );
}

pub async fn messages_dedupe_on_wamid(db: &TestDb) {
    let t = tenant(&db.store, "Acme").await;
    let mut s = db.store.scope(t).await.unwrap();
    let ch = s.create_channel(channel("111"), Actor::Cli).await.unwrap();
    let c = s
        .create_contact(contact(Some("+16505551234"), "Sheena"), Actor::Cli)
        .await
        .unwrap();
    let conv = s.open_conversation(c.id, ch.id).await.unwrap();
    assert_eq!(
        s.open_conversation(c.id, ch.id).await.unwrap(),
        conv,
        "one open conversation per pair"
    );
    let m = |text: &str| NewMessage {
        direction: Direction::Inbound,
        wamid: Some("wamid.HBgL1".into()),
        kind: "text".into(),
        body: serde_json::json!({"body": text}),
        status: "received".into(),
        at_micros: 5,
    };
    assert!(matches!(
        s.insert_message(conv, m("first")).await.unwrap(),
        Stored::Inserted(_)
    ));
    assert_eq!(
        s.insert_message(conv, m("retry")).await.unwrap(),
        Stored::Duplicate
    );
    let list = s.list_messages(conv, 10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].body["body"], "first");
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

pub async fn kek_rotation_under_live_writes_keeps_everything_readable(db: &TestDb) {
    let tenants = vec![tenant(&db.store, "A").await, tenant(&db.store, "B").await];
    let old_kek = db.keyring.primary_kek_id().to_string();
    let writer = {
        let store = db.store.clone();
        let tenants = tenants.clone();
        tokio::spawn(async move {
            let mut written = Vec::new();
            for i in 0..60 {
                let t = tenants[i % 2];
                let mut s = store.scope(t).await.unwrap();
                let c = s
                    .create_contact(contact(None, &format!("live-{i}")), Actor::Cli)
                    .await
                    .unwrap();
                s.commit().await.unwrap();
                written.push((t, c.id, format!("live-{i}")));
                tokio::task::yield_now().await;
            }
            written
        })
    };
    let mut ring = db.store.keyring_snapshot().unwrap();
    let new_kek = ring.rotate(db.clock.as_ref(), &OsEntropy);
    db.store.set_keyring(ring.clone()).unwrap();
    let rewrapped = db.store.rewrap_all_keys().await.unwrap();
    assert_eq!(rewrapped, 4, "two keys per tenant");
    let written = writer.await.unwrap();
    let usage = db.store.kek_usage().await.unwrap();
    assert!(usage.iter().all(|u| u.kek_id == new_kek), "{usage:?}");

    // Remove the old KEK and read everything through a fresh store (no cached keys).
    ring.remove(&old_kek).unwrap();
    let fresh = open_store(&db.options, ring, db.clock.clone()).await;
    for (t, id, name) in written {
        let mut s = fresh.read_scope(t).await.unwrap();
        assert_eq!(
            s.get_contact(id).await.unwrap().name.as_deref(),
            Some(name.as_str())
        );
    }
    fresh.close().await;
}

/// A tenant with entries 1..=5 in its audit chain.
async fn audited_tenant(db: &TestDb) -> TenantId {
    let t = tenant(&db.store, "Audited").await; // entries 1 and 2
    let mut s = db.store.scope(t).await.unwrap();
    for i in 0..3 {
        s.audit(&AuditEvent::new(
            Actor::System,
            "test.event",
            format!("thing:{i}"),
        ))
        .await
        .unwrap();
    }
    s.commit().await.unwrap();
    assert_eq!(
        db.store.audit_verify(t).await.unwrap(),
        Verification::Intact { entries: 5 }
    );
    t
}

/// Lifts the append-only guard, as an attacker with database superuser rights could.
async fn tamper_conn(db: &TestDb) -> AnyConnection {
    let mut raw = db.raw().await;
    match db.backend() {
        Backend::Sqlite => {
            exec(&mut raw, "DROP TRIGGER audit_entries_no_update")
                .await
                .unwrap();
            exec(&mut raw, "DROP TRIGGER audit_entries_no_delete")
                .await
                .unwrap();
        }
        Backend::Postgres => {
            exec(
                &mut raw,
                "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_change",
            )
            .await
            .unwrap();
        }
    }
    raw
}

async fn broken(db: &TestDb, t: TenantId) -> ChainBreak {
    match db.store.audit_verify(t).await.unwrap() {
        Verification::Broken(b) => b,
        other => panic!("tampering not detected: {other:?}"),
    }
}

pub async fn audit_chain_verifies_and_names_edited_entry(db: &TestDb) {
    let t = audited_tenant(db).await;
    let mut raw = tamper_conn(db).await;
    sqlx::query("UPDATE audit_entries SET target = 'thing:other' WHERE tenant_id = $1 AND seq = 4")
        .bind(t.to_string())
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(broken(db, t).await, ChainBreak::Altered { seq: 4 });
}

pub async fn audit_chain_names_deleted_entry(db: &TestDb) {
    let t = audited_tenant(db).await;
    let mut raw = tamper_conn(db).await;
    sqlx::query("DELETE FROM audit_entries WHERE tenant_id = $1 AND seq = 3")
        .bind(t.to_string())
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(broken(db, t).await.seq(), 3);
    // Deleting the newest entry is seen through the head.
    sqlx::query("DELETE FROM audit_entries WHERE tenant_id = $1 AND seq >= 3")
        .bind(t.to_string())
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        broken(db, t).await,
        ChainBreak::Truncated { last: 2, head: 5 }
    );
}

pub async fn audit_chain_names_reordered_entries(db: &TestDb) {
    let t = audited_tenant(db).await;
    let mut raw = tamper_conn(db).await;
    for (from, to) in [(2, -1), (3, 2), (-1, 3)] {
        sqlx::query("UPDATE audit_entries SET seq = $1 WHERE tenant_id = $2 AND seq = $3")
            .bind(to)
            .bind(t.to_string())
            .bind(from)
            .execute(&mut raw)
            .await
            .unwrap();
    }
    assert_eq!(broken(db, t).await.seq(), 2);
}

struct NotTheKey;
impl Sealer for NotTheKey {
    fn seal(&self, hash: &[u8; 32]) -> [u8; 32] {
        *hash
    }
}

pub async fn audit_chain_names_inserted_entry(db: &TestDb) {
    let t = audited_tenant(db).await;
    let raw_head = |r: sqlx::any::AnyRow| -> (i64, [u8; 32]) {
        (r.get(0), r.get::<Vec<u8>, _>(1).try_into().unwrap())
    };
    let mut raw = tamper_conn(db).await;
    let head = raw_head(
        sqlx::query("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(t.to_string())
            .fetch_one(&mut raw)
            .await
            .unwrap(),
    );
    // A perfectly chained entry, made without the keyring's seal key, with the head moved too.
    let forged: AuditEntry = next_entry(
        &t.to_string(),
        Some(head),
        42,
        &AuditEvent::new(Actor::System, "consent.opted_in", "contact:x"),
        &NotTheKey,
    );
    sqlx::query(
        "INSERT INTO audit_entries (tenant_id, seq, at, actor, action, target, request_id, details, prev_hash, hash, seal) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(forged.tenant_id.clone())
    .bind(forged.seq)
    .bind(forged.at_micros)
    .bind(forged.actor.clone())
    .bind(forged.action.clone())
    .bind(forged.target.clone())
    .bind(forged.request_id.clone())
    .bind(forged.details.clone())
    .bind(forged.prev_hash.to_vec())
    .bind(forged.hash.to_vec())
    .bind(forged.seal.to_vec())
    .execute(&mut raw)
    .await
    .unwrap();
    sqlx::query("UPDATE audit_heads SET seq = $1, hash = $2 WHERE tenant_id = $3")
        .bind(forged.seq)
        .bind(forged.hash.to_vec())
        .bind(t.to_string())
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(broken(db, t).await, ChainBreak::Forged { seq: 6 });
}

pub async fn database_refuses_update_and_delete_of_audit_rows(db: &TestDb) {
    let t = audited_tenant(db).await;
    let mut raw = db.raw().await;
    let tid = t.to_string();
    let update = format!("UPDATE audit_entries SET action = 'x' WHERE tenant_id = '{tid}'");
    let delete = format!("DELETE FROM audit_entries WHERE tenant_id = '{tid}'");
    assert!(
        exec(&mut raw, &update).await.is_err(),
        "UPDATE must be refused even for the owner"
    );
    assert!(
        exec(&mut raw, &delete).await.is_err(),
        "DELETE must be refused even for the owner"
    );
    if db.backend() == Backend::Postgres {
        // The application role has no UPDATE/DELETE privilege at all (checked before triggers).
        exec(&mut raw, "SET ROLE confide_app").await.unwrap();
        let err = exec(&mut raw, &delete).await.unwrap_err().to_string();
        assert!(err.contains("permission denied"), "{err}");
        exec(&mut raw, "RESET ROLE").await.unwrap();
        assert!(
            exec(&mut raw, "TRUNCATE audit_entries").await.is_err(),
            "TRUNCATE must be refused"
        );
    }
    assert_eq!(
        db.store.audit_verify(t).await.unwrap(),
        Verification::Intact { entries: 5 }
    );
}

pub async fn tenant_scope_never_returns_another_tenants_rows(db: &TestDb) {
    let a = tenant(&db.store, "A").await;
    let b = tenant(&db.store, "B").await;
    let mut s = db.store.scope(b).await.unwrap();
    let cb = s
        .create_contact(contact(Some("+16505550000"), "Secret of B"), Actor::Cli)
        .await
        .unwrap();
    let chb = s.create_channel(channel("222"), Actor::Cli).await.unwrap();
    s.commit().await.unwrap();
    let mut s = db.store.read_scope(a).await.unwrap();
    assert!(matches!(
        s.get_contact(cb.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.get_channel(chb.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.channel_secrets(chb.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.list_channels().await.unwrap().is_empty());
    assert!(
        s.find_contact_by_phone(&Phone::parse("+16505550000").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(db.store.channel_tenant(chb.id).await.unwrap(), Some(b));
}

pub async fn row_level_security_hides_other_tenants(db: &TestDb) {
    let a = tenant(&db.store, "A").await;
    let b = tenant(&db.store, "B").await;
    for t in [a, b] {
        let mut s = db.store.scope(t).await.unwrap();
        s.create_contact(contact(None, "someone"), Actor::Cli)
            .await
            .unwrap();
        s.commit().await.unwrap();
    }
    assert_eq!(db.backend(), Backend::Postgres);
    let mut raw = db.raw().await;
    exec(&mut raw, "SET ROLE confide_app").await.unwrap();
    let count = |sql: &'static str, t: Option<TenantId>, filter: TenantId| {
        let mut conn_sql = String::from("BEGIN;");
        if let Some(t) = t {
            conn_sql.push_str(&format!(
                "SELECT set_config('confide.tenant_id', '{t}', true);"
            ));
        }
        (conn_sql, sql, filter)
    };
    for (setting, filter, want) in [
        (Some(a), a, 1i64),
        (Some(b), a, 0),
        (Some(b), b, 1),
        (None, a, 0),
    ] {
        let (begin, sql, filter) = count(
            "SELECT COUNT(*) FROM contacts WHERE tenant_id = $1",
            setting,
            filter,
        );
        exec(&mut raw, &begin).await.unwrap();
        let n: i64 = sqlx::query(sql)
            .bind(filter.to_string())
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        exec(&mut raw, "COMMIT").await.unwrap();
        assert_eq!(n, want, "tenant setting {setting:?}, rows of {filter}");
    }
    // Nor can the application role write a row for another tenant.
    exec(
        &mut raw,
        &format!("BEGIN; SELECT set_config('confide.tenant_id', '{a}', true);"),
    )
    .await
    .unwrap();
    let err = sqlx::query("INSERT INTO contacts (tenant_id, contact_id, labels, created_at, updated_at) VALUES ($1, 'x', '[]', 0, 0)")
        .bind(b.to_string())
        .execute(&mut raw)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("row-level security"), "{err}");
    exec(&mut raw, "ROLLBACK").await.unwrap();
}

/// Several instances starting together migrate once (sqlx's migrator holds an advisory lock).
pub async fn several_instances_may_migrate_the_same_database_at_once(
    db: &crate::harness::Unmigrated,
) {
    let run = || confide_store::migrate::run(&db.options, Backend::Postgres);
    // Four connections race (concurrently, on one task): each must succeed.
    let (a, b, c, d) = tokio::join!(run(), run(), run(), run());
    for r in [a, b, c, d] {
        r.unwrap();
    }
    let keyring =
        confide_crypto::keyring::Keyring::generate(&confide_core::clock::SystemClock, &OsEntropy);
    let store = Store::open(
        &db.options,
        keyring,
        None,
        std::sync::Arc::new(confide_core::clock::SystemClock),
        std::sync::Arc::new(OsEntropy),
    )
    .await
    .unwrap();
    store.ready().await.unwrap();
    tenant(&store, "After concurrent migrations").await;
    store.close().await;
}
