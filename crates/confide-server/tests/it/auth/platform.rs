//! C8: the platform operator sees tenants' metadata, creates and disables tenants, and reaches a
//! tenant's data only through a support grant the tenant made: time-boxed, scoped to a role,
//! revocable, audited.

use crate::harness::{Auth, TestApp, set_cookie_value, strong_password};
use axum::http::{Method, StatusCode};
use confide_core::email::Email;
use confide_core::entropy::OsEntropy;
use serde_json::json;

/// A platform admin who has changed the one-time password: (session, email, password).
pub async fn platform_admin(app: &TestApp) -> (Auth, String, String) {
    let n = app.unique();
    let email = format!("operator{n}@platform.test");
    let otp = format!("operator-one-time-{n}");
    let hash = app.state.auth.hasher.hash(&otp, &OsEntropy).unwrap();
    app.state
        .operator_store()
        .create_platform_admin(&Email::parse(&email).unwrap(), &hash)
        .await
        .unwrap();
    let first = platform_login(app, &email, &otp).await;
    let r = app
        .call(Method::GET, "/api/v1/platform/tenants", &first, None)
        .await;
    assert_eq!(r.code(), "password_change_required");
    let password = strong_password(n);
    let r = app
        .call(
            Method::POST,
            "/api/v1/platform/password",
            &first,
            Some(json!({"current_password": otp, "new_password": password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    (first, email, password)
}

pub async fn platform_login(app: &TestApp, email: &str, password: &str) -> Auth {
    let r = app
        .call(
            Method::POST,
            "/api/v1/platform/session",
            &Auth::None,
            Some(json!({"email": email, "password": password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    Auth::Platform {
        token: set_cookie_value(&r, confide_server::auth::PLATFORM_COOKIE).unwrap(),
        csrf: r.body["csrf_token"].as_str().unwrap().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admin_sees_metadata_only_and_can_create_and_disable_tenants() {
    let app = TestApp::new().await;
    let t = app.tenant("Metadata").await;
    let (op, _, _) = platform_admin(&app).await;
    let r = app
        .call(Method::GET, "/api/v1/platform/tenants", &op, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let listed = r.body["tenants"].as_array().unwrap();
    let mine = listed.iter().find(|x| x["id"] == t.id.to_string()).unwrap();
    let keys: Vec<&str> = mine
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        vec!["created_at", "id", "name", "status"],
        "metadata only"
    );
    // The platform cookie is no tenant credential: tenant data stays out of reach.
    for path in [
        "/api/v1/users",
        "/api/v1/me",
        "/api/v1/roles",
        "/api/v1/api-keys",
    ] {
        let r = app.call(Method::GET, path, &op, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // Tenant users cannot use platform routes.
    let r = app
        .call(Method::GET, "/api/v1/platform/tenants", &t.owner.auth, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Create a tenant: its owner gets a one-time password that must be changed.
    let r = app
        .call(
            Method::POST,
            "/api/v1/platform/tenants",
            &op,
            Some(json!({"name": "Fresh", "owner_email": "boss@fresh.test"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let otp = r.body["owner_password"].as_str().unwrap();
    let boss = app.login("boss@fresh.test", otp).await;
    let r = app.call(Method::GET, "/api/v1/users", &boss, None).await;
    assert_eq!(r.code(), "password_change_required");
    // Disable the first tenant: its sessions and sign-ins stop; enabling restores sign-in.
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/platform/tenants/{}/disable", t.id),
            &op,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .call(Method::GET, "/api/v1/me", &t.owner.auth, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .login_raw(app.ip, &t.owner.email, &t.owner.password, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/platform/tenants/{}/enable", t.id),
            &op,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.login(&t.owner.email, &t.owner.password).await;
    let actions = app.audit_actions(t.id).await;
    assert!(
        actions.contains(&"tenant.disabled".to_string())
            && actions.contains(&"tenant.active".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_access_needs_a_time_boxed_audited_grant() {
    let app = TestApp::new().await;
    let t = app.tenant("Helped").await;
    let (op, op_email, _) = platform_admin(&app).await;
    let path = format!("/api/v1/platform/tenants/{}/support-session", t.id);
    let r = app.call(Method::POST, &path, &op, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no grant, no access");
    // An agent (without security.manage) cannot grant; the owner can, for at most 72 hours.
    let grant = json!({"platform_admin_email": op_email, "role_id": t.roles["viewer"].to_string(), "hours": 1});
    let r = app
        .call(
            Method::POST,
            "/api/v1/support-grants",
            &t.members["agent"].auth,
            Some(grant.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut too_long = grant.clone();
    too_long["hours"] = json!(73);
    let r = app
        .call(
            Method::POST,
            "/api/v1/support-grants",
            &t.owner.auth,
            Some(too_long),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .call(
            Method::POST,
            "/api/v1/support-grants",
            &t.owner.auth,
            Some(grant),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let grant_id = r.body["id"].as_str().unwrap().to_string();
    let r = app.call(Method::POST, &path, &op, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let support = crate::harness::session_of(&r);
    let r = app.call(Method::GET, "/api/v1/me", &support, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["kind"], "support");
    assert_eq!(r.body["role"]["name"], "viewer");
    // Only what the grant's role allows.
    let r = app.call(Method::GET, "/api/v1/users", &support, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The grant ends after its hour.
    app.clock.advance(time::Duration::minutes(30));
    let r = app.call(Method::GET, "/api/v1/me", &support, None).await;
    assert_eq!(r.status, StatusCode::OK);
    app.clock.advance(time::Duration::minutes(31));
    let r = app.call(Method::GET, "/api/v1/me", &support, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "expired with the grant");
    let actions = app.audit_actions(t.id).await;
    for a in ["support.granted", "support.session_started"] {
        assert!(actions.contains(&a.to_string()), "{a} audited: {actions:?}");
    }
    assert!(!grant_id.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_support_grant_ends_its_sessions() {
    let app = TestApp::new().await;
    let t = app.tenant("Revoked").await;
    let (op, op_email, _) = platform_admin(&app).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/support-grants",
            &t.owner.auth,
            Some(json!({"platform_admin_email": op_email, "role_id": t.roles["agent"].to_string(), "hours": 8})),
        )
        .await;
    let grant_id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/platform/tenants/{}/support-session", t.id),
            &op,
            Some(json!({})),
        )
        .await;
    let support = crate::harness::session_of(&r);
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", &support, None)
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/support-grants/{grant_id}"),
            &t.owner.auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", &support, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        app.audit_actions(t.id)
            .await
            .contains(&"support.revoked".to_string())
    );
}
