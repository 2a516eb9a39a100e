//! Consent from what customers write: STOP keywords.

use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp, fixture};
use axum::http::StatusCode;
use serde_json::json;

/// A customer who writes only "STOP" (in any case, or "Baja", "Parar", ...) is opted out of
/// marketing, with the message as evidence, once however often Meta delivers it; a sentence that
/// merely contains the word is not an opt-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_keyword_opts_the_customer_out_of_marketing_once() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "kw-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let with_text = |wamid: &str, text: &str| {
        String::from_utf8(fixture("text.json"))
            .unwrap()
            .replace("wamid.TEXT0001", wamid)
            .replace(
                r#""body":"Does it come in another color? Gr\u00fc\u00dfe \u2713""#,
                &format!("\"body\":{}", json!(text)),
            )
            .into_bytes()
    };
    for (wamid, text) in [
        ("wamid.KW1", "please stop the noise"),
        ("wamid.KW2", " Stop! "),
        ("wamid.KW2", " Stop! "),
    ] {
        let r = app.deliver(&ch, &with_text(wamid, text)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let agent = &t.members["agent"].auth;
    let list = app.get_ok(agent, "/api/v1/conversations").await;
    let contact = list["conversations"][0]["contact_id"].as_str().unwrap();
    let ledger = app
        .get_ok(agent, &format!("/api/v1/contacts/{contact}/consent"))
        .await;
    let events = ledger["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{ledger}");
    assert_eq!(events[0]["purpose"], "marketing");
    assert_eq!(events[0]["status"], "opted_out");
    assert_eq!(events[0]["source"], "whatsapp_keyword");
    assert!(
        events[0]["evidence"].as_str().unwrap().contains("Stop!"),
        "{ledger}"
    );
    assert_eq!(ledger["current"]["marketing"], "opted_out");
}
