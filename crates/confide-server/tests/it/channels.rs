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
            "invalid_graph_base_url",
        ),
        (
            "graph_base_url",
            json!("http://169.254.169.254/latest"),
            "invalid_graph_base_url",
        ),
        (
            "graph_base_url",
            json!("file:///etc/passwd"),
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
