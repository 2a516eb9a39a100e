//! C1: passwords are stored as argon2id PHC strings at (at least) OWASP cost, peppered, and
//! rehashed at sign-in when the parameters change. (C2's table-driven policy test is
//! `confide-crypto: password_policy::tests::password_rules_table`; the API applies it, see
//! `sessions::one_time_password_must_be_changed_before_anything_else`.)

use crate::harness::{Options, TestApp};
use axum::http::StatusCode;
use confide_core::entropy::OsEntropy;
use confide_crypto::password::{PasswordHasher, PasswordParams};

async fn stored_hash(app: &TestApp, t: &crate::harness::Tenant) -> String {
    let mut s = app.state.operator_store().read_scope(t.id).await.unwrap();
    let (_, creds) = s.users().credentials(t.owner.user_id).await.unwrap();
    s.commit().await.unwrap();
    creds.password_hash
}

/// The one test at OWASP cost: the server's default parameters produce this PHC string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_password_is_an_argon2id_phc_string_at_owasp_cost() {
    let app = TestApp::with(Options {
        m_cost_kib: confide_server::Config::default().password.m_cost_kib,
        t_cost: confide_server::Config::default().password.t_cost,
        postgres: false,
    })
    .await
    .unwrap();
    let phc = app
        .state
        .auth
        .hasher
        .hash("a long enough passphrase", &OsEntropy)
        .unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    // The pepper is in use: the same password and salt without it gives another hash.
    let unpeppered = PasswordHasher::new(PasswordParams::OWASP, None).unwrap();
    assert!(
        unpeppered.verify("a long enough passphrase", &phc).unwrap()
            == confide_crypto::Verification::Invalid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_old_parameters_rewrites_the_hash() {
    let app = TestApp::with(Options {
        m_cost_kib: 128,
        t_cost: 1,
        postgres: false,
    })
    .await
    .unwrap();
    let t = app.tenant("Rehash").await;
    // Store the owner's hash as an older deployment would have (cheaper parameters, same pepper).
    let pepper = app
        .state
        .operator_store()
        .keyring_snapshot()
        .unwrap()
        .password_pepper();
    let old = PasswordHasher::new(PasswordParams::TEST_CHEAP, Some(pepper)).unwrap();
    let old_phc = old.hash(&t.owner.password, &OsEntropy).unwrap();
    assert!(old_phc.contains("$m=64,t=1,p=1$"));
    {
        let mut s = app.state.operator_store().scope(t.id).await.unwrap();
        s.users()
            .set_password_hash(t.owner.user_id, &old_phc, false)
            .await
            .unwrap();
        s.commit().await.unwrap();
    }
    app.login(&t.owner.email, &t.owner.password).await;
    let new_phc = stored_hash(&app, &t).await;
    assert!(
        new_phc.starts_with("$argon2id$v=19$m=128,t=1,p=1$"),
        "{new_phc}"
    );
    assert_ne!(new_phc, old_phc);
    // A wrong password does not rewrite anything; the new hash keeps working.
    let r = app
        .login_raw(app.ip, &t.owner.email, "wrong password again", None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stored_hash(&app, &t).await, new_phc);
    app.login(&t.owner.email, &t.owner.password).await;
    assert_eq!(
        stored_hash(&app, &t).await,
        new_phc,
        "no rehash when current"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_is_bounded_by_a_semaphore() {
    let app = TestApp::new().await;
    let permits = app.state.auth.permits.available_permits();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    assert_eq!(permits, cores, "one hash per core at a time");
}
