//! C5: TOTP second factor through the API: QR-ready enrolment, a code works once, recovery codes
//! work once, changing 2FA needs the password, owners can require it tenant-wide. (The RFC 6238
//! vectors are checked in `confide-crypto: totp::tests::rfc6238_test_vectors`, and again here
//! through the server's own verifier.)

use crate::harness::{Auth, TestApp, session_of};
use axum::http::{Method, StatusCode};
use confide_crypto::totp::{Algorithm, Totp, base32_decode};
use serde_json::json;

fn code_now(app: &TestApp, secret: &[u8]) -> String {
    let now = confide_core::clock::Clock::now(app.clock.as_ref()).unix_timestamp();
    Totp::new(secret).code_at(now)
}

/// Enrols `auth`'s user; returns the secret and recovery codes.
async fn enrol(app: &TestApp, auth: &Auth, password: &str) -> (Vec<u8>, Vec<String>) {
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/2fa/enroll",
            auth,
            Some(json!({"password": password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = base32_decode(r.body["secret"].as_str().unwrap()).unwrap();
    let uri = r.body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Confide:") && uri.contains("&digits=6&period=30"),
        "{uri}"
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/2fa/confirm",
            auth,
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a wrong code does not confirm"
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/2fa/confirm",
            auth,
            Some(json!({"code": code_now(app, &secret)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let codes: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

#[test]
fn rfc6238_vectors_through_the_verifier_used_at_sign_in() {
    let t = Totp::with(b"12345678901234567890", Algorithm::Sha1, 8);
    for (time, code) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
    ] {
        assert_eq!(t.verify(code, time, None), Some(time / 30), "T={time}");
    }
    // Six digits in production: the last six of the 8-digit vectors.
    assert_eq!(
        Totp::new(b"12345678901234567890").verify("287082", 59, None),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_code_works_once_and_recovery_codes_work_once() {
    let app = TestApp::new().await;
    let t = app.tenant("Totp").await;
    let m = &t.members["agent"];
    let other = app.login(&m.email, &m.password).await;
    let (secret, codes) = enrol(&app, &m.auth, &m.password).await;
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        10
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", &other, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "2FA change ends other sessions"
    );
    // The password alone is no longer enough.
    let r = app.login_raw(app.ip, &m.email, &m.password, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "totp_required")
    );
    app.clock.advance(time::Duration::seconds(30));
    let code = code_now(&app, &secret);
    let r = app
        .login_raw(app.ip, &m.email, &m.password, Some(&code))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The same code again, still within its window: refused.
    let r = app
        .login_raw(app.ip, &m.email, &m.password, Some(&code))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        "replay"
    );
    // The next step's code works.
    app.clock.advance(time::Duration::seconds(30));
    let r = app
        .login_raw(
            app.ip,
            &m.email,
            &m.password,
            Some(&code_now(&app, &secret)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A recovery code works once.
    let r = app
        .login_raw(app.ip, &m.email, &m.password, Some(&codes[3]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .login_raw(app.ip, &m.email, &m.password, Some(&codes[3]))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .login_raw(
            app.ip,
            &m.email,
            &m.password,
            Some(&codes[4].to_uppercase()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "codes are case-insensitive");
    // The stored codes are hashes.
    let mut conn = app.raw().await;
    let rows = sqlx::query("SELECT code_hash FROM recovery_codes")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    for r in rows {
        let h: Vec<u8> = sqlx::Row::try_get(&r, 0).unwrap();
        assert_eq!(h.len(), 32);
        assert!(
            !codes
                .iter()
                .any(|c| h.windows(4).any(|w| w == &c.as_bytes()[..4]))
        );
    }
    let actions = app.audit_actions(t.id).await;
    assert!(actions.contains(&"2fa.enabled".to_string()));
    assert!(actions.contains(&"2fa.recovery_code_used".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_two_factor_requires_the_password_again() {
    let app = TestApp::new().await;
    let t = app.tenant("Reauth").await;
    let m = &t.members["viewer"];
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/2fa/enroll",
            &m.auth,
            Some(json!({"password": "not my password"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "wrong_password")
    );
    let (secret, _) = enrol(&app, &m.auth, &m.password).await;
    app.clock.advance(time::Duration::seconds(30));
    let code = code_now(&app, &secret);
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/2fa/disable",
            &m.auth,
            Some(json!({"password": "not my password", "code": code})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With 2FA on, 8 characters are enough; without, 15.
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            &m.auth,
            Some(json!({"current_password": m.password, "new_password": "tulip-87"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/2fa/disable",
            &m.auth,
            Some(json!({"password": "tulip-87", "code": code})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app.login_raw(app.ip, &m.email, "tulip-87", None).await;
    assert_eq!(r.status, StatusCode::OK, "no second factor any more");
    let s = session_of(&r);
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/password",
            &s,
            Some(json!({"current_password": "tulip-87", "new_password": "tulip-88"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "password_too_short")
    );
    assert!(
        app.audit_actions(t.id)
            .await
            .contains(&"2fa.disabled".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_can_require_two_factor_for_everyone() {
    let app = TestApp::new().await;
    let t = app.tenant("Required").await;
    let r = app
        .call(
            Method::PUT,
            "/api/v1/security",
            &t.members["agent"].auth,
            Some(json!({"require_2fa": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/security",
            &t.owner.auth,
            Some(json!({"require_2fa": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let m = &t.members["agent"];
    let s = app.login(&m.email, &m.password).await;
    let r = app.call(Method::GET, "/api/v1/permissions", &s, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "two_factor_required")
    );
    let (secret, codes) = enrol(&app, &s, &m.password).await;
    assert_eq!(
        app.call(Method::GET, "/api/v1/permissions", &s, None)
            .await
            .status,
        StatusCode::OK
    );
    app.clock.advance(time::Duration::seconds(30));
    let r = app
        .call(
            Method::POST,
            "/api/v1/me/2fa/disable",
            &s,
            Some(json!({"password": m.password, "code": code_now(&app, &secret)})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "two_factor_required"),
        "cannot opt out"
    );
    assert_eq!(codes.len(), 10);
    assert!(
        app.audit_actions(t.id)
            .await
            .contains(&"security.require_2fa".to_string())
    );
}
