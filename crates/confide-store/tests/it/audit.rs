//! The audit chain: verified, and every kind of tampering named (an edited, deleted, reordered or
//! forged entry); the database itself refuses to change or remove entries.

use crate::fixtures::{exec, tenant};
use crate::harness::TestDb;
use confide_core::audit::{Actor, AuditEntry, AuditEvent, ChainBreak, Sealer, next_entry};
use confide_core::ids::TenantId;
use confide_store::Backend;
use confide_store::audit::Verification;
use sqlx::{AnyConnection, Row};

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
