//! Meta's limits on what a number sends: the messaging-limit tier (unique people reached outside
//! a customer service window per rolling 24 hours) refused at the gate, and the pair rate (one
//! message per ~6 s to the same person after a burst) paced by the dispatcher so Meta's 131056
//! is never provoked.

use super::{HOUR, dispatch, dispatcher, send, sheena_wrote, sim};
use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp};
use axum::http::{Method, StatusCode};
use confide_core::audit::Actor;
use confide_core::clock::Clock;
use confide_core::phone::Phone;
use serde_json::{Value, json};

/// The `message.send_refused` audit entries' codes.
async fn refusal_codes(app: &TestApp, tenant: confide_core::ids::TenantId) -> Vec<String> {
    app.audit_entries(tenant)
        .await
        .into_iter()
        .filter(|e| e.action == "message.send_refused")
        .map(|e| {
            let d: Value = serde_json::from_str(&e.details).unwrap();
            d["code"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A channel at the 250 tier that reached 249 people outside a window in the last 24 hours may
/// start one more business-initiated conversation; the next new person is refused with
/// `messaging_limit` (422, audited, nothing queued), while a person already reached and, a day
/// later, the new one are sent to. The tier is set on the channel through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_initiated_send_to_a_new_person_beyond_the_tier_is_refused() {
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let sim = sim().await;
    sim.add_template(TemplateConfig::new(
        "102290129340398",
        "order_update",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Your order {{1}} has shipped.",
    ));
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(t.id, FIXTURE_PHONE_NUMBER_ID, "tier-secret", sim.base_url())
        .await;
    let owner = &t.owner.auth;
    let path = format!("/api/v1/channels/{}", ch.channel);
    // Not one of Meta's tiers.
    let r = app
        .call(
            Method::PATCH,
            &path,
            owner,
            Some(json!({"messaging_limit": "300"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .call(
            Method::PATCH,
            &path,
            owner,
            Some(json!({"messaging_limit": "250"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["messaging_limit"], "250");
    let r = app
        .call(Method::POST, "/api/v1/templates/sync", owner, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // 251 people who never wrote in; the first 249 were reached an hour ago (as the outbox
    // records a business-initiated send).
    let now = app.clock.now_micros();
    let mut contacts = Vec::new();
    {
        let mut s = app.state.operator_store().scope(t.id).await.unwrap();
        for i in 0..251 {
            let c = s
                .contacts()
                .create(
                    confide_app::operator::store::contacts::NewContact {
                        phone: Some(Phone::parse(&format!("+1650555{:04}", 1000 + i)).unwrap()),
                        ..Default::default()
                    },
                    Actor::Cli,
                )
                .await
                .unwrap();
            if i < 249 {
                s.record_reach(ch.channel, c.id, now - HOUR).await.unwrap();
            }
            contacts.push(c.id.to_string());
        }
        s.commit().await.unwrap();
    }
    let template = json!({"type": "template", "template": "order_update", "language": "en_US", "params": ["A-7"]});
    // An integration's key (sessions would expire over the day this test spans).
    let key = crate::harness::Auth::Bearer(app.api_key(&t, "agent").await.1);
    let agent = &key;
    let send_to = |i: usize| {
        let contact = contacts[i].clone();
        let template = template.clone();
        let app = &app;
        async move {
            let r = app
                .call(
                    Method::POST,
                    "/api/v1/conversations",
                    agent,
                    Some(json!({"contact_id": contact, "channel_id": ch.channel.to_string()})),
                )
                .await;
            assert!(r.status.is_success(), "{}", r.body);
            let conversation = r.body["id"].as_str().unwrap().to_string();
            let r = app
                .call(
                    Method::POST,
                    &format!("/api/v1/contacts/{contact}/consent"),
                    agent,
                    Some(json!({"purpose": "utility", "status": "opted_in", "source": "checkout form"})),
                )
                .await;
            assert!(r.status.is_success(), "{}", r.body);
            (
                send(app, agent, &conversation, template).await,
                conversation,
            )
        }
    };

    // The 250th person: allowed.
    let (r, _) = send_to(249).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    // The 251st: refused, audited, nothing queued.
    let (r, refused) = send_to(250).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "messaging_limit", "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("250 users per 24 hours"),
        "{}",
        r.body
    );
    assert_eq!(refusal_codes(&app, t.id).await, ["messaging_limit"]);
    let page = app
        .get_ok(agent, &format!("/api/v1/conversations/{refused}/messages"))
        .await;
    assert_eq!(page["messages"], json!([]), "{page}");
    // Someone reached already costs nothing.
    let (r, _) = send_to(0).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    // A rolling day later the tier has room again.
    app.clock.advance(time::Duration::hours(24));
    let (r, _) = send_to(250).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(refusal_codes(&app, t.id).await, ["messaging_limit"]);
}

/// A channel with no tier of its own takes the operator's `outbound.messaging_limit`; inside
/// the customer's window nothing counts against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_default_tier_applies_and_replies_inside_the_window_do_not_count() {
    let sim = sim().await;
    let app = TestApp::with_config(crate::harness::Options::default(), |c| {
        c.outbound.messaging_limit = "250".into();
    })
    .await
    .unwrap();
    let (t, ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let agent = &t.members["agent"].auth;
    // 250 people reached outside a window: the tier is used up…
    let now = app.clock.now_micros();
    {
        let mut s = app.state.operator_store().scope(t.id).await.unwrap();
        for i in 0..250 {
            let c = s
                .contacts()
                .create(
                    confide_app::operator::store::contacts::NewContact {
                        phone: Some(Phone::parse(&format!("+1650555{:04}", 2000 + i)).unwrap()),
                        ..Default::default()
                    },
                    Actor::Cli,
                )
                .await
                .unwrap();
            s.record_reach(ch.channel, c.id, now - HOUR).await.unwrap();
        }
        s.commit().await.unwrap();
    }
    // …but Sheena wrote an hour ago: a reply in her window is not business-initiated.
    let r = send(
        &app,
        agent,
        &conversation,
        json!({"type": "text", "text": "Yes, today."}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(dispatch(&app).await.sent, 1);
    assert!(refusal_codes(&app, t.id).await.is_empty());
}

/// 45 replies queued for one person: the dispatcher sends the burst (40, below Meta's 45), holds
/// the rest in the queue (no attempt counted, nothing failed) and sends one more each 6 seconds;
/// meta-sim never answers 131056.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_paces_one_recipient_at_the_pair_rate_without_a_131056() {
    let sim = sim().await;
    let app = TestApp::new().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, HOUR).await;
    let agent = &t.members["agent"].auth;
    for i in 0..45 {
        let r = send(
            &app,
            agent,
            &conversation,
            json!({"type": "text", "text": format!("Update {i}")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    // One dispatcher, as the server runs it (its pacing is its memory).
    let d = dispatcher(&app);
    let pass = d.run_once().await.unwrap();
    assert_eq!(
        (pass.sent, pass.retried, pass.failed),
        (40, 0, 0),
        "{pass:?}"
    );
    assert_eq!(sim.sent_messages().len(), 40);
    // Not yet: the recipient's next room is 6 s away.
    app.clock.advance(time::Duration::seconds(5));
    assert_eq!(d.run_once().await.unwrap().sent, 0);
    app.clock.advance(time::Duration::seconds(1));
    assert_eq!(d.run_once().await.unwrap().sent, 1);
    app.clock.advance(time::Duration::seconds(24));
    assert_eq!(d.run_once().await.unwrap().sent, 4);
    assert_eq!(sim.sent_messages().len(), 45);
    assert!(
        sim.rejected_requests().iter().all(|r| r.code != 131056),
        "{:?}",
        sim.rejected_requests()
    );
    let page = app
        .get_ok(
            agent,
            &format!("/api/v1/conversations/{conversation}/messages?limit=100"),
        )
        .await;
    let statuses: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 45);
    assert!(statuses.iter().all(|s| *s == "sent"), "{statuses:?}");
}
