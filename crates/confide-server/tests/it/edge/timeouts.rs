//! Whole-request timeouts by route class: an import (or export) moves a whole contact book, so it
//! has its own, longer timeout (`limits.import_timeout_secs`, `limits.export_timeout_secs`)
//! than the API's `limits.request_timeout_secs`. Small timeouts here: an upload that takes
//! longer than the API's timeout but less than the import's completes; the same slowness on
//! another API route is cut off at the API's.

use crate::harness::{HOST, ORIGIN, TestApp, send_to};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use bytes::Bytes;
use std::time::Duration;

/// A body sent in `parts`, one every `gap`.
fn slow_body(parts: Vec<String>, gap: Duration) -> Body {
    let stream = futures_util::stream::unfold(parts.into_iter(), move |mut rest| async move {
        let next = rest.next()?;
        tokio::time::sleep(gap).await;
        Some((Ok::<_, std::io::Error>(Bytes::from(next)), rest))
    });
    Body::from_stream(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_slower_than_the_api_timeout_but_within_its_own_completes() {
    let app = TestApp::new().await;
    let t = app.tenant("SlowImport").await;
    let (_, key) = app.api_key(&t, "agent").await;
    let (_, admin_key) = app.api_key(&t, "admin").await;
    let (router, state) = app
        .second_instance_with(|c| {
            c.limits.request_timeout_secs = 1;
            c.limits.import_timeout_secs = 30;
            c.limits.export_timeout_secs = 30;
        })
        .await;
    // Five rows, one every 500 ms: about 2.5 s, over the API's 1 s.
    let mut parts = vec!["phone,name\n".to_string()];
    for i in 0..5 {
        parts.push(format!("+55 11 98100-000{i},Slow {i}\n"));
    }
    let req = Request::post("/api/v1/contacts/import")
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .body(slow_body(parts, Duration::from_millis(500)))
        .unwrap();
    let started = std::time::Instant::now();
    let r = send_to(&router, app.ip, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["imported"], 5, "{}", r.body);
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "the upload outlasted the API's timeout"
    );
    // The export (its own timeout) has them.
    let req = Request::get("/api/v1/contacts/export?format=json")
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {admin_key}"))
        .body(Body::empty())
        .unwrap();
    let r = send_to(&router, app.ip, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The same slowness on another API route is cut off at the API's timeout.
    let body = serde_json::json!({"name": "Slow", "phone": "+55 11 98100-0099"}).to_string();
    let (a, b) = body.split_at(10);
    let req = Request::post("/api/v1/contacts")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(slow_body(
            vec![a.to_string(), b.to_string(), String::new(), String::new()],
            Duration::from_millis(600),
        ))
        .unwrap();
    let r = send_to(&router, app.ip, req).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    state.operator_store().close().await;
}

#[test]
fn routes_fall_in_their_timeout_classes() {
    use confide_server::edge::shield::request_timeout;
    let limits = confide_app::config::LimitsConfig {
        request_timeout_secs: 60,
        import_timeout_secs: 1_800,
        export_timeout_secs: 900,
        ..Default::default()
    };
    let t = |m: Method, p: &str| request_timeout(&limits, &m, p).as_secs();
    assert_eq!(t(Method::POST, "/api/v1/contacts/import"), 1_800);
    assert_eq!(t(Method::GET, "/api/v1/contacts/export"), 900);
    assert_eq!(t(Method::POST, "/api/v1/exports"), 900);
    assert_eq!(t(Method::GET, "/api/v1/exports/abc"), 900);
    assert_eq!(t(Method::GET, "/api/v1/contacts"), 60);
    assert_eq!(t(Method::POST, "/api/v1/contacts"), 60);
    assert_eq!(t(Method::GET, "/api/v1/exportsx"), 60);
}
