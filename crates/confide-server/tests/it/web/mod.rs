//! The web app: pages rendered by the server, tested for their headers and form checks
//! directly ([`pages`]), and in a real headless Chromium ([`browser`], run when
//! `CONFIDE_TEST_CHROMIUM` is set; see [`driver`]).

mod browser;
mod driver;
mod pages;

use crate::harness::TestApp;
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::entropy::OsEntropy;
use confide_core::ids::TenantId;

/// A new tenant whose owner has only the one-time password it was created with: (tenant, email,
/// one-time password).
pub async fn fresh_tenant(app: &TestApp, name: &str) -> (TenantId, String, String) {
    let n = app.unique();
    let email = format!("owner{n}@{}.test", name.to_lowercase());
    let otp = format!("one-time-{n}-pass-word");
    let hash = app.state.auth.hasher.hash(&otp, &OsEntropy).unwrap();
    let created = app
        .state
        .operator_store()
        .create_tenant(name, &Email::parse(&email).unwrap(), &hash, Actor::Cli)
        .await
        .unwrap();
    (created.tenant_id, email, otp)
}
