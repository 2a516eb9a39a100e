//! `/api/v1/channels`: secrets are write-only, only allowed Graph origins, app-secret rotation
//! with both secrets valid in between, and deletion that stops routing (issue 4, C17, C21).

use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp, fixture};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

/// Delivers the text fixture to a channel, signed with `secret` over the exact bytes sent.
async fn deliver(app: &TestApp, channel: &str, secret: &str) -> StatusCode {
    let body = fixture("text.json");
    let sig = confide_whatsapp::signature::sign(&body, secret.as_bytes());
    app.deliver_raw(channel.parse().unwrap(), body, Some(sig))
        .await
        .status
}

fn channel_body() -> Value {
    json!({
        "phone_number_id": FIXTURE_PHONE_NUMBER_ID,
        "waba_id": "102290129340398",
        "display_phone_number": "+1 555 078 3881",
        "access_token": "EAAG-planted-token",
        "app_secret": "first-secret",
        "verify_token": "verify-me",
        "graph_base_url": "http://127.0.0.1:9"
    })
}

#[tokio::test]
async fn channel_secrets_are_write_only_and_rotation_keeps_both_valid_until_finished() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let owner = &t.owner.auth;
    let r = app
        .call(
            Method::POST,
            "/api/v1/channels",
            owner,
            Some(channel_body()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["webhook_path"], format!("/webhooks/whatsapp/{id}"));
    for resp in [
        r,
        app.call(Method::GET, &format!("/api/v1/channels/{id}"), owner, None)
            .await,
        app.call(Method::GET, "/api/v1/channels", owner, None).await,
    ] {
        let text = resp.body.to_string();
        for secret in [
            "EAAG-planted-token",
            "first-secret",
            "verify-me",
            "access_token",
            "app_secret",
        ] {
            assert!(!text.contains(secret), "{secret} returned: {text}");
        }
    }
    assert_eq!(deliver(&app, &id, "first-secret").await, StatusCode::OK);

    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/channels/{id}/rotate-secret"),
            owner,
            Some(json!({"app_secret": "second-secret"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["rotating_secret"].clone()),
        (StatusCode::OK, json!(true)),
        "{}",
        r.body
    );
    assert_eq!(
        deliver(&app, &id, "first-secret").await,
        StatusCode::OK,
        "old secret still valid during rotation"
    );
    assert_eq!(
        deliver(&app, &id, "second-secret").await,
        StatusCode::OK,
        "new secret valid during rotation"
    );
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/channels/{id}/finish-rotation"),
            owner,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        deliver(&app, &id, "first-secret").await,
        StatusCode::UNAUTHORIZED,
        "old secret refused after rotation"
    );
    assert_eq!(deliver(&app, &id, "second-secret").await, StatusCode::OK);

    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/channels/{id}"),
            owner,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        deliver(&app, &id, "second-secret").await,
        StatusCode::NOT_FOUND,
        "a deleted channel routes nothing"
    );
    assert_eq!(
        app.call(Method::GET, &format!("/api/v1/channels/{id}"), owner, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The number can be connected again.
    assert_eq!(
        app.call(
            Method::POST,
            "/api/v1/channels",
            owner,
            Some(channel_body())
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let actions = app.audit_actions(t.id).await;
    for a in [
        "channel.created",
        "channel.secret_rotation_started",
        "channel.secret_rotation_finished",
        "channel.deleted",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

#[tokio::test]
async fn channels_refuse_bad_ids_and_graph_origins_that_are_not_allowed() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let owner = &t.owner.auth;
    let cases = [
        ("phone_number_id", json!("not-a-number"), "invalid_channel"),
        ("app_secret", json!(""), "invalid_channel"),
        (
            "graph_base_url",
            json!("http://10.0.0.8"),
            "graph_origin_not_allowed",
        ),
        (
            "graph_base_url",
            json!("http://169.254.169.254/latest"),
            "graph_origin_not_allowed",
        ),
        (
            "graph_base_url",
            json!("file:///etc/passwd"),
            "graph_origin_not_allowed",
        ),
        (
            "graph_base_url",
            json!("https://evil@graph.facebook.com"),
            "graph_origin_not_allowed",
        ),
        (
            "graph_base_url",
            json!("not a url"),
            "graph_origin_not_allowed",
        ),
        // A listed origin, but not a usable base URL.
        (
            "graph_base_url",
            json!("https://graph.facebook.com/?access_token=x"),
            "invalid_graph_base_url",
        ),
    ];
    for (field, value, code) in cases {
        let mut body = channel_body();
        body[field] = value.clone();
        let r = app
            .call(Method::POST, "/api/v1/channels", owner, Some(body))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{field}={value}: {}",
            r.body
        );
    }
    let r = app.call(Method::GET, "/api/v1/channels", owner, None).await;
    assert_eq!(r.body["channels"], json!([]), "nothing was created");
    // The default is Meta's Graph API.
    let mut body = channel_body();
    body.as_object_mut().unwrap().remove("graph_base_url");
    let r = app
        .call(Method::POST, "/api/v1/channels", owner, Some(body))
        .await;
    assert_eq!(
        r.body["graph_base_url"], "https://graph.facebook.com",
        "{}",
        r.body
    );
}

/// The SSRF targets of security review finding 1: private, metadata, loopback (a database port,
/// IPv6), another host, and a look-alike of Meta's. None is one of the server's
/// `graph_allowed_origins` (Meta's plus the harness's unreachable loopback ports).
const OFF_THE_ALLOWLIST: [&str; 6] = [
    "https://10.0.0.1",
    "https://169.254.169.254",
    "http://127.0.0.1:5432",
    "http://[::1]:8080",
    "https://evil.example.com",
    "https://graph.facebook.com.evil.example",
];

#[tokio::test]
async fn graph_base_urls_off_the_allowlist_are_refused_on_create_and_patch() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let owner = &t.owner.auth;
    let r = app
        .call(
            Method::POST,
            "/api/v1/channels",
            owner,
            Some(channel_body()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/channels/{id}");
    let before = app.get_ok(owner, &path).await;
    let audited = app.audit_actions(t.id).await.len();

    for bad in OFF_THE_ALLOWLIST {
        for url in [bad.to_string(), format!("{bad}/"), format!("{bad}/v24.0")] {
            let mut body = channel_body();
            body["graph_base_url"] = json!(url);
            body["phone_number_id"] = json!("15550001111");
            let r = app
                .call(Method::POST, "/api/v1/channels", owner, Some(body))
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, "graph_origin_not_allowed"),
                "POST {url}: {}",
                r.body
            );
            let message = r.body["error"]["message"].as_str().unwrap();
            assert!(message.contains("graph_base_url"), "{message}");

            let patch = json!({"graph_base_url": url, "display_phone_number": "+1 555 000 0000"});
            let r = app.call(Method::PATCH, &path, owner, Some(patch)).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, "graph_origin_not_allowed"),
                "PATCH {url}: {}",
                r.body
            );
        }
    }
    // Nothing was stored or changed, and nothing was audited.
    let r = app.get_ok(owner, "/api/v1/channels").await;
    assert_eq!(r["channels"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(app.get_ok(owner, &path).await, before);
    assert_eq!(app.audit_actions(t.id).await.len(), audited);

    // A listed origin is accepted on PATCH, however its origin is spelled.
    for ok in [
        "https://graph.facebook.com",
        "https://GRAPH.facebook.com:443/",
    ] {
        let patch = json!({"graph_base_url": ok});
        let r = app.call(Method::PATCH, &path, owner, Some(patch)).await;
        assert_eq!(r.status, StatusCode::OK, "{ok}: {}", r.body);
    }
}

/// What the channels API accepts is exactly the egress guard's list, built from the operator's
/// `graph_allowed_origins` (plus a simulator listed while running), not a rule in the code.
#[tokio::test]
async fn the_allowlist_is_the_operators_graph_allowed_origins() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let owner = &t.owner.auth;
    assert_eq!(
        app.state.egress.listed_origins(),
        vec![
            "https://graph.facebook.com:443",
            "http://127.0.0.1:9",
            "http://127.0.0.1:1"
        ]
    );
    let with_url = |url: &str| {
        let mut body = channel_body();
        body["graph_base_url"] = json!(url);
        Some(body)
    };
    // Not listed: refused, though it is loopback like the listed ones.
    let r = app
        .call(
            Method::POST,
            "/api/v1/channels",
            owner,
            with_url("http://127.0.0.1:10"),
        )
        .await;
    assert_eq!(r.code(), "graph_origin_not_allowed", "{}", r.body);
    // Listed while running, as the harness and `serve --demo` list their meta-sim: accepted.
    app.state
        .egress
        .list_local_simulator("http://127.0.0.1:10")
        .unwrap();
    let r = app
        .call(
            Method::POST,
            "/api/v1/channels",
            owner,
            with_url("http://127.0.0.1:10"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// Polls the channel until its health is no longer `unverified` (the check runs in the
/// background), for at most five seconds.
async fn settled_health(app: &TestApp, auth: &crate::harness::Auth, id: &str) -> Value {
    for _ in 0..100 {
        let r = app
            .call(Method::GET, &format!("/api/v1/channels/{id}"), auth, None)
            .await;
        if r.body["health"] != "unverified" {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the channel's health was never checked");
}

/// Finding 9 of the review: a channel's health is what Graph says of its token, checked in the
/// background on create and on token change (`GET /{phone_number_id}`); a refused token stops the
/// channel and raises a security event; a working token makes it `ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_or_changed_token_is_checked_with_graph_and_a_refused_one_stops_the_channel() {
    use meta_sim::{NumberConfig, Sim, SimConfig};
    let sim = Sim::start(
        SimConfig {
            numbers: vec![NumberConfig::new(
                FIXTURE_PHONE_NUMBER_ID,
                "15550783881",
                "102290129340398",
                "EAAG-the-real-token",
                "unused",
            )],
            ..SimConfig::default()
        },
        std::sync::Arc::new(confide_core::clock::SystemClock),
    )
    .await
    .unwrap();
    let app = TestApp::new().await;
    app.state
        .egress
        .list_local_simulator(sim.base_url())
        .unwrap();
    let t = app.tenant("Acme").await;
    let owner = &t.owner.auth;
    let mut body = channel_body();
    body["graph_base_url"] = sim.base_url().into();
    body["access_token"] = "EAAG-a-mistyped-token".into();
    let r = app
        .call(Method::POST, "/api/v1/channels", owner, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["health"], "unverified",
        "not checked before the answer"
    );
    let id = r.body["id"].as_str().unwrap().to_string();

    let c = settled_health(&app, owner, &id).await;
    assert_eq!(c["health"], "token_invalid", "{c}");
    assert!(c["health_detail"].as_str().unwrap().contains("190"), "{c}");
    assert_eq!(app.state.metrics.security_events("channel_stopped"), 1);

    // The right token: unverified at once, then ok; no new security event.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/channels/{id}"),
            owner,
            Some(json!({"access_token": "EAAG-the-real-token"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["health"], "unverified");
    let c = settled_health(&app, owner, &id).await;
    assert_eq!(c["health"], "ok", "{c}");
    assert_eq!(c["health_detail"], Value::Null);
    assert_eq!(app.state.metrics.security_events("channel_stopped"), 1);
    let requests = sim.rejected_requests();
    assert_eq!(requests.len(), 1, "only the mistyped token was refused");
}
