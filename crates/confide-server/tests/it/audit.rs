//! The audit log over the API (C22): `GET /api/v1/audit` lists the caller's tenant's entries
//! newest first with keyset paging and an exact `action` filter, never another tenant's; and
//! `GET /api/v1/audit/verify` answers ok on an intact chain and, after an entry is edited
//! directly in the database, `ok: false` naming that entry. Both need `audit.read`.

use crate::harness::{Auth, Tenant, TestApp};
use axum::http::{Method, StatusCode};
use confide_app::operator::store::Backend;
use confide_core::audit::AuditEntry;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Every entry of the tenant, newest first, straight from the store.
async fn stored(app: &TestApp, t: &Tenant) -> Vec<AuditEntry> {
    app.state
        .operator_store()
        .audit_page(t.id, None, 500)
        .await
        .unwrap()
}

/// Walks the list with `query` (e.g. `limit=3`) and returns every page's entries in order.
async fn walk(app: &TestApp, auth: &Auth, query: &str) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit?{query}&cursor={c}"),
            None => format!("/api/v1/audit?{query}"),
        };
        let body = app.get_ok(auth, &path).await;
        pages += 1;
        all.extend(body["entries"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert!(body["next_cursor"].is_null(), "{body}");
                break;
            }
        }
        assert!(pages < 1000, "paging does not end");
    }
    (all, pages)
}

/// Edits entry `seq` of the tenant behind the store's back: the append-only triggers are
/// dropped (SQLite) or disabled (PostgreSQL) on a raw connection first.
async fn tamper_target(app: &TestApp, t: &Tenant, seq: i64) {
    let mut raw = app.raw().await;
    let ddl: &[&str] = match app.state.operator_store().backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_entries_no_update",
            "DROP TRIGGER audit_entries_no_delete",
        ],
        Backend::Postgres => &["ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_change"],
    };
    for q in ddl {
        sqlx::query(*q).execute(&mut raw).await.unwrap();
    }
    let done = sqlx::query(
        "UPDATE audit_entries SET target = 'thing:tampered' WHERE tenant_id = $1 AND seq = $2",
    )
    .bind(t.id.to_string())
    .bind(seq)
    .execute(&mut raw)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

async fn lists_pages_filters_and_verifies(app: &TestApp) {
    let a = app.tenant("Acme").await;
    let b = app.tenant("Beta").await;
    let owner = &a.owner.auth;
    let expected = stored(app, &a).await;
    assert!(expected.len() >= 8, "a fresh tenant has a few entries");
    let theirs: BTreeSet<String> = stored(app, &b)
        .await
        .iter()
        .map(|e| hex::encode(e.hash))
        .collect();

    // The first page: newest first, in the documented shape.
    let body = app.get_ok(owner, "/api/v1/audit").await;
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), expected.len().min(50));
    let top = &entries[0];
    let newest = &expected[0];
    assert_eq!(top["seq"], json!(newest.seq));
    assert_eq!(top["action"], json!(newest.action));
    assert_eq!(top["actor"], json!(newest.actor));
    assert_eq!(top["target"], json!(newest.target));
    assert_eq!(top["hash"], json!(hex::encode(newest.hash)));
    let details: Value = serde_json::from_str(&newest.details).unwrap();
    assert_eq!(top["details"], details);
    let at = top["at"].as_str().unwrap();
    assert!(at.starts_with("20") && at.ends_with('Z'), "{at}");
    for pair in entries.windows(2) {
        assert!(
            pair[0]["seq"].as_i64() > pair[1]["seq"].as_i64(),
            "newest first"
        );
    }

    // Paging walks every entry exactly once, newest first, and never shows the other tenant's.
    let (all, pages) = walk(app, owner, "limit=3").await;
    assert_eq!(pages, expected.len().div_ceil(3));
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let want: Vec<i64> = expected.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, want);
    for e in &all {
        assert!(!theirs.contains(e["hash"].as_str().unwrap()), "{e}");
    }
    // A limit that divides the count exactly still ends with a null cursor.
    let exact = expected.len();
    let (all, _) = walk(app, owner, &format!("limit={exact}")).await;
    assert_eq!(all.len(), exact);

    // The action filter is an exact match.
    let action = expected.last().unwrap().action.clone();
    let want: Vec<i64> = expected
        .iter()
        .filter(|e| e.action == action)
        .map(|e| e.seq)
        .collect();
    let (all, _) = walk(app, owner, &format!("limit=1&action={action}")).await;
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, want);
    assert!(all.iter().all(|e| e["action"] == json!(action)));
    let body = app
        .get_ok(owner, "/api/v1/audit?action=no.such.action")
        .await;
    assert_eq!(body, json!({"entries": [], "next_cursor": null}));

    // Tenant B sees only its own log.
    let (all, _) = walk(app, &b.owner.auth, "limit=200").await;
    let hashes: BTreeSet<String> = all
        .iter()
        .map(|e| e["hash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hashes, theirs);

    // Verification: intact, then the edited entry is named; the other tenant stays intact.
    let count = stored(app, &a).await.len();
    let body = app.get_ok(owner, "/api/v1/audit/verify").await;
    assert_eq!(body, json!({"ok": true, "entries": count}));
    tamper_target(app, &a, 3).await;
    let body = app.get_ok(owner, "/api/v1/audit/verify").await;
    assert_eq!(body["ok"], json!(false), "{body}");
    assert_eq!(body["entries"], json!(count));
    assert_eq!(body["break"]["seq"], json!(3), "{body}");
    assert_eq!(body["break"]["kind"], json!("edited"), "{body}");
    assert!(
        body["break"]["message"].as_str().unwrap().contains('3'),
        "{body}"
    );
    let body = app.get_ok(&b.owner.auth, "/api/v1/audit/verify").await;
    assert_eq!(body["ok"], json!(true), "{body}");
}

#[tokio::test]
async fn audit_lists_pages_filters_and_verifies() {
    let app = TestApp::new().await;
    lists_pages_filters_and_verifies(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn audit_lists_pages_filters_and_verifies_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    lists_pages_filters_and_verifies(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn audit_refuses_bad_cursor_and_limit() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let owner = &t.owner.auth;
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("cursor=not-a-cursor!", "invalid_cursor"),
        // A conversations cursor (`c1....`) is not an audit cursor.
        (
            "cursor=YzEuMTcwMDAwMDAwMDAwMDAwMC4wMTkwYTdhNC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDA",
            "invalid_cursor",
        ),
        // `a1.zero`, `a1.0`
        ("cursor=YTEuemVybw", "invalid_cursor"),
        ("cursor=YTEuMA", "invalid_cursor"),
    ] {
        let r = app
            .call(Method::GET, &format!("/api/v1/audit?{query}"), owner, None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        assert_eq!(r.code(), code, "{query}");
    }
    let body = app.get_ok(owner, "/api/v1/audit?limit=200").await;
    assert!(!body["entries"].as_array().unwrap().is_empty());
    app.finish().await;
}

#[tokio::test]
async fn audit_needs_audit_read() {
    let app = TestApp::new().await;
    let mut t = app.tenant("Acme").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            &t.owner.auth,
            Some(json!({"name": "key-keeper", "permissions": ["api_keys.manage", "inbox.read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    t.roles.insert(
        "key-keeper".into(),
        r.body["id"].as_str().unwrap().parse().unwrap(),
    );
    let member = app.add_member(&t, "key-keeper").await;
    let (_, key) = app.api_key(&t, "key-keeper").await;
    let (_, admin_key) = app.api_key(&t, "admin").await;
    for path in ["/api/v1/audit", "/api/v1/audit/verify"] {
        // Without audit.read: a custom role, and the built-in agent and viewer roles.
        for auth in [
            member.auth.clone(),
            Auth::Bearer(key.clone()),
            t.members["agent"].auth.clone(),
            t.members["viewer"].auth.clone(),
        ] {
            let r = app.call(Method::GET, path, &auth, None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
            assert_eq!(r.code(), "forbidden", "{path}");
        }
        let r = app.call(Method::GET, path, &Auth::None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        // Owner and admin have it, by session or API key.
        for auth in [
            t.owner.auth.clone(),
            t.members["admin"].auth.clone(),
            Auth::Bearer(admin_key.clone()),
        ] {
            app.get_ok(&auth, path).await;
        }
    }
    app.finish().await;
}
