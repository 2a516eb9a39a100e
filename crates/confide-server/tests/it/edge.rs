//! The edge: request ids are the server's own. A client's `X-Request-Id` never becomes the
//! request id (in the response, logs or audit entries); it is kept, sanitised, as the
//! correlation id only. The submodules test the rest of the edge: disclosure, headers, TLS,
//! slow clients, limits and bans.

mod bans;
mod isolation;
mod limits;
mod observatory;
mod security_txt;
mod shared_bans;
mod slow_clients;
mod tenant_access;
mod timeouts;
mod tls;

use crate::harness::{HOST, ORIGIN, Resp, TestApp};
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

fn response_id(r: &Resp) -> String {
    r.headers
        .get("x-request-id")
        .expect("every response carries x-request-id")
        .to_str()
        .unwrap()
        .to_string()
}

fn is_server_id(id: &str) -> bool {
    id.len() == 24
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

async fn login_with_request_id(
    app: &TestApp,
    request_id: &str,
    email: &str,
    password: &str,
) -> Resp {
    let b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/session")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header("x-request-id", request_id);
    app.send(
        app.ip,
        b,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_request_id_is_only_a_correlation_id() {
    let app = TestApp::new().await;
    let t = app.tenant("Ids").await;
    // A successful and a failed sign-in, each with a client-chosen id.
    let ok =
        login_with_request_id(&app, "attacker-chosen", &t.owner.email, &t.owner.password).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let bad = login_with_request_id(
        &app,
        "attacker-chosen<script> x;y",
        &t.owner.email,
        "wrong password here",
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let (ok_id, bad_id) = (response_id(&ok), response_id(&bad));
    for id in [&ok_id, &bad_id] {
        assert!(is_server_id(id), "server-made id, got {id:?}");
    }
    assert_ne!(ok_id, bad_id);
    let entries = app.audit_entries(t.id).await;
    let login = entries
        .iter()
        .rev()
        .find(|e| e.action == "session.login")
        .unwrap();
    let failed = entries
        .iter()
        .rev()
        .find(|e| e.action == "session.login_failed")
        .unwrap();
    // The audit entries carry the server's ids...
    assert_eq!(login.request_id.as_deref(), Some(ok_id.as_str()));
    assert_eq!(failed.request_id.as_deref(), Some(bad_id.as_str()));
    // ...and the client's, sanitised, as the correlation id only.
    let details = |d: &str| serde_json::from_str::<serde_json::Value>(d).unwrap();
    assert_eq!(details(&login.details)["correlation_id"], "attacker-chosen");
    assert_eq!(
        details(&failed.details)["correlation_id"],
        "attacker-chosenscriptxy"
    );
    for e in &entries {
        let rid = e.request_id.as_deref().unwrap_or("");
        assert!(
            !rid.contains("attacker"),
            "request id {rid:?} of {}",
            e.action
        );
    }
    // A long id is cut to 64 characters; an id of nothing but junk is no id.
    let long = "a".repeat(300);
    let r = login_with_request_id(&app, &long, &t.owner.email, &t.owner.password).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(is_server_id(&response_id(&r)));
    let entries = app.audit_entries(t.id).await;
    let last = entries.last().unwrap();
    assert_eq!(last.action, "session.login");
    assert_eq!(
        details(&last.details)["correlation_id"],
        "a".repeat(64).as_str()
    );
    let r = login_with_request_id(&app, "<> ", &t.owner.email, &t.owner.password).await;
    assert_eq!(r.status, StatusCode::OK);
    let entries = app.audit_entries(t.id).await;
    assert!(details(&entries.last().unwrap().details)["correlation_id"].is_null());
    // Requests without one get an id too, and the chain still verifies.
    let r = app
        .call(Method::GET, "/api/v1/me", &t.owner.auth, None)
        .await;
    assert!(is_server_id(&response_id(&r)));
    assert!(matches!(
        app.state.operator_store().audit_verify(t.id).await.unwrap(),
        confide_app::operator::store::audit::Verification::Intact { .. }
    ));
}
