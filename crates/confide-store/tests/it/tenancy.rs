//! The walls between tenants: a scope never returns another tenant's rows, and on PostgreSQL
//! row-level security hides them from the application role whatever the query says.

use crate::fixtures::{channel, contact, exec, tenant};
use crate::harness::TestDb;
use confide_core::audit::Actor;
use confide_core::ids::TenantId;
use confide_core::phone::Phone;
use confide_store::{Backend, StoreError};
use sqlx::Row;

pub async fn tenant_scope_never_returns_another_tenants_rows(db: &TestDb) {
    let a = tenant(&db.store, "A").await;
    let b = tenant(&db.store, "B").await;
    let mut s = db.store.scope(b).await.unwrap();
    let cb = s
        .contacts()
        .create(contact(Some("+16505550000"), "Secret of B"), Actor::Cli)
        .await
        .unwrap();
    let chb = s.create_channel(channel("222"), Actor::Cli).await.unwrap();
    s.commit().await.unwrap();
    let mut s = db.store.read_scope(a).await.unwrap();
    assert!(matches!(
        s.contacts().get(cb.id).await,
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
        s.contacts()
            .find_by_phone(&Phone::parse("+16505550000").unwrap())
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
        s.contacts()
            .create(contact(None, "someone"), Actor::Cli)
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
