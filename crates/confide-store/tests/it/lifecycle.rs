//! The store's life: migrations (current, idempotent, safe to race) and what creating a tenant
//! writes.

use crate::fixtures::tenant;
use crate::harness::{TestDb, open_store};
use confide_core::entropy::OsEntropy;
use confide_store::audit::Verification;
use confide_store::{Backend, Store};
use sqlx::Row;

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
