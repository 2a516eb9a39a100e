//! C26: rate limits per client address, per tenant and per route class, answered 429
//! `rate_limited` with `Retry-After` and the standard error body; the client address is the one
//! `trusted_proxies` decides (a spoofed `X-Forwarded-For` from anyone else changes nothing); body
//! limits per route class.

use crate::harness::{Auth, HOST, Options, Resp, TestApp, send_to};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;
use std::net::IpAddr;
use time::Duration;

fn retry_after(r: &Resp) -> i64 {
    r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn assert_limited(r: &Resp) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.code(), "rate_limited");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Retry-After")
    );
    assert!(retry_after(r) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_are_limited_per_address_and_a_spoofed_forwarded_for_changes_nothing() {
    let app = TestApp::with_config(Options::default(), |c| {
        c.rate_limits.sign_in_per_address = 3;
    })
    .await
    .unwrap();
    let attacker: IpAddr = "198.51.100.20".parse().unwrap();
    let try_login = |ip: IpAddr, xff: &'static str| {
        let app = &app;
        async move {
            app.call_with(
                ip,
                Method::POST,
                "/api/v1/session",
                &Auth::None,
                Some(json!({"email": "nobody@example.org", "password": "wrong password here"})),
                &[("x-forwarded-for", xff)],
            )
            .await
        }
    };
    for i in 0..3 {
        let r = try_login(attacker, "192.0.2.1").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // A new X-Forwarded-For each time: the TCP peer is still the client (no proxy is trusted).
    let r = try_login(attacker, "192.0.2.99").await;
    assert_limited(&r);
    assert_eq!(retry_after(&r), 20, "one request per 20 s at 3 a minute");
    // Another address has its own bucket; other routes of the same address are not sign-ins.
    let r = try_login("198.51.100.21".parse().unwrap(), "x").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .call_from(attacker, Method::GET, "/api/v1/me", &Auth::None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // After Retry-After, one more.
    app.clock.advance(Duration::seconds(20));
    assert_eq!(
        try_login(attacker, "x").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_limited(&try_login(attacker, "x").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_calls_are_limited_per_tenant_across_addresses() {
    let app = TestApp::new().await;
    let a = app.tenant("Busy").await;
    let b = app.tenant("Quiet").await;
    let (_, key) = app.api_key(&a, "agent").await;
    let (_, other) = app.api_key(&b, "agent").await;
    // The tenants are set up; now an instance with a limit of 5 a minute per tenant.
    let (router, state) = app
        .second_instance_with(|c| {
            c.rate_limits.api_per_tenant = 5;
            c.rate_limits.api_per_address = 1_000;
        })
        .await;
    let get = |ip: IpAddr, key: &str| {
        let req = Request::get("/api/v1/conversations")
            .header(header::HOST, HOST)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        let router = router.clone();
        async move { send_to(&router, ip, req).await }
    };
    // Ten addresses, one tenant: five calls in the minute.
    for i in 0..10u8 {
        let ip: IpAddr = format!("198.51.100.{}", 100 + i).parse().unwrap();
        let r = get(ip, &key).await;
        if i < 5 {
            assert_eq!(r.status, StatusCode::OK, "call {i}: {}", r.body);
        } else {
            assert_limited(&r);
            assert_eq!(retry_after(&r), 12, "one call per 12 s at 5 a minute");
        }
    }
    // Another tenant is not slowed by it, from the same address.
    assert_eq!(
        get("198.51.100.109".parse().unwrap(), &other).await.status,
        StatusCode::OK
    );
    // The bucket refills by the clock.
    app.clock.advance(Duration::seconds(12));
    assert_eq!(
        get("198.51.100.1".parse().unwrap(), &key).await.status,
        StatusCode::OK
    );
    assert_limited(&get("198.51.100.1".parse().unwrap(), &key).await);
    state.operator_store().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_limited_per_route_class() {
    let app = TestApp::with_config(Options::default(), |c| {
        c.limits.api_body_bytes = 2048;
        c.limits.webhook_body_bytes = 4096;
    })
    .await
    .unwrap();
    let t = app.tenant("Sized").await;
    let ch = app
        .channel_for(t.id, "555000111", "sized-secret", "http://127.0.0.1:9")
        .await;
    let big_api = json!({"name": "x".repeat(3000)});
    let r = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            &t.owner.auth,
            Some(big_api),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(r.code(), "payload_too_large");
    // The same size is fine for a webhook (its own limit), a larger one is not.
    let body = format!(
        "{{\"object\":\"whatsapp_business_account\",\"entry\":[],\"pad\":\"{}\"}}",
        "x".repeat(3000)
    );
    let r = app.deliver(&ch, body.as_bytes()).await;
    assert_ne!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(5000));
    let r = app.deliver(&ch, body.as_bytes()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "payload_too_large");
}

type Chunks = tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>;

/// A sign-in whose body is still arriving (as a flood of slow sign-ins): it holds its place
/// among those in flight until the test sends the rest through the returned sender.
fn held_sign_in(app: &TestApp, ip: &str) -> (Chunks, tokio::task::JoinHandle<Resp>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let req = Request::post("/api/v1/session")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, crate::harness::ORIGIN)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap();
    let router = app.router.clone();
    let ip: IpAddr = ip.parse().unwrap();
    (
        tx,
        tokio::spawn(async move { send_to(&router, ip, req).await }),
    )
}

async fn finish(tx: Chunks, held: tokio::task::JoinHandle<Resp>) {
    tx.send(Ok(
        b"{\"email\":\"x@y.test\",\"password\":\"wrong password here\"}".to_vec(),
    ))
    .await
    .unwrap();
    drop(tx);
    assert_eq!(held.await.unwrap().status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_sign_ins_and_api_calls_are_shed_while_webhooks_go_through() {
    let app = TestApp::with_config(Options::default(), |c| {
        c.limits.sign_in_in_flight = 2;
        c.limits.max_in_flight = 2;
    })
    .await
    .unwrap();
    let ch = app.tenant_with_channel("Shed", "106540352242922").await;
    let login = |ip: &'static str| {
        let app = &app;
        async move {
            app.login_raw(ip.parse().unwrap(), "a@b.test", "some password here", None)
                .await
        }
    };
    // Two sign-ins in flight fill both places.
    let (tx1, held1) = held_sign_in(&app, "198.51.100.30");
    let (tx2, held2) = held_sign_in(&app, "198.51.100.32");
    // Wait until both are inside (a probe sent earlier would itself take a place and race them).
    for _ in 0..2_000 {
        if app.state.edge.shed.sign_in_places_left() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert_eq!(
        app.state.edge.shed.sign_in_places_left(),
        0,
        "both held sign-ins are in"
    );
    // Now the next sign-in is shed (at once, not queued).
    let mut shed = None;
    for _ in 0..500 {
        let r = login("198.51.100.31").await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            shed = Some(r);
            break;
        }
        // Answered (401, or 429 from the account's own throttle): not inside yet.
        tokio::task::yield_now().await;
    }
    let shed = shed.expect("a sign-in is shed while two are in flight");
    assert_eq!(shed.code(), "busy");
    assert_eq!(shed.headers[header::RETRY_AFTER], "1");
    // So is an API call; webhooks (and health checks) go through every time.
    let r = app.call(Method::GET, "/api/v1/me", &Auth::None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "busy");
    for _ in 0..20 {
        let r = app
            .deliver(&ch, &crate::harness::fixture("text.json"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = app.call(Method::GET, "/healthz", &Auth::None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    // The slow sign-ins finish; everything is answered again.
    finish(tx1, held1).await;
    finish(tx2, held2).await;
    assert_eq!(
        login("198.51.100.31").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.call(Method::GET, "/api/v1/me", &Auth::None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
