//! C26: automatic temporary bans. An address that fails webhook signatures N times is refused
//! everything for the configured time (429 `address_banned` with `Retry-After`); the ban is a
//! security event and is listed for operators on the admin listener; it ends by the injected
//! clock. Other addresses (Meta's) are not affected.

use crate::harness::{Auth, Options, TestApp, fixture, send_to};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use std::net::IpAddr;
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_failing_signatures_n_times_is_banned_for_the_configured_time() {
    let app = TestApp::with_config(Options::default(), |c| {
        c.bans.threshold = 5;
        c.bans.window_secs = 60;
        c.bans.duration_secs = 300;
    })
    .await
    .unwrap();
    let ch = app.tenant_with_channel("Banned", "106540352242922").await;
    let attacker: IpAddr = "198.51.100.66".parse().unwrap();
    let forged = |ip: IpAddr| {
        let req = Request::post(format!("/webhooks/whatsapp/{}", ch.channel))
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))
            .body(Body::from(fixture("text.json")))
            .unwrap();
        let router = app.router.clone();
        async move { send_to(&router, ip, req).await }
    };
    for i in 0..5 {
        let r = forged(attacker).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert_eq!(r.code(), "bad_signature");
    }
    assert_eq!(app.state.metrics.security_events("address_banned"), 1);
    // Banned: the API and the webhook are refused, with the time left.
    for path in ["/api/v1/me", "/api/v1/openapi.json"] {
        let r = app
            .call_from(attacker, Method::GET, path, &Auth::None, None)
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(r.code(), "address_banned");
        assert_eq!(r.headers[header::RETRY_AFTER], "300");
    }
    let r = forged(attacker).await;
    assert_eq!(r.code(), "address_banned");
    // Meta's deliveries from their own address go on.
    let r = app.deliver(&ch, &fixture("text.json")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Listed for operators.
    let admin = confide_server::Application::admin_router(app.state.clone());
    let listed = send_to(
        &admin,
        "127.0.0.1".parse().unwrap(),
        Request::get("/bans").body(Body::empty()).unwrap(),
    )
    .await;
    let bans = listed.body["bans"].as_array().unwrap();
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0]["address"], "198.51.100.66");
    assert_eq!(bans[0]["reason"], "signature");
    assert_eq!(bans[0]["failures"], 5);
    // The ban ends by the clock.
    app.clock.advance(Duration::seconds(299));
    assert_eq!(forged(attacker).await.code(), "address_banned");
    app.clock.advance(Duration::seconds(1));
    assert_eq!(forged(attacker).await.code(), "bad_signature");
    let listed = send_to(
        &admin,
        "127.0.0.1".parse().unwrap(),
        Request::get("/bans").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(listed.body["bans"].as_array().unwrap().is_empty());
    // The metric operators alert on.
    assert!(
        app.state
            .metrics
            .render()
            .contains("confide_security_events_total{kind=\"address_banned\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sign_in_and_authorization_failures_ban_too() {
    let app = TestApp::with_config(Options::default(), |c| {
        c.bans.threshold = 3;
    })
    .await
    .unwrap();
    let t = app.tenant("Probed").await;
    let guesser: IpAddr = "198.51.100.70".parse().unwrap();
    for _ in 0..3 {
        let r = app
            .login_raw(guesser, &t.owner.email, "not the password at all", None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app
        .login_raw(guesser, &t.owner.email, &t.owner.password, None)
        .await;
    assert_eq!(
        r.code(),
        "address_banned",
        "even the right password, from there"
    );
    // A viewer probing what it may not do, from its own address.
    let viewer = &t.members["viewer"];
    let prober: IpAddr = "198.51.100.71".parse().unwrap();
    for _ in 0..3 {
        let r = app
            .call_from(prober, Method::GET, "/api/v1/users", &viewer.auth, None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = app
        .call_from(prober, Method::GET, "/api/v1/me", &viewer.auth, None)
        .await;
    assert_eq!(r.code(), "address_banned");
    assert_eq!(app.state.metrics.security_events("address_banned"), 2);
    // The owner, elsewhere, is fine.
    let r = app
        .call(Method::GET, "/api/v1/me", &t.owner.auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
