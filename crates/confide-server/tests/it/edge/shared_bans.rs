//! C26 across instances: on PostgreSQL, failure counters and bans live in the database, so
//! failures seen by two instances add up, a ban made on one holds on the other (within
//! `bans.shared_refresh_ms`), the operators' listing of either instance shows it, and it ends by
//! the injected clock everywhere.

use crate::harness::{HOST, ORIGIN, Options, Resp, TestApp, send_to};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;
use std::net::IpAddr;
use time::Duration;

async fn sign_in_on(router: &axum::Router, ip: IpAddr, email: &str, password: &str) -> Resp {
    let req = Request::post("/api/v1/session")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"email": email, "password": password}).to_string(),
        ))
        .unwrap();
    send_to(router, ip, req).await
}

async fn get_on(router: &axum::Router, ip: IpAddr, path: &str) -> Resp {
    let req = Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    send_to(router, ip, req).await
}

async fn listed(state: &confide_server::state::AppState) -> Vec<serde_json::Value> {
    let admin = confide_server::Application::admin_router(state.clone());
    let r = send_to(
        &admin,
        "127.0.0.1".parse().unwrap(),
        Request::get("/bans").body(Body::empty()).unwrap(),
    )
    .await;
    r.body["bans"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failures_on_one_instance_ban_the_address_on_another() {
    let Some(a) = TestApp::with_config(
        Options {
            postgres: true,
            ..Options::default()
        },
        |c| {
            c.bans.threshold = 3;
            c.bans.window_secs = 60;
            c.bans.duration_secs = 300;
            c.bans.shared_refresh_ms = 50;
        },
    )
    .await
    else {
        return;
    };
    let t = a.tenant("SharedBans").await;
    let (b, b_state) = a.second_instance().await;
    let attacker: IpAddr = "198.51.100.80".parse().unwrap();
    // Both instances serve the address (and have read the bans in force: none).
    assert_eq!(
        get_on(&a.router, attacker, "/api/v1/openapi.json")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get_on(&b, attacker, "/api/v1/openapi.json").await.status,
        StatusCode::OK
    );
    // Two failed sign-ins on A, one on B: the counters are shared, so the third bans, on B.
    for _ in 0..2 {
        let r = sign_in_on(
            &a.router,
            attacker,
            &t.owner.email,
            "not the password at all",
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let r = sign_in_on(&b, attacker, &t.owner.email, "not the password at all").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(b_state.metrics.security_events("address_banned"), 1);
    assert_eq!(a.state.metrics.security_events("address_banned"), 0);
    // B refuses at once; A within its refresh interval (50 ms here).
    assert_eq!(
        get_on(&b, attacker, "/api/v1/openapi.json").await.code(),
        "address_banned"
    );
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let r = sign_in_on(&a.router, attacker, &t.owner.email, &t.owner.password).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.code(), "address_banned", "even the right password, on A");
    assert_eq!(r.headers[header::RETRY_AFTER], "300");
    // Another address is served by both.
    let r = a
        .call_from(
            "198.51.100.81".parse().unwrap(),
            Method::GET,
            "/api/v1/me",
            &t.owner.auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Both instances list it for operators.
    for state in [&a.state, &b_state] {
        let bans = listed(state).await;
        assert_eq!(bans.len(), 1, "{bans:?}");
        assert_eq!(bans[0]["address"], "198.51.100.80");
        assert_eq!(bans[0]["reason"], "sign_in");
        assert_eq!(bans[0]["failures"], 3);
    }
    // It ends by the (shared, injected) clock on both.
    a.clock.advance(Duration::seconds(299));
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert_eq!(
        get_on(&a.router, attacker, "/api/v1/openapi.json")
            .await
            .code(),
        "address_banned"
    );
    assert_eq!(
        get_on(&b, attacker, "/api/v1/openapi.json").await.code(),
        "address_banned"
    );
    a.clock.advance(Duration::seconds(1));
    for router in [&a.router, &b] {
        let r = get_on(router, attacker, "/api/v1/openapi.json").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    assert!(listed(&a.state).await.is_empty());
    assert!(listed(&b_state).await.is_empty());
    // A new window counts from zero again: one failure does not ban.
    let r = sign_in_on(&b, attacker, &t.owner.email, "still not the password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get_on(&a.router, attacker, "/api/v1/me").await.code(),
        "unauthenticated"
    );
    b_state.operator_store().close().await;
    a.finish().await;
}
