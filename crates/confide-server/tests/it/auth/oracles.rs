//! Review finding 2: no cross-tenant existence oracle. A business number and a member's email
//! are unique within a tenant only: another tenant's number or member is neither revealed nor
//! blocked, and webhooks stay routed by the per-channel URL and that channel's secret.

use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, TestApp, fixture, send_to, signed_delivery};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

fn channel_body(secret: &str) -> Value {
    json!({
        "phone_number_id": FIXTURE_PHONE_NUMBER_ID,
        "waba_id": "102290129340398",
        "display_phone_number": "+1 555 078 3881",
        "access_token": "EAAG-token",
        "app_secret": secret,
        "verify_token": "verify-me",
    })
}

async fn create_channel(app: &TestApp, auth: &Auth, secret: &str) -> String {
    let r = app
        .call(
            Method::POST,
            "/api/v1/channels",
            auth,
            Some(channel_body(secret)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn two_tenants_with_one_phone_number_id_each_receive_only_their_own_webhooks() {
    let app = TestApp::new().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Bolt").await;
    let ch_a = create_channel(&app, &a.owner.auth, "secret-of-a").await;
    // B names the same number: accepted, as if nobody had it (no "already exists").
    let ch_b = create_channel(&app, &b.owner.auth, "secret-of-b").await;
    // Within one tenant a number is still connected once.
    let again = app
        .call(
            Method::POST,
            "/api/v1/channels",
            &b.owner.auth,
            Some(channel_body("x")),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    let body = fixture("text.json");
    let count = |t| app.count(t, "messages");
    // Signed with A's secret, to A's URL: A stores it, B nothing.
    let r = send_to(
        &app.router,
        app.ip,
        signed_delivery(&ch_a, &body, "secret-of-a"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((count(a.id).await, count(b.id).await), (1, 0));
    // A's delivery replayed to B's URL (or signed with B's secret for A's URL) is refused.
    let r = send_to(
        &app.router,
        app.ip,
        signed_delivery(&ch_b, &body, "secret-of-a"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send_to(
        &app.router,
        app.ip,
        signed_delivery(&ch_a, &body, "secret-of-b"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!((count(a.id).await, count(b.id).await), (1, 0));
    // B's own delivery lands in B only.
    let r = send_to(
        &app.router,
        app.ip,
        signed_delivery(&ch_b, &body, "secret-of-b"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((count(a.id).await, count(b.id).await), (1, 1));
    // Each sees only its own channel.
    for (t, ch) in [(&a, &ch_a), (&b, &ch_b)] {
        let list = app.get_ok(&t.owner.auth, "/api/v1/channels").await;
        let ids: Vec<&str> = list["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![ch.as_str()]);
    }
    app.finish().await;
}

/// The shape of an invitation answer, with the values that differ per call blanked.
fn shape(v: &Value) -> Value {
    let mut v = v.clone();
    for k in ["id", "email", "created_at", "updated_at"] {
        v["user"][k] = json!("_");
    }
    v["one_time_password"] = json!(v["one_time_password"].as_str().map(str::len));
    v
}

#[tokio::test]
async fn an_invitation_answers_the_same_whether_or_not_the_address_is_known_elsewhere() {
    let app = TestApp::new().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Bolt").await;
    let agent_role = b.roles["agent"].to_string();
    let invite = |email: &str| json!({"email": email, "role_id": agent_role.clone()});
    // A's owner's address is known (in tenant A); the other address is known nowhere.
    app.clock.advance(time::Duration::seconds(1));
    let known = app
        .call(
            Method::POST,
            "/api/v1/users",
            &b.owner.auth,
            Some(invite(&a.owner.email)),
        )
        .await;
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/users",
            &b.owner.auth,
            Some(invite("nobody-anywhere@example.test")),
        )
        .await;
    assert_eq!(known.status, StatusCode::CREATED, "{}", known.body);
    assert_eq!(unknown.status, known.status);
    assert_eq!(shape(&known.body), shape(&unknown.body));

    // The person is now a member of both tenants, each membership with its own password.
    // Without naming a tenant they sign in to their oldest membership, as before.
    let r = app
        .login_raw(app.ip, &a.owner.email, &a.owner.password, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tenant_id"], a.id.to_string());
    let otp = known.body["one_time_password"].as_str().unwrap();
    let r = app
        .call(
            Method::POST,
            "/api/v1/session",
            &Auth::None,
            Some(json!({"email": a.owner.email, "password": otp, "tenant_id": b.id.to_string()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tenant_id"], b.id.to_string());
    assert_eq!(r.body["must_change_password"], true);
    // A's password does not open B's membership, nor B's A's.
    let r = app
        .call(
            Method::POST,
            "/api/v1/session",
            &Auth::None,
            Some(json!({"email": a.owner.email, "password": a.owner.password, "tenant_id": b.id.to_string()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "invalid_credentials");
    // Tenant A sees none of this.
    let users = app.get_ok(&a.owner.auth, "/api/v1/users").await;
    assert_eq!(
        users["users"].as_array().unwrap().len(),
        1 + a.members.len(),
        "{users}"
    );
    app.finish().await;
}
