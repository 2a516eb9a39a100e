//! Answering customers: `POST /api/v1/conversations/{id}/messages` through the send gate, the
//! outbox and the dispatcher to a meta-sim, and the statuses that come back.

use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, Tenant, TestApp, TestChannel, fixture};
use axum::http::{Method, StatusCode};
use confide_app::outbound::lease::LEASE_TTL;
use confide_core::clock::{Clock, from_micros};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) const SHEENA: &str = "US.13491208655302741918";
const PABLO: &str = "BR.1502576394655843";
/// `text.json`'s message time (Unix seconds).
pub(crate) const SHEENA_WROTE_AT: i64 = 1_749_416_383;
pub(crate) const HOUR: i64 = 3_600_000_000;

pub(crate) async fn sim() -> meta_sim::SimHandle {
    let config = meta_sim::SimConfig {
        numbers: vec![meta_sim::NumberConfig::new(
            FIXTURE_PHONE_NUMBER_ID,
            "15550783881",
            "102290129340398",
            "EAAG-test-token",
            "s",
        )],
        users: vec![
            meta_sim::UserConfig::with_phone(SHEENA, "Sheena Nelson", "16505551234"),
            meta_sim::UserConfig::with_username(PABLO, "Pablo Morales", "pablomorales", None),
        ],
        ..meta_sim::SimConfig::default()
    };
    meta_sim::Sim::start(config, Arc::new(confide_core::clock::SystemClock))
        .await
        .unwrap()
}

/// A tenant whose channel talks to `sim`, after Sheena wrote in (at Meta and to Confide), with
/// Confide's clock `since` microseconds after her message. Returns her conversation's id.
async fn sheena_wrote(
    app: &TestApp,
    sim: &meta_sim::SimHandle,
    since: i64,
) -> (Tenant, TestChannel, String) {
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(t.id, FIXTURE_PHONE_NUMBER_ID, "send-secret", sim.base_url())
        .await;
    // Her message as Meta delivers it: the fixture's shape, with the wamid meta-sim gave it.
    let wamid = sim
        .customer_sends(SHEENA, FIXTURE_PHONE_NUMBER_ID, "Is my order on its way?")
        .unwrap();
    let delivery = String::from_utf8(fixture("text.json"))
        .unwrap()
        .replace("wamid.TEXT0001", &wamid);
    let r = app.deliver(&ch, delivery.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.clock
        .set(from_micros(SHEENA_WROTE_AT * 1_000_000 + since));
    let list = app
        .get_ok(&t.members["agent"].auth, "/api/v1/conversations")
        .await;
    let id = list["conversations"][0]["id"].as_str().unwrap().to_string();
    (t, ch, id)
}

async fn send(app: &TestApp, auth: &Auth, conversation: &str, body: Value) -> crate::harness::Resp {
    app.call(
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        auth,
        Some(body),
    )
    .await
}

/// The dispatcher, as the server runs it in the background (the test harness drops the server's
/// workers, so tests run its passes themselves, as the media tests do with the fetcher), telling
/// the inbox's live updates as the server's does.
pub(crate) fn dispatcher(app: &TestApp) -> confide_app::outbound::dispatcher::Dispatcher {
    confide_app::outbound::dispatcher::Dispatcher::new(
        app.state.operator_store().clone(),
        app.state.channels.clone(),
        app.state.clock.clone(),
        app.state.entropy.clone(),
        app.state.egress.clone(),
        app.state.health.clone(),
        Arc::new(tokio::sync::Notify::new()),
    )
    .with_events(app.state.events.clone())
    .with_media(app.state.media.clone(), app.state.media_links.clone())
    // Each call stands for the same process: one lease holder.
    .with_holder("test-dispatcher")
}

/// One dispatcher pass over what is due.
pub(crate) async fn dispatch(app: &TestApp) -> confide_app::outbound::dispatcher::DispatchPass {
    let pass = dispatcher(app).run_once().await.unwrap();
    app.state.health.idle().await;
    pass
}

/// The message `id` of the conversation, as the API lists it.
async fn message(app: &TestApp, auth: &Auth, conversation: &str, id: &str) -> Value {
    let page = app
        .get_ok(
            auth,
            &format!("/api/v1/conversations/{conversation}/messages"),
        )
        .await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {page}"))
        .clone()
}

pub(crate) fn status_delivery(fixture_name: &str, wamid: &str) -> Vec<u8> {
    String::from_utf8(fixture(fixture_name))
        .unwrap()
        .replace("wamid.OUTBOUND0001", wamid)
        .replace("wamid.OUTBOUND0003", wamid)
        .into_bytes()
}

async fn an_agent_reply_reaches_graph_through_the_outbox_and_statuses_move_it_to_read_on(
    app: TestApp,
) {
    let sim = sim().await;
    let (t, ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let agent = &t.members["agent"].auth;

    let r = send(
        &app,
        agent,
        &conversation,
        json!({"type": "text", "text": "Yes, it ships today."}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["direction"], "outbound");
    assert_eq!(r.body["wamid"], Value::Null);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(dispatch(&app).await.sent, 1);

    let sent = message(&app, agent, &conversation, &id).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    let records = sim.sent_messages();
    assert_eq!(records.len(), 1, "exactly one Graph request");
    let record = &records[0];
    assert_eq!(sent["wamid"], record.wamid.as_str(), "the wamid Graph gave");
    assert_eq!(record.phone_number_id, FIXTURE_PHONE_NUMBER_ID);
    assert_eq!(record.kind, "text");
    assert_eq!(record.body["to"], "+16505551234", "{}", record.body);
    assert_eq!(record.body["text"]["body"], "Yes, it ships today.");
    assert_eq!(record.body["messaging_product"], "whatsapp");

    // Meta's statuses move it forward, never back.
    for (name, expected) in [
        ("status-delivered.json", "delivered"),
        ("status-read.json", "read"),
        ("status-sent.json", "read"),
    ] {
        let r = app
            .deliver(&ch, &status_delivery(name, &record.wamid))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let m = message(&app, agent, &conversation, &id).await;
        assert_eq!(m["status"], expected, "after {name}: {m}");
    }

    let actions = app.audit_actions(t.id).await;
    assert!(
        actions.contains(&"message.queued".to_string()),
        "{actions:?}"
    );
    assert!(actions.contains(&"message.sent".to_string()), "{actions:?}");

    // Charges: the pricing Meta reported (on `sent` and again on `delivered`) counts once, in
    // the audit chain and in that month's totals.
    let charged: Vec<Value> = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .filter(|e| e.action == "charges.recorded")
        .flat_map(|e| {
            let d: Value = serde_json::from_str(&e.details).unwrap();
            d["charges"].as_array().unwrap().clone()
        })
        .collect();
    assert_eq!(charged.len(), 1, "{charged:?}");
    assert_eq!(charged[0]["wamid"], record.wamid.as_str());
    assert_eq!(charged[0]["category"], "marketing");
    let charges = app
        .get_ok(&t.owner.auth, "/api/v1/charges?month=2025-06")
        .await;
    assert_eq!(
        charges["totals"],
        json!([{"phone_number_id": FIXTURE_PHONE_NUMBER_ID, "category": "marketing", "billable": 1, "free": 0}]),
        "{charges}"
    );
    let other = app
        .get_ok(&t.owner.auth, "/api/v1/charges?month=2025-07")
        .await;
    assert_eq!(other["totals"], json!([]));
    let r = app
        .call(
            Method::GET,
            "/api/v1/charges?month=June",
            &t.owner.auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reply_reaches_graph_through_the_outbox_and_statuses_move_it_to_read() {
    an_agent_reply_reaches_graph_through_the_outbox_and_statuses_move_it_to_read_on(
        TestApp::new().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reply_reaches_graph_through_the_outbox_and_statuses_move_it_to_read_on_postgres()
{
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    an_agent_reply_reaches_graph_through_the_outbox_and_statuses_move_it_to_read_on(app).await;
}

/// Meta accepts a send and reports it `failed` later (here 131047, the window): the message says
/// why in plain words, with Meta's code behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_status_webhook_fails_the_message_with_a_plain_reason() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let agent = &t.members["agent"].auth;
    let r = send(&app, agent, &conversation, json!({"text": "Still there?"})).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(dispatch(&app).await.sent, 1);
    let wamid = sim.sent_messages()[0].wamid.clone();
    let r = app
        .deliver(&ch, &status_delivery("status-failed-window.json", &wamid))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let m = message(&app, agent, &conversation, &id).await;
    assert_eq!(m["status"], "failed", "{m}");
    assert!(m["error"].as_str().unwrap().contains("24 hours"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_customer_without_a_phone_is_addressed_by_bsuid() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(t.id, FIXTURE_PHONE_NUMBER_ID, "send-secret", sim.base_url())
        .await;
    sim.customer_sends(PABLO, FIXTURE_PHONE_NUMBER_ID, "Hola, ¿tienen envío?")
        .unwrap();
    app.deliver_fixtures(&ch, &["text-username-no-phone.json"])
        .await;
    let agent = &t.members["agent"].auth;
    let list = app.get_ok(agent, "/api/v1/conversations").await;
    let pablo = &list["conversations"][0];
    let at = pablo["last_inbound_at"].as_str().unwrap();
    let at =
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
    app.clock.set(at + time::Duration::minutes(5));
    let conversation = pablo["id"].as_str().unwrap();

    let r = send(
        &app,
        agent,
        conversation,
        json!({"text": "¡Sí, enviamos a todo el país!"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(dispatch(&app).await.sent, 1);
    let m = message(&app, agent, conversation, id).await;
    assert_eq!(m["status"], "sent", "{m}");
    let record = sim.sent_messages().pop().unwrap();
    assert_eq!(record.body["recipient"], PABLO, "{}", record.body);
    assert!(
        record.body.get("to").is_none(),
        "no phone was sent: {}",
        record.body
    );
}

/// C20 at the edge of the window, with Confide's clock: one second before 24 hours a free-form
/// reply goes out; at 24 hours it is refused (and audited), and nothing reaches Graph.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_edge_allows_23_59_59_and_refuses_24_00_00() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, 24 * HOUR - 1_000_000).await;
    let agent = &t.members["agent"].auth;
    let r = send(&app, agent, &conversation, json!({"text": "Just in time."})).await;
    assert_eq!(
        r.status,
        StatusCode::ACCEPTED,
        "23:59:59 is inside: {}",
        r.body
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(dispatch(&app).await.sent, 1);
    assert_eq!(
        message(&app, agent, &conversation, &id).await["status"],
        "sent"
    );
    assert_eq!(sim.sent_messages().len(), 1);

    app.clock.advance(time::Duration::seconds(1));
    let r = send(&app, agent, &conversation, json!({"text": "Too late."})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "outside_window");
    assert_eq!(dispatch(&app).await, Default::default(), "nothing queued");
    assert_eq!(sim.sent_messages().len(), 1, "nothing more reached Graph");
    let refused = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .filter(|e| e.action == "message.send_refused")
        .map(|e| serde_json::from_str::<Value>(&e.details).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["code"], "outside_window");
}

/// C19: an opted-out contact gets nothing, whatever the path (a session, an API key, with or
/// without an Idempotency-Key), and every refusal is audited with its code.
async fn an_opted_out_contact_gets_nothing_and_every_refusal_is_audited_on(app: TestApp) {
    let sim = sim().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let agent = &t.members["agent"].auth;
    let c = app
        .get_ok(agent, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let contact = c["contact_id"].as_str().unwrap();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/contacts/{contact}/consent"),
            &t.owner.auth,
            Some(json!({"purpose": "service", "status": "opted_out", "source": "phone call"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let (_, key) = app.api_key(&t, "agent").await;
    let api = Auth::Bearer(key);

    let path = format!("/api/v1/conversations/{conversation}/messages");
    let attempts: Vec<(&Auth, Option<&str>)> = vec![
        (agent, None),
        (agent, Some("k-1")),
        (&api, None),
        (&api, Some("k-2")),
    ];
    for (auth, key) in &attempts {
        let headers: Vec<(&str, &str)> = key.iter().map(|k| ("idempotency-key", *k)).collect();
        let r = app
            .call_with(
                app.ip,
                Method::POST,
                &path,
                auth,
                Some(json!({"type": "text", "text": "A reply"})),
                &headers,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "no_consent");
    }
    assert_eq!(dispatch(&app).await, Default::default(), "nothing queued");
    assert!(sim.sent_messages().is_empty(), "nothing reached Graph");
    let refused: Vec<_> = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .filter(|e| e.action == "message.send_refused")
        .map(|e| serde_json::from_str::<Value>(&e.details).unwrap())
        .collect();
    assert_eq!(refused.len(), attempts.len());
    assert!(refused.iter().all(|e| e["code"] == "no_consent"));
    let paths: Vec<_> = refused.iter().map(|e| e["path"].clone()).collect();
    assert!(
        paths.contains(&json!("agent_reply")) && paths.contains(&json!("api")),
        "{paths:?}"
    );
    let page = app
        .get_ok(
            agent,
            &format!("/api/v1/conversations/{conversation}/messages"),
        )
        .await;
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["direction"] == "inbound"),
        "no refused message is stored: {page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_out_contact_gets_nothing_and_every_refusal_is_audited() {
    an_opted_out_contact_gets_nothing_and_every_refusal_is_audited_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_out_contact_gets_nothing_and_every_refusal_is_audited_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    an_opted_out_contact_gets_nothing_and_every_refusal_is_audited_on(app).await;
}

/// The same Idempotency-Key sends once and answers with the same message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_makes_a_send_happen_once() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let agent = &t.members["agent"].auth;
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = app
            .call_with(
                app.ip,
                Method::POST,
                &path,
                agent,
                Some(json!({"text": "Your order left the warehouse."})),
                &[("idempotency-key", "order-42-reply")],
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(dispatch(&app).await.sent, 1);
    assert_eq!(dispatch(&app).await.sent, 0, "nothing left to send");
    assert_eq!(sim.sent_messages().len(), 1, "sent once");
    // Another key is another message.
    let r = send(
        &app,
        agent,
        &conversation,
        json!({"text": "And a second one."}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_ne!(r.body["id"], ids[0].as_str());
}

/// A token Graph refuses (190) fails the message with a plain reason, sets the channel's health
/// and stops its queue: the next send is refused by the gate (`channel_disabled`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_fails_the_message_plainly_and_stops_the_channel() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    sim.set_access_token(FIXTURE_PHONE_NUMBER_ID, "EAAG-rotated-elsewhere", None)
        .unwrap();
    let agent = &t.members["agent"].auth;
    let r = send(&app, agent, &conversation, json!({"text": "Hello?"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(dispatch(&app).await.failed, 1);
    let m = message(&app, agent, &conversation, &id).await;
    assert_eq!(m["status"], "failed", "{m}");
    assert!(
        m["error"].as_str().unwrap().contains("access token"),
        "a plain reason: {m}"
    );
    let channel = app
        .get_ok(&t.owner.auth, &format!("/api/v1/channels/{}", ch.channel))
        .await;
    assert_eq!(channel["health"], "token_invalid", "{channel}");
    let r = send(&app, agent, &conversation, json!({"text": "Hello again?"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "channel_disabled");
    assert!(sim.sent_messages().is_empty());
    let actions = app.audit_actions(t.id).await;
    assert!(
        actions.contains(&"message.failed".to_string()),
        "{actions:?}"
    );
}

/// A send that was handed to Graph when the process stopped, before its answer was recorded, is
/// held for review on the next start: never sent twice.
async fn a_send_interrupted_mid_way_is_held_for_review_not_sent_twice_on(app: TestApp) {
    let sim = sim().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    // Queued straight into the outbox and claimed, as a dispatcher that died after the claim
    // would leave it.
    let store = app.state.operator_store();
    let mut s = store.scope(t.id).await.unwrap();
    let c = s
        .inbox()
        .conversation(conversation.parse().unwrap())
        .await
        .unwrap();
    let queued = s
        .outbox()
        .enqueue(
            confide_app::operator::store::outbox::NewOutbound {
                conversation: c.id,
                channel: c.channel_id,
                contact: c.contact_id,
                path: "agent_reply".into(),
                priority: 0,
                kind: "text".into(),
                body: json!({"text": "Maybe sent"}),
                broadcast: None,
            },
            None,
        )
        .await
        .unwrap();
    let confide_app::operator::store::outbox::Enqueued::New(m) = queued else {
        panic!("new")
    };
    // Claimed by another instance's dispatcher, holding the channel's lease.
    assert!(
        !s.outbox().claim(m.id, "other-instance").await.unwrap(),
        "no lease, no claim"
    );
    s.commit().await.unwrap();
    let now = app.clock.now_micros();
    let ttl = i64::try_from(LEASE_TTL.as_micros()).unwrap();
    assert_eq!(
        store
            .acquire_dispatch_lease(c.channel_id, "other-instance", now, now + ttl)
            .await
            .unwrap(),
        confide_app::operator::store::leases::Lease::Held
    );
    let mut s = store.scope(t.id).await.unwrap();
    assert!(s.outbox().claim(m.id, "other-instance").await.unwrap());
    s.commit().await.unwrap();

    let dispatcher = dispatcher(&app);
    // The other instance holds its lease and may still be waiting for Graph's answer: not yet.
    assert_eq!(dispatcher.hold_interrupted().await.unwrap(), 0);
    assert_eq!(
        dispatcher.run_once().await.unwrap().sent,
        0,
        "in flight: not sent again"
    );
    // It dies: its lease runs out (another dispatcher takes the channel over).
    app.clock.advance(time::Duration::seconds(11));
    assert_eq!(dispatcher.hold_interrupted().await.unwrap(), 1);
    let pass = dispatcher.run_once().await.unwrap();
    assert_eq!(pass.sent, 0);
    assert!(sim.sent_messages().is_empty(), "not sent again");
    let agent = &t.members["agent"].auth;
    let shown = message(&app, agent, &conversation, &m.id.to_string()).await;
    assert_eq!(shown["status"], "needs_review");
    assert!(
        shown["error"]
            .as_str()
            .unwrap()
            .contains("may or may not have been sent")
    );
    assert!(
        app.audit_actions(t.id)
            .await
            .contains(&"message.held_for_review".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_interrupted_mid_way_is_held_for_review_not_sent_twice() {
    a_send_interrupted_mid_way_is_held_for_review_not_sent_twice_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_interrupted_mid_way_is_held_for_review_not_sent_twice_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    a_send_interrupted_mid_way_is_held_for_review_not_sent_twice_on(app).await;
}

/// Opening a conversation marks the customer's messages read on WhatsApp: Graph's `status:
/// read` for the latest inbound wamid, with the channel's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_conversation_marks_the_customers_messages_read_on_whatsapp() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let viewer = &t.members["viewer"].auth;
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/read"),
            viewer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let mut receipts = Vec::new();
    for _ in 0..100 {
        receipts = sim.read_receipts();
        if !receipts.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(receipts.len(), 1, "one receipt reached Graph");
    let page = app
        .get_ok(
            viewer,
            &format!("/api/v1/conversations/{conversation}/messages"),
        )
        .await;
    let latest_inbound = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "inbound")
        .unwrap()["wamid"]
        .clone();
    assert_eq!(
        receipts[0].message_id, latest_inbound,
        "the customer's latest message, as Meta named it"
    );
    assert_eq!(receipts[0].phone_number_id, FIXTURE_PHONE_NUMBER_ID);
}

mod broadcasts;
mod consent;
mod limits;
mod media;
mod opt_out;
mod template_params;
mod templates;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoted_replies_buttons_and_reactions_reach_graph_as_meta_expects() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let agent = &t.members["agent"].auth;
    let page = app
        .get_ok(
            agent,
            &format!("/api/v1/conversations/{conversation}/messages"),
        )
        .await;
    let hers = page["messages"][0].clone();
    assert_eq!(hers["direction"], "inbound");
    let her_id = hers["id"].as_str().unwrap();
    let her_wamid = hers["wamid"].as_str().unwrap();

    // A quoted reply, reply buttons, a reaction.
    for body in [
        json!({"type": "text", "text": "Yes, it left today.", "reply_to": her_id}),
        json!({"type": "interactive", "text": "Was this helpful?", "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}),
        json!({"type": "reaction", "message_id": her_id, "emoji": "👍"}),
    ] {
        let r = send(&app, agent, &conversation, body.clone()).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{body}: {}", r.body);
    }
    assert_eq!(dispatch(&app).await.sent, 3);
    let sent = sim.sent_messages();
    let by_kind = |k: &str| sent.iter().find(|r| r.kind == k).unwrap().body.clone();
    assert_eq!(by_kind("text")["context"]["message_id"], her_wamid);
    let i = by_kind("interactive");
    assert_eq!(i["interactive"]["type"], "button");
    assert_eq!(i["interactive"]["body"]["text"], "Was this helpful?");
    assert_eq!(
        i["interactive"]["action"]["buttons"][1]["reply"]["title"],
        "No"
    );
    let r = by_kind("reaction");
    assert_eq!(
        (
            r["reaction"]["message_id"].as_str(),
            r["reaction"]["emoji"].as_str()
        ),
        (Some(her_wamid), Some("👍"))
    );

    // What cannot be sent is refused before anything is queued.
    for (body, why) in [
        (
            json!({"type": "reaction", "message_id": "0190a7a4-0000-7000-8000-000000000000", "emoji": "👍"}),
            "unknown target",
        ),
        (
            json!({"type": "text", "text": "x", "reply_to": "not-an-id"}),
            "unknown quote",
        ),
        (
            json!({"type": "interactive", "text": "Pick", "buttons": []}),
            "no buttons",
        ),
        (
            json!({"type": "interactive", "text": "Pick", "buttons": [{"id": "a", "title": "A title longer than twenty"}]}),
            "long title",
        ),
        (
            json!({"type": "interactive", "text": "Pick", "buttons": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}),
            "same ids",
        ),
    ] {
        let r = send(&app, agent, &conversation, body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message"),
            "{why}: {}",
            r.body
        );
    }
    // A reaction to a message older than 30 days is refused.
    app.clock.advance(time::Duration::days(31));
    let r = send(
        &app,
        agent,
        &conversation,
        json!({"type": "reaction", "message_id": her_id, "emoji": "👍"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_retried_after_a_transient_error_is_not_sent_once_the_contact_opts_out() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let agent = &t.members["agent"].auth;
    // Meta allows one message a second on this number: the second send meets 130429.
    sim.set_throughput(FIXTURE_PHONE_NUMBER_ID, 1).unwrap();
    for text in ["First", "Second"] {
        let r = send(
            &app,
            agent,
            &conversation,
            json!({"type": "text", "text": text}),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    let pass = dispatch(&app).await;
    assert_eq!((pass.sent, pass.retried), (1, 1), "{pass:?}");
    assert_eq!(sim.sent_messages().len(), 1);

    // Before the retry, the customer opts out.
    let c = app
        .get_ok(agent, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let r = app
        .call(
            Method::POST,
            &format!(
                "/api/v1/contacts/{}/consent",
                c["contact_id"].as_str().unwrap()
            ),
            &t.owner.auth,
            Some(json!({"purpose": "service", "status": "opted_out", "source": "phone call"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    app.clock.advance(time::Duration::minutes(10));
    let pass = dispatch(&app).await;
    assert_eq!((pass.sent, pass.refused), (0, 1), "{pass:?}");
    assert_eq!(
        sim.sent_messages().len(),
        1,
        "the retry never reached Graph"
    );
    let page = app
        .get_ok(
            agent,
            &format!("/api/v1/conversations/{conversation}/messages"),
        )
        .await;
    let second = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"]["text"] == "Second")
        .unwrap()
        .clone();
    assert_eq!(second["status"], "failed", "{second}");
    assert!(
        second["error"].as_str().unwrap().starts_with("Not sent:"),
        "{second}"
    );
}
