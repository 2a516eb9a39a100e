//! The web app in headless Chromium.

use super::driver::{Browser, enabled, serve};
use super::fresh_tenant;
use crate::harness::{TestApp, strong_password};
use confide_crypto::totp::{Totp, base32_decode};

/// Sign-in as a new owner: the one-time password leads to the forced password change, then the
/// inbox; 2FA is enrolled with a code from the secret the page shows; the next sign-in asks for
/// a code. Every request of those pages stays on Confide's origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_changes_the_one_time_password_and_enrols_2fa() {
    if !enabled("browser_signs_in_changes_the_one_time_password_and_enrols_2fa") {
        return;
    }
    let app = TestApp::new().await;
    let served = serve(&app).await;
    let (_tenant, email, otp) = fresh_tenant(&app, "Acme").await;
    let b = Browser::start(&served, 1280, 900).await;

    // A signed-out visitor is sent to sign in.
    b.goto("/inbox").await;
    b.wait_css("#email").await;
    assert!(b.path().await.starts_with("/sign-in"), "{}", b.path().await);
    b.assert_same_origin().await;

    // A wrong password is refused in words.
    b.fill("#email", &email).await;
    b.fill("#password", "not the password at all").await;
    b.click("button[type=submit]").await;
    b.wait_text("#form-error", "email or password is not right")
        .await;

    // The one-time password: choose a new one first.
    b.sign_in(&email, &otp).await;
    assert_eq!(b.path().await, "/account/password");
    let password = strong_password(app.unique());
    b.fill("#current_password", &otp).await;
    b.fill("#new_password", &password).await;
    b.fill("#confirm_password", &password).await;
    b.click("button[type=submit]").await;
    b.wait_css("#inbox-title").await;
    assert_eq!(b.path().await, "/inbox");
    b.wait_text(".empty-title", "No open conversations").await;
    b.assert_same_origin().await;

    // 2FA: the password, then a code from the secret shown.
    b.goto("/account/2fa").await;
    b.fill("#password", &password).await;
    b.click("button[type=submit]").await;
    let secret = b.text("#totp-secret").await.replace(' ', "");
    let totp = Totp::new(&base32_decode(&secret).unwrap());
    let now = app.state.clock.now_micros() / 1_000_000;
    b.fill("#code", &totp.code_at(now)).await;
    b.click("button[type=submit]").await;
    b.wait_css("#recovery-codes").await;
    assert_eq!(
        b.js("return document.querySelectorAll('#recovery-codes li').length;")
            .await,
        10
    );

    // Sign out; signing in again asks for a code (a later one: each code works once).
    b.goto("/account").await;
    b.click(".sign-out button").await;
    b.wait_css("#email").await;
    b.fill("#email", &email).await;
    b.fill("#password", &password).await;
    b.click("button[type=submit]").await;
    b.wait_css("#code").await;
    assert!(b.path().await.starts_with("/sign-in"));
    let later = now + 30;
    app.clock.advance(time::Duration::seconds(30));
    b.fill("#code", &totp.code_at(later)).await;
    b.click("button[type=submit]").await;
    b.wait_css("#inbox-title").await;
    b.assert_same_origin().await;
    b.assert_no_script_ran().await;
    b.close().await;
    app.finish().await;
}
