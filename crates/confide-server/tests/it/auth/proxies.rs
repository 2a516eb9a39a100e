//! C4 behind a reverse proxy: `trusted_proxies` decides whose `X-Forwarded-For` names the client.
//! From a trusted proxy the client is the rightmost untrusted address of the chain, so clients
//! behind one proxy are throttled apart; from anyone else the header is ignored and the TCP peer
//! is the client it is throttled as.

use crate::harness::{HOST, ORIGIN, Options, Resp, TestApp};
use axum::http::{Method, Request, StatusCode, header};
use confide_app::identity::throttle::{self, Keys};
use serde_json::json;
use std::net::IpAddr;
use time::Duration;

/// The reverse proxy every test request comes through (its TCP address).
const PROXY: &str = "10.0.0.2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn behind_proxy() -> TestApp {
    TestApp::with_config(Options::default(), |c| {
        c.trusted_proxies = vec!["10.0.0.0/8".into()];
    })
    .await
    .unwrap()
}

/// A sign-in from TCP peer `peer` carrying `X-Forwarded-For: xff` (when given).
async fn login_via(app: &TestApp, peer: IpAddr, xff: Option<&str>, email: &str, pw: &str) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/session")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN);
    if let Some(x) = xff {
        b = b.header("x-forwarded-for", x);
    }
    app.send(peer, b, Some(json!({"email": email, "password": pw})))
        .await
}

fn retry_after(r: &Resp) -> i64 {
    r.headers
        .get(header::RETRY_AFTER)
        .expect("429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Fails `n` sign-ins of `email` as the given peer/header, waiting out every delay it is told.
async fn fail_times(app: &TestApp, peer: IpAddr, xff: Option<&str>, email: &str, n: usize) {
    let mut failures = 0;
    while failures < n {
        let r = login_via(app, peer, xff, email, "attacker guess here").await;
        match r.status {
            StatusCode::UNAUTHORIZED => failures += 1,
            StatusCode::TOO_MANY_REQUESTS => app.clock.advance(Duration::seconds(retry_after(&r))),
            other => panic!("{other}: {}", r.body),
        }
    }
}

/// The pair counter of an account and a client address.
async fn pair_failures(app: &TestApp, email: &str, client: IpAddr) -> i64 {
    let lookup = app
        .state
        .operator_store()
        .login_email_lookup(&confide_core::email::Email::parse(email).unwrap())
        .unwrap();
    let keys = Keys::tenant(&lookup, app.state.auth.ip_key(&client));
    app.state
        .operator_store()
        .throttle_counters(&[keys.pair])
        .await
        .unwrap()[0]
        .failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_failures_from_one_client_do_not_lock_out_another() {
    let app = behind_proxy().await;
    let t = app.tenant("Proxied").await;
    let proxy = ip(PROXY);
    let attacker = "198.51.100.66";
    let owner_elsewhere = "192.0.2.77";
    // 40 failures from one client, all through the same proxy.
    fail_times(&app, proxy, Some(attacker), &t.owner.email, 40).await;
    assert_eq!(pair_failures(&app, &t.owner.email, ip(attacker)).await, 40);
    assert_eq!(
        pair_failures(&app, &t.owner.email, proxy).await,
        0,
        "the proxy's own address is not the client"
    );
    // The attacker's client address is throttled, even with the right password...
    let r = login_via(
        &app,
        proxy,
        Some(attacker),
        &t.owner.email,
        &t.owner.password,
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // ...and cannot escape by prepending an address of its choice: the proxy appends the real
    // one, and the rightmost untrusted address is the client (also past a second proxy).
    let spoofed = format!("{owner_elsewhere}, {attacker}");
    let r = login_via(
        &app,
        proxy,
        Some(&spoofed),
        &t.owner.email,
        &t.owner.password,
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let two_hops = format!("{owner_elsewhere}, {attacker}, 10.0.0.9");
    let r = login_via(
        &app,
        proxy,
        Some(&two_hops),
        &t.owner.email,
        &t.owner.password,
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // The owner, through the same proxy from another address, signs in at once.
    let r = login_via(
        &app,
        proxy,
        Some(owner_elsewhere),
        &t.owner.email,
        &t.owner.password,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The session records the client's address, not the proxy's.
    let auth = crate::harness::session_of(&r);
    let sessions = app.get_ok(&auth, "/api/v1/sessions").await;
    let current: Vec<_> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current[0]["ip"], owner_elsewhere);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    // Proxies are trusted, but not this peer.
    let app = behind_proxy().await;
    let t = app.tenant("Spoofer").await;
    let peer = ip("198.51.100.40");
    // Every guess claims another client address.
    let mut failures = 0;
    let mut n = 0;
    while failures < 40 {
        n += 1;
        let claimed = format!("192.0.2.{}", n % 250 + 1);
        let r = login_via(&app, peer, Some(&claimed), &t.owner.email, "guess again").await;
        match r.status {
            StatusCode::UNAUTHORIZED => failures += 1,
            StatusCode::TOO_MANY_REQUESTS => app.clock.advance(Duration::seconds(retry_after(&r))),
            other => panic!("{other}: {}", r.body),
        }
    }
    // All 40 were counted against the TCP peer, none against a claimed address.
    assert_eq!(pair_failures(&app, &t.owner.email, peer).await, 40);
    for k in 1..=5 {
        let claimed = ip(&format!("192.0.2.{k}"));
        assert_eq!(pair_failures(&app, &t.owner.email, claimed).await, 0);
    }
    // A fresh claimed address does not help: the peer is throttled, right password or not.
    let r = login_via(
        &app,
        peer,
        Some("203.0.113.200"),
        &t.owner.email,
        &t.owner.password,
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let r = login_via(&app, peer, None, &t.owner.email, &t.owner.password).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // Without any trusted proxy the header is ignored the same way.
    let plain = TestApp::new().await;
    let t = plain.tenant("NoProxy").await;
    let proxy = ip(PROXY);
    for k in 0..5 {
        let r = login_via(
            &plain,
            proxy,
            Some(&format!("192.0.2.{}", k + 1)),
            &t.owner.email,
            "guess again",
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(pair_failures(&plain, &t.owner.email, proxy).await, 5);
    let r = login_via(&plain, proxy, Some("192.0.2.99"), &t.owner.email, "guess").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        retry_after(&r),
        throttle::delay_secs(5, throttle::FREE_FAILURES, 900)
    );
}
