//! C27: a tenant's own CIDR lists for its UI and API (`PUT /api/v1/security`, `access`). Once
//! authentication names the tenant, its sessions and API keys are refused (403
//! `address_not_allowed`) from addresses its lists refuse, on the API and the pages; other
//! tenants are unaffected; its webhooks are not subject to them. The change is audited, checked,
//! and cannot lock out the address it is made from.

use crate::harness::{Auth, HOST, TestApp, fixture, send_to, signed_delivery};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_lists_refuse_its_sessions_and_keys_from_other_addresses_only() {
    let app = TestApp::new().await;
    let t = app.tenant("Fenced").await;
    let other = app.tenant("Open").await;
    let (_, key) = app.api_key(&t, "agent").await;
    let ch = app
        .channel_for(
            t.id,
            crate::harness::FIXTURE_PHONE_NUMBER_ID,
            "fenced-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let (office, outside, denied) = (ip("203.0.113.20"), ip("198.51.100.5"), ip("203.0.113.66"));
    // Nothing listed: served from anywhere.
    let r = app.get_ok(&t.owner.auth, "/api/v1/security").await;
    assert_eq!(r["access"], json!({"allow": [], "deny": []}));
    // Checked: bad networks, and a list that would shut out the address the change comes from.
    let put = |body: serde_json::Value| {
        app.call(Method::PUT, "/api/v1/security", &t.owner.auth, Some(body))
    };
    let r = put(json!({"access": {"allow": ["not-a-network"]}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "invalid_network");
    let r = put(json!({"access": {"allow": ["10.0.0.0/8"]}})).await;
    assert_eq!(r.code(), "would_lock_out", "{}", r.body);
    let r = put(json!({"access": {"deny": ["203.0.113.10"]}})).await;
    assert_eq!(r.code(), "would_lock_out", "{}", r.body);
    // Only with security.manage.
    let r = app
        .call(
            Method::PUT,
            "/api/v1/security",
            &t.members["viewer"].auth,
            Some(json!({"access": {"allow": ["0.0.0.0/0"]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The office network, minus one address.
    let r = put(json!({"access": {"allow": ["203.0.113.0/24"], "deny": ["203.0.113.66"]}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["access"],
        json!({"allow": ["203.0.113.0/24"], "deny": ["203.0.113.66/32"]})
    );
    assert_eq!(r.body["require_2fa"], false, "unchanged");
    // Audited with the lists.
    let entries = app.audit_entries(t.id).await;
    let e = entries
        .iter()
        .rev()
        .find(|e| e.action == "security.access_lists")
        .expect("audited");
    let details: serde_json::Value = serde_json::from_str(&e.details).unwrap();
    assert_eq!(details["allow"], json!(["203.0.113.0/24"]));
    assert_eq!(details["deny"], json!(["203.0.113.66/32"]));
    // The session and the API key work from the office, not from outside nor the denied one.
    let agent = &t.members["agent"].auth;
    let key_auth = Auth::Bearer(key.clone());
    for auth in [&t.owner.auth, agent, &key_auth] {
        let r = app
            .call_from(office, Method::GET, "/api/v1/conversations", auth, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for from in [outside, denied] {
            let r = app
                .call_from(from, Method::GET, "/api/v1/conversations", auth, None)
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{from}: {}", r.body);
            assert_eq!(r.code(), "address_not_allowed");
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("security settings"),
                "a plain message: {}",
                r.body
            );
        }
    }
    // A change from outside is refused the same way (nothing reaches the handler).
    let r = app
        .call_from(
            outside,
            Method::PUT,
            "/api/v1/security",
            &t.owner.auth,
            Some(json!({"access": {}})),
        )
        .await;
    assert_eq!(r.code(), "address_not_allowed");
    // The pages too.
    let page = |from: IpAddr, auth: &Auth| {
        let Auth::Session { token, .. } = auth else {
            panic!("a session")
        };
        let req = Request::get("/inbox")
            .header(header::HOST, HOST)
            .header(
                header::COOKIE,
                format!("{}={token}", confide_server::auth::SESSION_COOKIE),
            )
            .body(Body::empty())
            .unwrap();
        let router = app.router.clone();
        async move { send_to(&router, from, req).await }
    };
    assert_eq!(page(outside, agent).await.status, StatusCode::FORBIDDEN);
    assert_eq!(page(office, agent).await.status, StatusCode::OK);
    // Another tenant is not affected, from the very same address.
    let r = app
        .call_from(
            outside,
            Method::GET,
            "/api/v1/conversations",
            &other.owner.auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        page(outside, &other.owner.auth).await.status,
        StatusCode::OK
    );
    // Webhooks are not subject to the tenant's UI/API lists.
    let r = send_to(
        &app.router,
        outside,
        signed_delivery(
            &ch.channel.to_string(),
            &fixture("text.json"),
            &ch.app_secret,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Lifting the lists (from the office) opens it again at once.
    let r = app
        .call_from(
            office,
            Method::PUT,
            "/api/v1/security",
            &t.owner.auth,
            Some(json!({"access": {}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["access"], json!({"allow": [], "deny": []}));
    let r = app
        .call_from(
            outside,
            Method::GET,
            "/api/v1/conversations",
            &key_auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
