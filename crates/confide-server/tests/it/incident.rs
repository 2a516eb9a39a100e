//! After `confide incident revoke` (C31): a channel whose secrets were marked for rotation says
//! so (API and page), keeps receiving webhooks signed with the old app secret (no customer
//! message is lost) but raises a security event for each, and is back to normal once the owner
//! replaced every secret (audited `channel.secrets_rotated`). On SQLite and PostgreSQL.

use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp, fixture};
use axum::http::{Method, StatusCode};
use serde_json::json;

const EVENT: &str = "webhook_signed_with_secret_due_for_rotation";

async fn deliver(app: &TestApp, channel: &str, secret: &str) -> StatusCode {
    let body = fixture("text.json");
    let sig = confide_whatsapp::signature::sign(&body, secret.as_bytes());
    app.deliver_raw(channel.parse().unwrap(), body, Some(sig))
        .await
        .status
}

async fn rotation_after_an_incident_on(app: TestApp) {
    let t = app.tenant("Acme").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/channels",
            &t.owner.auth,
            Some(json!({
                "phone_number_id": FIXTURE_PHONE_NUMBER_ID,
                "waba_id": "102290129340398",
                "display_phone_number": "+1 555 078 3881",
                "access_token": "EAAG-old-token",
                "app_secret": "old-secret",
                "verify_token": "old-verify",
                "graph_base_url": "http://127.0.0.1:9"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["secrets_rotation_required"], false);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/channels/{id}");

    let revoked = confide_app::data::incident::revoke(app.state.operator_store(), t.id)
        .await
        .unwrap();
    assert_eq!(revoked.channels_to_rotate, 1);
    // The CLI is another process: this server learns of it by notification (PostgreSQL) or
    // when its cached entry expires (seconds); the test does not wait for either.
    app.state.channels.invalidate(id.parse().unwrap());
    let owner = app.login(&t.owner.email, &t.owner.password).await;

    let c = app.get_ok(&owner, &path).await;
    assert_eq!(c["secrets_rotation_required"], true, "{c}");
    assert_eq!(
        c["secrets_rotation_pending"],
        json!(["access_token", "app_secret", "verify_token"])
    );
    let page = app.call(Method::GET, "/channels", &owner, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .as_str()
            .unwrap()
            .contains("Security incident: replace this number")
    );

    // The old secret still gets messages in, each one a security event.
    let events = || app.state.metrics.security_events(EVENT);
    let before = events();
    assert_eq!(deliver(&app, &id, "old-secret").await, StatusCode::OK);
    assert_eq!(events(), before + 1);
    assert_eq!(app.count(t.id, "messages").await, 1, "the message is kept");
    assert_eq!(
        deliver(&app, &id, "forged-secret").await,
        StatusCode::UNAUTHORIZED
    );

    // Rotating: the new secret is quiet, the old one still reported.
    let r = app
        .call(
            Method::POST,
            &format!("{path}/rotate-secret"),
            &owner,
            Some(json!({"app_secret": "new-secret"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(deliver(&app, &id, "new-secret").await, StatusCode::OK);
    assert_eq!(events(), before + 1);
    assert_eq!(deliver(&app, &id, "old-secret").await, StatusCode::OK);
    assert_eq!(events(), before + 2);
    let r = app
        .call(
            Method::POST,
            &format!("{path}/finish-rotation"),
            &owner,
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(r.body["secrets_rotation_required"], true);
    assert_eq!(
        r.body["secrets_rotation_pending"],
        json!(["access_token", "verify_token"])
    );
    // The other two secrets replaced: the flag is gone.
    let r = app
        .call(
            Method::PATCH,
            &path,
            &owner,
            Some(json!({"access_token": "EAAG-new-token", "verify_token": "new-verify"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(r.body["secrets_rotation_required"], false, "{}", r.body);
    assert_eq!(r.body["secrets_rotation_pending"], json!([]));
    assert_eq!(deliver(&app, &id, "new-secret").await, StatusCode::OK);
    assert_eq!(
        deliver(&app, &id, "old-secret").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(events(), before + 2);
    let page = app.call(Method::GET, "/channels", &owner, None).await;
    assert!(!page.body.as_str().unwrap().contains("Security incident"));
    let actions: Vec<String> = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "channel.secrets_rotated")
            .count(),
        1,
        "{actions:?}"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_incident_old_secret_webhooks_are_kept_but_reported_until_every_secret_is_replaced()
 {
    rotation_after_an_incident_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_incident_old_secret_webhooks_are_kept_but_reported_until_every_secret_is_replaced_on_postgres()
 {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    rotation_after_an_incident_on(app).await;
}
