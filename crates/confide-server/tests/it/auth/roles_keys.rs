//! C6 and C9 beyond the matrix: custom roles, no escalation, the last owner, and API keys (shown
//! once, stored hashed, scoped to a role, revocable, last use recorded).

use crate::harness::{Auth, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_role_grants_exactly_its_permissions() {
    let app = TestApp::new().await;
    let t = app.tenant("Custom").await;
    let lead = &t.members["support-lead"]; // inbox.read + api_keys.manage
    assert_eq!(
        app.call(Method::GET, "/api/v1/api-keys", &lead.auth, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/users", &lead.auth, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = app.call(Method::GET, "/api/v1/me", &lead.auth, None).await;
    assert_eq!(
        r.body["permissions"],
        json!(["inbox.read", "api_keys.manage"])
    );
    // Changing the role changes what its members may do at their next request.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/roles/{}", t.roles["support-lead"]),
            &t.owner.auth,
            Some(json!({"permissions": ["inbox.read", "team.manage"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        app.call(Method::GET, "/api/v1/users", &lead.auth, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/api-keys", &lead.auth, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .call(Method::GET, "/api/v1/permissions", &lead.auth, None)
        .await;
    assert_eq!(
        r.body["permissions"].as_array().unwrap().len(),
        confide_core::permissions::Permission::ALL.len()
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            &t.owner.auth,
            Some(json!({"name": "x", "permissions": ["inbox.everything"]})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_permission")
    );
    assert!(
        app.audit_actions(t.id)
            .await
            .contains(&"role.changed".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_grants_a_permission_they_do_not_hold() {
    let app = TestApp::new().await;
    let t = app.tenant("Escalate").await;
    let admin = &t.members["admin"]; // everything but data.erase
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            &admin.auth,
            Some(json!({"name": "eraser", "permissions": ["data.erase"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Not through a user's role, an API key's role, or a support grant either.
    let owner_role = t.roles["owner"].to_string();
    let r = app
        .call(
            Method::POST,
            "/api/v1/users",
            &admin.auth,
            Some(json!({"email": "x@escalate.test", "role_id": owner_role})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{}", admin.user_id),
            &admin.auth,
            Some(json!({"role_id": owner_role})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &admin.auth,
            Some(json!({"name": "k", "role_id": owner_role})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A custom role with what the admin holds is fine.
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            &admin.auth,
            Some(json!({"name": "reader", "permissions": ["inbox.read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_roles_are_fixed_and_roles_in_use_stay() {
    let app = TestApp::new().await;
    let t = app.tenant("Fixed").await;
    for (m, body) in [
        (Method::PATCH, Some(json!({"name": "boss"}))),
        (Method::DELETE, None),
    ] {
        let r = app
            .call(
                m,
                &format!("/api/v1/roles/{}", t.roles["viewer"]),
                &t.owner.auth,
                body,
            )
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "builtin_role"));
    }
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/roles/{}", t.roles["support-lead"]),
            &t.owner.auth,
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "role_in_use"));
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            &t.owner.auth,
            Some(json!({"name": "temp", "permissions": []})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/roles/{id}"),
            &t.owner.auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_owner_cannot_be_removed_demoted_or_disabled() {
    let app = TestApp::new().await;
    let t = app.tenant("LastOwner").await;
    let path = format!("/api/v1/users/{}", t.owner.user_id);
    for body in [
        json!({"role_id": t.roles["admin"].to_string()}),
        json!({"status": "disabled"}),
    ] {
        let r = app
            .call(Method::PATCH, &path, &t.owner.auth, Some(body))
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_owner"));
    }
    let r = app.call(Method::DELETE, &path, &t.owner.auth, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_owner"));
    // With a second owner, the first may go.
    let second = app.add_member(&t, "owner").await;
    let r = app
        .call(
            Method::PATCH,
            &path,
            &second.auth,
            Some(json!({"role_id": t.roles["admin"].to_string()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let actions = app.audit_actions(t.id).await;
    assert!(actions.contains(&"user.role_changed".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_is_shown_once_stored_hashed_scoped_revocable_and_records_last_use() {
    let app = TestApp::new().await;
    let t = app.tenant("Keys").await;
    let (id, key) = app.api_key(&t, "viewer").await;
    assert!(key.starts_with("cfd_key_") && key.len() == 8 + 43);
    let r = app
        .call(Method::GET, "/api/v1/api-keys", &t.owner.auth, None)
        .await;
    let listed = r.body["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert!(!r.body.to_string().contains(&key), "never shown again");
    assert!(listed["last_used_at"].is_null());
    // Only the hash is stored.
    let mut conn = app.raw().await;
    for row in sqlx::query("SELECT key_hash FROM api_keys")
        .fetch_all(&mut conn)
        .await
        .unwrap()
    {
        let h: Vec<u8> = row.try_get(0).unwrap();
        assert_eq!(h, confide_crypto::token::hash_token(&key).to_vec());
        assert!(!h.windows(8).any(|w| w == b"cfd_key_"));
    }
    let bearer = Auth::Bearer(key.clone());
    app.clock.advance(time::Duration::minutes(5));
    let r = app.call(Method::GET, "/api/v1/me", &bearer, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["kind"], "api_key");
    assert_eq!(r.body["role"]["name"], "viewer");
    assert_eq!(
        app.call(Method::GET, "/api/v1/users", &bearer, None)
            .await
            .status,
        StatusCode::FORBIDDEN,
        "scoped to viewer"
    );
    let r = app
        .call(Method::GET, "/api/v1/api-keys", &t.owner.auth, None)
        .await;
    let listed = r.body["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["last_used_at"], "2026-01-01T00:05:00Z");
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            &t.owner.auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", &bearer, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let actions = app.audit_actions(t.id).await;
    assert!(
        actions.contains(&"api_key.created".to_string())
            && actions.contains(&"api_key.revoked".to_string())
    );
}
