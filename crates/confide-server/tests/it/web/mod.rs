//! The web app: pages rendered by the server, tested for their headers and form checks
//! directly ([`pages`]), and in a real headless Chromium ([`browser`], run when
//! `CONFIDE_TEST_CHROMIUM` is set; see [`driver`]).

mod browser;
mod driver;
mod lists;
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

/// A customer's text message as Meta delivers it (the shape of `fixtures/webhooks/text.json`),
/// from `user_id` / `phone` with the profile `name`, sent at `at` (Unix seconds).
pub fn inbound_text(
    user_id: &str,
    phone: &str,
    name: &str,
    text: &str,
    wamid: &str,
    at: i64,
) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": crate::harness::FIXTURE_PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": name}, "user_id": user_id, "wa_id": phone}],
            "messages": [{"from_user_id": user_id, "id": wamid, "timestamp": at.to_string(), "type": "text", "from": phone, "text": {"body": text}}]
        }}]}]
    })
    .to_string()
    .into_bytes()
}
