//! Review finding 4: an API key holding `team.manage` could reset a member's password and
//! receive the one-time password. Password resets, role grants and security settings are for
//! people, signed in recently, never for API keys.

use crate::harness::{Auth, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn an_api_key_gets_403_on_password_reset_role_grants_and_security_settings() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let (_, key) = app.api_key(&t, "owner").await;
    let key = Auth::Bearer(key);
    let agent = &t.members["agent"];
    let path = format!("/api/v1/users/{}", agent.user_id);
    let r = app
        .call(
            Method::PATCH,
            &path,
            &key,
            Some(json!({"reset_password": true})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        r.body
    );
    assert!(r.body.get("one_time_password").is_none());
    let r = app
        .call(
            Method::PATCH,
            &path,
            &key,
            Some(json!({"role_id": t.roles["owner"].to_string()})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        r.body
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/users",
            &key,
            Some(json!({"email": "new-admin@acme.test", "role_id": t.roles["admin"].to_string()})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        r.body
    );
    let r = app
        .call(
            Method::PUT,
            "/api/v1/security",
            &key,
            Some(json!({"require_2fa": false})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        r.body
    );
    // Nothing changed: the agent still signs in with their password, in their role.
    app.login(&agent.email, &agent.password).await;
    let users = app.get_ok(&t.owner.auth, "/api/v1/users").await;
    let row = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == agent.user_id.to_string())
        .unwrap()
        .clone();
    assert_eq!(row["role_id"], t.roles["agent"].to_string());
    // The key can still do ordinary team work: invite into a role without team powers.
    let r = app
        .call(
            Method::POST,
            "/api/v1/users",
            &key,
            Some(json!({"email": "new-agent@acme.test", "role_id": t.roles["agent"].to_string()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A person may reset, but only soon after signing in.
    let r = app
        .call(
            Method::PATCH,
            &path,
            &t.owner.auth,
            Some(json!({"reset_password": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["one_time_password"].is_string());
    app.clock.advance(time::Duration::minutes(16));
    let fresh = app.login(&t.owner.email, &t.owner.password).await;
    app.clock.advance(time::Duration::minutes(16));
    let r = app
        .call(
            Method::PATCH,
            &path,
            &fresh,
            Some(json!({"reset_password": true})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "reauthentication_required"),
        "{}",
        r.body
    );
    app.finish().await;
}
