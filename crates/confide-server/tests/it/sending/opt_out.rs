//! STOP-style opt-outs from messages: the opt-out recorded with the message as evidence, at most
//! one confirmation sent back through the gate and the outbox, and nothing marketing after it;
//! the tenant's own keywords per language (`/api/v1/settings/opt-out`).

use super::{SHEENA, dispatch, send, sheena_wrote, sim};
use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp, TestChannel, fixture};
use axum::http::{Method, StatusCode};
use confide_core::clock::Clock;
use serde_json::{Value, json};

/// Sheena's text `text` as Meta delivers it (the wamid meta-sim gave it, so Meta's window is
/// open too).
async fn sheena_writes(app: &TestApp, sim: &meta_sim::SimHandle, ch: &TestChannel, text: &str) {
    let wamid = sim
        .customer_sends(SHEENA, FIXTURE_PHONE_NUMBER_ID, text)
        .unwrap();
    redeliver(app, ch, &wamid, text).await;
}

async fn redeliver(app: &TestApp, ch: &TestChannel, wamid: &str, text: &str) {
    let delivery = String::from_utf8(fixture("text.json"))
        .unwrap()
        .replace("wamid.TEXT0001", wamid)
        .replace(
            r#""body":"Does it come in another color? Gr\u00fc\u00dfe \u2713""#,
            &format!("\"body\":{}", json!(text)),
        );
    let r = app.deliver(ch, delivery.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn outbound(app: &TestApp, auth: &crate::harness::Auth, conversation: &str) -> Vec<Value> {
    let page = app
        .get_ok(
            auth,
            &format!("/api/v1/conversations/{conversation}/messages?limit=100"),
        )
        .await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .cloned()
        .collect()
}

/// "STOP" opts Sheena out of marketing with her message as evidence and queues one confirmation,
/// which the dispatcher sends through Graph; a second STOP (and a redelivered first one) is
/// recorded (or deduplicated) and not answered; after it, a marketing template and a broadcast
/// are refused and nothing more reaches Graph.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_sends_one_confirmation_and_nothing_else_follows() {
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let sim = sim().await;
    sim.add_template(TemplateConfig::new(
        "102290129340398",
        "spring_sale",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
        "Spring sale: everything half price.",
    ));
    let app = TestApp::new().await;
    let (t, ch, conversation) = sheena_wrote(&app, &sim, 60_000_000).await;
    let owner = &t.owner.auth;
    let agent = &t.members["agent"].auth;
    let r = app
        .call(Method::POST, "/api/v1/templates/sync", owner, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = app
        .get_ok(agent, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let contact = c["contact_id"].as_str().unwrap().to_string();
    // She had agreed to marketing before (an hour before her first message).
    let at = app.clock.now();
    app.clock.set(confide_core::clock::from_micros(
        super::SHEENA_WROTE_AT * 1_000_000 - super::HOUR,
    ));
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/contacts/{contact}/consent"),
            owner,
            Some(
                json!({"purpose": "marketing", "status": "opted_in", "source": "newsletter form"}),
            ),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    app.clock.set(at);

    sheena_writes(&app, &sim, &ch, "STOP").await;
    let ledger = app
        .get_ok(agent, &format!("/api/v1/contacts/{contact}/consent"))
        .await;
    assert_eq!(ledger["current"]["marketing"], "opted_out", "{ledger}");
    let keyword = ledger["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "whatsapp_keyword")
        .unwrap_or_else(|| panic!("{ledger}"));
    assert!(
        keyword["evidence"].as_str().unwrap().contains("STOP"),
        "{ledger}"
    );
    // One confirmation, queued through the gate (a service message in the window the STOP
    // opened), then sent by the dispatcher.
    let queued = outbound(&app, agent, &conversation).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        queued[0]["body"]["text"],
        confide_app::optout::BUILT_IN_CONFIRMATION
    );
    assert_eq!(dispatch(&app).await.sent, 1);
    let records = sim.sent_messages();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, "text");
    assert_eq!(records[0].body["to"], "+16505551234", "{}", records[0].body);
    assert_eq!(
        records[0].body["text"]["body"],
        confide_app::optout::BUILT_IN_CONFIRMATION
    );

    // A second STOP: recorded, not answered; the first one again: nothing at all.
    sheena_writes(&app, &sim, &ch, "stop").await;
    let first = sim.inbound_messages()[1].wamid.clone();
    redeliver(&app, &ch, &first, "STOP").await;
    let ledger = app
        .get_ok(agent, &format!("/api/v1/contacts/{contact}/consent"))
        .await;
    let keywords = ledger["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "whatsapp_keyword")
        .count();
    assert_eq!(keywords, 2, "{ledger}");
    assert_eq!(outbound(&app, agent, &conversation).await.len(), 1);

    // Nothing marketing after it, by any path.
    let r = send(
        &app,
        agent,
        &conversation,
        json!({"type": "template", "template": "spring_sale", "language": "en_US"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "no_consent");
    let r = app
        .call(
            Method::POST,
            "/api/v1/broadcasts",
            owner,
            Some(json!({
                "channel_id": ch.channel.to_string(),
                "template": "spring_sale",
                "language": "en_US",
                "audience": {"contact_ids": [contact]},
                "purpose": "marketing",
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["counts"]["refused_no_consent"], 1, "{}", r.body);
    assert_eq!(dispatch(&app).await.sent, 0);
    assert_eq!(
        sim.sent_messages().len(),
        1,
        "only the confirmation reached Graph"
    );
    let confirmations = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .filter(|e| e.action == "message.queued" && e.details.contains("opt_out_confirmation"))
        .count();
    assert_eq!(confirmations, 1);
}

/// The tenant's own words per language opt out too, and are confirmed in that language; only
/// someone who may record consent changes them (not a viewer), and they are checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_keywords_per_language_opt_out_and_confirm_in_that_language() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, ch, conversation) = sheena_wrote(&app, &sim, 60_000_000).await;
    let owner = &t.owner.auth;
    let agent = &t.members["agent"].auth;
    let settings = json!({
        "keywords": {"es": ["Basta ya"]},
        "confirmations": {"es": "Listo: no le enviaremos más ofertas."},
    });
    let r = app
        .call(
            Method::PUT,
            "/api/v1/settings/opt-out",
            &t.members["viewer"].auth,
            Some(settings.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/settings/opt-out",
            owner,
            Some(json!({"keywords": {"es": ["!!!"]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_settings");
    let r = app
        .call(
            Method::PUT,
            "/api/v1/settings/opt-out",
            owner,
            Some(settings),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let read = app.get_ok(agent, "/api/v1/settings/opt-out").await;
    assert_eq!(read["keywords"]["es"], json!(["Basta ya"]), "{read}");
    assert_eq!(read["confirm"], true);
    assert!(
        read["built_in_keywords"]
            .as_array()
            .unwrap()
            .contains(&json!("STOP"))
    );
    assert!(
        app.audit_actions(t.id)
            .await
            .contains(&"settings.opt_out_changed".to_string())
    );

    // A sentence with the words is a conversation; the words alone are an opt-out.
    sheena_writes(&app, &sim, &ch, "basta ya de esperar, ¿dónde está?").await;
    assert!(outbound(&app, agent, &conversation).await.is_empty());
    sheena_writes(&app, &sim, &ch, "¡Basta ya!").await;
    let c = app
        .get_ok(agent, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let contact = c["contact_id"].as_str().unwrap();
    let ledger = app
        .get_ok(agent, &format!("/api/v1/contacts/{contact}/consent"))
        .await;
    assert_eq!(ledger["current"]["marketing"], "opted_out", "{ledger}");
    let queued = outbound(&app, agent, &conversation).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        queued[0]["body"]["text"],
        "Listo: no le enviaremos más ofertas."
    );
    assert_eq!(dispatch(&app).await.sent, 1);
}
