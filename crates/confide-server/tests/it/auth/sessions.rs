//! C3: session rules, each with the injected clock: idle and absolute timeouts, a new token at
//! every sign-in, sign-out, ending one or all other sessions, password change and disabling a
//! user ending sessions, the cookie's attributes, CSRF, and a stolen sessions table that cannot
//! be turned into a working cookie.

use crate::harness::{Auth, TestApp, session_of, strong_password};
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sqlx::Row;
use time::Duration;

async fn me_status(app: &TestApp, auth: &Auth) -> StatusCode {
    app.call(Method::GET, "/api/v1/me", auth, None).await.status
}

async fn run_idle(app: &TestApp) {
    let t = app.tenant("Idle").await;
    let s = app.login(&t.owner.email, &t.owner.password).await;
    app.clock.advance(Duration::minutes(59));
    assert_eq!(
        me_status(app, &s).await,
        StatusCode::OK,
        "used within the hour"
    );
    app.clock.advance(Duration::minutes(59));
    assert_eq!(
        me_status(app, &s).await,
        StatusCode::OK,
        "activity restarts the idle clock"
    );
    app.clock.advance(Duration::minutes(61));
    assert_eq!(
        me_status(app, &s).await,
        StatusCode::UNAUTHORIZED,
        "idle for over an hour"
    );
    app.clock.advance(Duration::minutes(-61));
    assert_eq!(
        me_status(app, &s).await,
        StatusCode::UNAUTHORIZED,
        "the server-side session is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_ends_a_session_unused_for_an_hour() {
    let app = TestApp::new().await;
    run_idle(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_ends_a_session_unused_for_an_hour_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    run_idle(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_timeout_ends_a_session_after_24_hours_however_active() {
    let app = TestApp::new().await;
    let t = app.tenant("Absolute").await;
    let s = app.login(&t.owner.email, &t.owner.password).await;
    for _ in 0..28 {
        app.clock.advance(Duration::minutes(50));
        assert_eq!(me_status(&app, &s).await, StatusCode::OK);
    }
    // 23 h 20 min in; the session must end at 24 h even though it is in use.
    app.clock.advance(Duration::minutes(39));
    assert_eq!(me_status(&app, &s).await, StatusCode::OK);
    app.clock.advance(Duration::minutes(2));
    assert_eq!(me_status(&app, &s).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sign_in_issues_a_new_token() {
    let app = TestApp::new().await;
    let t = app.tenant("Rotation").await;
    let first = app.login(&t.owner.email, &t.owner.password).await;
    // A sign-in that arrives with a (planted) cookie still gets a new token: no fixation.
    let b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/session")
        .header(header::HOST, crate::harness::HOST)
        .header(header::ORIGIN, crate::harness::ORIGIN)
        .header(
            header::COOKIE,
            format!("__Host-confide_session={}", first.token()),
        );
    let r = app
        .send(
            app.ip,
            b,
            Some(json!({"email": t.owner.email, "password": t.owner.password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let second = session_of(&r);
    assert_ne!(first.token(), second.token());
    assert_ne!(r.body["session_id"], serde_json::Value::Null);
    let third = app.login(&t.owner.email, &t.owner.password).await;
    assert_ne!(third.token(), second.token());
    assert!(
        second.token().starts_with("cfd_sess_") && second.token().len() == 9 + 43,
        "256 bits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_is_host_prefixed_secure_httponly_strict() {
    let app = TestApp::new().await;
    let t = app.tenant("Cookie").await;
    let r = app
        .login_raw(app.ip, &t.owner.email, &t.owner.password, None)
        .await;
    let cookie = r
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.starts_with("__Host-confide_session=cfd_sess_"),
        "{cookie}"
    );
    for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.split("; ").any(|a| a == attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Domain="), "host-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_deletes_the_server_side_session() {
    let app = TestApp::new().await;
    let t = app.tenant("Logout").await;
    let s = app.login(&t.owner.email, &t.owner.password).await;
    let before = sessions_of(&app, &t).await;
    let r = app.call(Method::DELETE, "/api/v1/session", &s, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        r.headers
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        me_status(&app, &s).await,
        StatusCode::UNAUTHORIZED,
        "the old cookie is dead"
    );
    assert_eq!(sessions_of(&app, &t).await, before - 1);
    assert!(
        app.audit_actions(t.id)
            .await
            .contains(&"session.logout".to_string())
    );
}

async fn sessions_of(app: &TestApp, t: &crate::harness::Tenant) -> usize {
    let mut s = app.state.operator_store().read_scope(t.id).await.unwrap();
    let n = s.sessions().list(t.owner.user_id).await.unwrap().len();
    s.commit().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_one_session_and_end_all_other_sessions() {
    let app = TestApp::new().await;
    let t = app.tenant("Ending").await;
    let s1 = app.login(&t.owner.email, &t.owner.password).await;
    let s2 = app.login(&t.owner.email, &t.owner.password).await;
    let s3 = app.login(&t.owner.email, &t.owner.password).await;
    let r = app.call(Method::GET, "/api/v1/sessions", &s1, None).await;
    let list = r.body["sessions"].as_array().unwrap().clone();
    assert!(list.len() >= 3);
    assert_eq!(list.iter().filter(|x| x["current"] == true).count(), 1);
    let entry = &list[0];
    for k in ["created_at", "last_seen_at", "user_agent", "ip"] {
        assert!(!entry[k].is_null(), "{k} listed");
    }
    assert_eq!(entry["user_agent"], "confide-tests/1");
    // End s2 from s1 (s2 is the second newest).
    let s2_id = app.call(Method::GET, "/api/v1/me", &s2, None).await;
    assert_eq!(s2_id.status, StatusCode::OK);
    let ids: Vec<String> = list
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    let current_of_s2 = {
        let r = app.call(Method::GET, "/api/v1/sessions", &s2, None).await;
        r.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["current"] == true)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(ids.contains(&current_of_s2));
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/sessions/{current_of_s2}"),
            &s1,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &s2).await, StatusCode::UNAUTHORIZED);
    // Another user's session id is not found (and not ended).
    let agent = &t.members["agent"];
    let agent_session = app.login(&agent.email, &agent.password).await;
    let agent_sid = app
        .call(Method::GET, "/api/v1/sessions", &agent_session, None)
        .await
        .body["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/sessions/{agent_sid}"),
            &s1,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(me_status(&app, &agent_session).await, StatusCode::OK);
    // End all others.
    let r = app
        .call(Method::DELETE, "/api/v1/sessions", &s1, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(me_status(&app, &s3).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&app, &t.owner.auth).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_status(&app, &s1).await, StatusCode::OK);
    let r = app.call(Method::GET, "/api/v1/sessions", &s1, None).await;
    assert_eq!(r.body["sessions"].as_array().unwrap().len(), 1);
    let actions = app.audit_actions(t.id).await;
    assert!(actions.contains(&"session.revoked".to_string()));
    assert!(actions.contains(&"session.revoked_others".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_ends_the_other_sessions() {
    let app = TestApp::new().await;
    let t = app.tenant("Change").await;
    let s1 = app.login(&t.owner.email, &t.owner.password).await;
    let s2 = app.login(&t.owner.email, &t.owner.password).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            &s1,
            Some(json!({"current_password": t.owner.password, "new_password": strong_password(9_999)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(me_status(&app, &s1).await, StatusCode::OK);
    assert_eq!(me_status(&app, &s2).await, StatusCode::UNAUTHORIZED);
    let r = app
        .login_raw(app.ip, &t.owner.email, &t.owner.password, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "old password");
    app.login(&t.owner.email, &strong_password(9_999)).await;
    assert!(
        app.audit_actions(t.id)
            .await
            .contains(&"user.password_changed".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_their_sessions() {
    let app = TestApp::new().await;
    let t = app.tenant("Disable").await;
    let agent = &t.members["agent"];
    let s = app.login(&agent.email, &agent.password).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{}", agent.user_id),
            &t.owner.auth,
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(me_status(&app, &s).await, StatusCode::UNAUTHORIZED);
    let r = app
        .login_raw(app.ip, &agent.email, &agent.password, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stolen_sessions_table_cannot_be_replayed_as_a_cookie() {
    let app = TestApp::new().await;
    let t = app.tenant("Stolen").await;
    let live = app.login(&t.owner.email, &t.owner.password).await;
    let mut conn = app.raw().await;
    let mut stolen: Vec<Vec<u8>> = Vec::new();
    for r in sqlx::query("SELECT token_hash FROM sessions")
        .fetch_all(&mut conn)
        .await
        .unwrap()
    {
        stolen.push(r.try_get(0).unwrap());
    }
    for r in sqlx::query("SELECT lookup FROM principals WHERE kind = 'session'")
        .fetch_all(&mut conn)
        .await
        .unwrap()
    {
        stolen.push(r.try_get(0).unwrap());
    }
    assert!(stolen.len() >= 2);
    // The live token is nowhere in the database.
    for row in &stolen {
        assert!(
            !row.windows(live.token().len())
                .any(|w| w == live.token().as_bytes())
        );
    }
    for h in &stolen {
        for candidate in [
            hex::encode(h),
            URL_SAFE_NO_PAD.encode(h),
            format!("cfd_sess_{}", URL_SAFE_NO_PAD.encode(h)),
            String::from_utf8_lossy(h).to_string(),
        ]
        .into_iter()
        .filter(|c| c.bytes().all(|b| b.is_ascii_graphic()))
        {
            let cookie = Auth::RawCookie(format!("__Host-confide_session={candidate}"));
            let r = app.call(Method::GET, "/api/v1/me", &cookie, None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "replayed {candidate}");
            let bearer = Auth::Bearer(candidate.clone());
            assert_eq!(
                app.call(Method::GET, "/api/v1/me", &bearer, None)
                    .await
                    .status,
                StatusCode::UNAUTHORIZED
            );
        }
    }
    assert_eq!(
        me_status(&app, &live).await,
        StatusCode::OK,
        "the real cookie still works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_requests_that_change_state_need_same_origin_and_csrf_token() {
    let app = TestApp::new().await;
    let t = app.tenant("Csrf").await;
    let s = app.login(&t.owner.email, &t.owner.password).await;
    let (token, csrf) = match &s {
        Auth::Session { token, csrf } => (token.clone(), csrf.clone()),
        _ => unreachable!(),
    };
    let body = json!({"name": "x-role", "permissions": []});
    let attempt = |origin: Option<&'static str>, csrf: Option<String>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/roles")
            .header(header::HOST, crate::harness::HOST)
            .header(header::COOKIE, format!("__Host-confide_session={token}"));
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(c) = csrf {
            b = b.header("x-csrf-token", c);
        }
        b
    };
    for (origin, token) in [
        (None, Some(csrf.clone())),
        (Some("https://evil.example"), Some(csrf.clone())),
        (Some(crate::harness::ORIGIN), None),
        (Some(crate::harness::ORIGIN), Some("wrong".to_string())),
    ] {
        let r = app
            .send(app.ip, attempt(origin, token.clone()), Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin:?} {token:?}");
        assert_eq!(r.code(), "csrf");
    }
    let r = app
        .send(
            app.ip,
            attempt(Some(crate::harness::ORIGIN), Some(csrf.clone())),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // GET /me returns the same CSRF token; a bearer key needs none.
    let r = app.call(Method::GET, "/api/v1/me", &s, None).await;
    assert_eq!(r.body["csrf_token"], csrf);
    let (_, key) = app.api_key(&t, "owner").await;
    let b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/roles")
        .header(header::HOST, crate::harness::HOST)
        .header(header::AUTHORIZATION, format!("Bearer {key}"));
    let r = app
        .send(
            app.ip,
            b,
            Some(json!({"name": "y-role", "permissions": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // A cross-site sign-in is refused too.
    let b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/session")
        .header(header::HOST, crate::harness::HOST)
        .header(header::ORIGIN, "https://evil.example");
    let r = app
        .send(
            app.ip,
            b,
            Some(json!({"email": t.owner.email, "password": t.owner.password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_password_must_be_changed_before_anything_else() {
    let app = TestApp::new().await;
    let t = app.tenant("FirstLogin").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/users",
            &t.owner.auth,
            Some(json!({"email": "new@firstlogin.test", "role_id": t.roles["admin"].to_string()})),
        )
        .await;
    let otp = r.body["one_time_password"].as_str().unwrap().to_string();
    let s = app.login("new@firstlogin.test", &otp).await;
    let r = app.call(Method::GET, "/api/v1/users", &s, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "password_change_required")
    );
    let r = app.call(Method::GET, "/api/v1/me", &s, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "password_change_required")
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            &s,
            Some(json!({"current_password": otp, "new_password": "short"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "password_too_short")
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            &s,
            Some(json!({"current_password": otp, "new_password": "passwordpassword"})),
        )
        .await;
    assert_eq!(r.code(), "password_too_common");
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            &s,
            Some(json!({"current_password": otp, "new_password": strong_password(42)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(Method::GET, "/api/v1/users", &s, None)
            .await
            .status,
        StatusCode::OK
    );
}
