//! Signed webhook ingest (issue 4; SECURITY-CLAIMS C17, C18).

mod directory;
mod media;

use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, TestApp, TestChannel, fixture};
use axum::http::{Method, StatusCode};
use confide_app::operator::store::conversations::{Direction, NewMessage};
use confide_core::audit::Actor;
use confide_core::phone::Phone;

/// Delivers `body`, signed as Meta signs it; it must be acknowledged (200).
async fn deliver_ok(app: &TestApp, ch: &TestChannel, what: &str, body: &[u8]) {
    let r = app.deliver(ch, body).await;
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
}

/// Delivers the named fixtures in order; each must be acknowledged (200).
async fn deliver_fixtures_ok(app: &TestApp, ch: &TestChannel, names: &[&str]) {
    for name in names {
        deliver_ok(app, ch, name, &fixture(name)).await;
    }
}

#[tokio::test]
async fn customer_with_username_and_no_phone_becomes_a_contact_with_a_conversation() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    deliver_fixtures_ok(&app, &ch, &["text-username-no-phone.json"]).await;

    let mut s = app
        .state
        .operator_store()
        .read_scope(ch.tenant)
        .await
        .unwrap();
    let pablo = s
        .contacts()
        .find_by_wa_user("BR.1502576394655843")
        .await
        .unwrap()
        .expect("contact by BSUID");
    assert_eq!(pablo.phone, None, "the phone was withheld");
    assert_eq!(pablo.username.as_deref(), Some("pablomorales"));
    assert_eq!(pablo.name.as_deref(), Some("Pablo Morales"));
    let conv = s
        .inbox()
        .find_open(pablo.id, ch.channel)
        .await
        .unwrap()
        .expect("a conversation");
    let msgs = s.inbox().messages(conv, 10).await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].direction, Direction::Inbound);
    assert_eq!(
        msgs[0].body["text"], "Hola, ¿tienen envío?",
        "non-ASCII escapes decoded"
    );
}

#[tokio::test]
async fn user_changed_number_keeps_history_on_one_contact() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    deliver_fixtures_ok(&app, &ch, &["text.json", "system-user-changed-number.json"]).await;

    let mut s = app
        .state
        .operator_store()
        .read_scope(ch.tenant)
        .await
        .unwrap();
    assert!(
        s.contacts()
            .find_by_wa_user("US.13491208655302741918")
            .await
            .unwrap()
            .is_none(),
        "old BSUID is gone"
    );
    let sheena = s
        .contacts()
        .find_by_wa_user("US.99990000111122223333")
        .await
        .unwrap()
        .expect("moved to the new BSUID");
    assert_eq!(sheena.phone, Some(Phone::parse("+16505550000").unwrap()));
    assert_eq!(sheena.name.as_deref(), Some("Sheena Nelson"));
    let conv = s
        .inbox()
        .find_open(sheena.id, ch.channel)
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<String> = s
        .inbox()
        .messages(conv, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(
        kinds.len(),
        2,
        "both messages on one contact's conversation: {kinds:?}"
    );
    assert!(kinds.contains(&"text".to_string()) && kinds.contains(&"system".to_string()));
    drop(s);
    assert_eq!(app.count(ch.tenant, "contacts").await, 1);
}

#[tokio::test]
async fn forged_or_broken_signatures_are_refused_and_store_nothing() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    let other = app.tenant_with_channel("Other", "999000111").await;
    let body = fixture("text.json");
    let good = confide_whatsapp::signature::sign(&body, ch.app_secret.as_bytes());
    let mut altered = body.clone();
    let at = altered.iter().position(|b| *b == b'?').unwrap();
    altered[at] = b'!';
    let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        ("missing", body.clone(), None),
        ("malformed", body.clone(), Some("sha1=abc".into())),
        (
            "not hex",
            body.clone(),
            Some(format!("sha256={}", "z".repeat(64))),
        ),
        (
            "wrong",
            body.clone(),
            Some(confide_whatsapp::signature::sign(&body, b"not-the-secret")),
        ),
        (
            "truncated",
            body.clone(),
            Some(good[..good.len() - 2].to_string()),
        ),
        (
            "other tenant's secret",
            body.clone(),
            Some(confide_whatsapp::signature::sign(
                &body,
                other.app_secret.as_bytes(),
            )),
        ),
        ("body changed by one byte", altered, Some(good.clone())),
    ];
    for (name, body, sig) in cases {
        let r = app.deliver_raw(ch.channel, body, sig).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(r.body["error"]["code"], "bad_signature", "{name}");
    }
    for table in ["contacts", "messages", "conversations"] {
        assert_eq!(app.count(ch.tenant, table).await, 0, "{table}");
    }
    // The genuine delivery then lands.
    assert_eq!(
        app.deliver_raw(ch.channel, body, Some(good)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.count(ch.tenant, "messages").await, 1);
}

#[tokio::test]
async fn a_change_naming_another_tenants_number_is_rejected_and_audited() {
    let app = TestApp::new().await;
    let a = app.tenant_with_channel("Acme", "111111111").await;
    let b = app
        .tenant_with_channel("Bravo", FIXTURE_PHONE_NUMBER_ID)
        .await;
    // Signed with A's secret, delivered to A's channel, but naming B's phone_number_id.
    assert_eq!(
        app.deliver(&a, &fixture("text.json")).await.status,
        StatusCode::OK,
        "the rest of the batch (nothing here) is acknowledged"
    );
    for t in [a.tenant, b.tenant] {
        assert_eq!(app.count(t, "messages").await, 0);
        assert_eq!(app.count(t, "contacts").await, 0);
    }
    let audit = app
        .state
        .operator_store()
        .audit_page(a.tenant, None, 10)
        .await
        .unwrap();
    let rejected = audit
        .iter()
        .find(|e| e.action == "webhook.change_rejected")
        .expect("audited");
    assert!(
        rejected.details.contains(FIXTURE_PHONE_NUMBER_ID),
        "{}",
        rejected.details
    );
}

/// Sheena, known by phone, and the outbound template `wamid.OUTBOUND0001` the status fixtures
/// are about.
async fn sheena_with_an_outbound_message(
    app: &TestApp,
    ch: &TestChannel,
) -> (
    confide_app::operator::store::contacts::Contact,
    confide_core::ids::ConversationId,
) {
    let mut s = app.state.operator_store().scope(ch.tenant).await.unwrap();
    let c = s
        .contacts()
        .create(
            confide_app::operator::store::contacts::NewContact {
                phone: Some(Phone::parse("+16505551234").unwrap()),
                ..Default::default()
            },
            Actor::Cli,
        )
        .await
        .unwrap();
    let conv = s.inbox().open(c.id, ch.channel).await.unwrap();
    let outbound = NewMessage {
        direction: Direction::Outbound,
        wamid: Some("wamid.OUTBOUND0001".into()),
        kind: "template".into(),
        body: serde_json::json!({"template": "promo"}),
        status: "accepted".into(),
        at_micros: 1,
    };
    s.inbox().insert_message(conv, outbound).await.unwrap();
    s.commit().await.unwrap();
    (c, conv)
}

#[tokio::test]
async fn duplicates_and_reordered_statuses_end_in_the_right_state() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    sheena_with_an_outbound_message(&app, &ch).await;

    deliver_fixtures_ok(
        &app,
        &ch,
        &[
            "status-read.json",
            "status-delivered.json",
            "status-read.json",
            "status-sent.json",
            "status-delivered.json",
        ],
    )
    .await;
    deliver_fixtures_ok(&app, &ch, &["text.json", "text.json"]).await;
    let mut s = app
        .state
        .operator_store()
        .read_scope(ch.tenant)
        .await
        .unwrap();
    assert_eq!(
        s.inbox()
            .message_status("wamid.OUTBOUND0001")
            .await
            .unwrap()
            .as_deref(),
        Some("read"),
        "read never goes back"
    );
    drop(s);
    assert_eq!(
        app.count(ch.tenant, "message_statuses").await,
        3,
        "one row per (wamid, status)"
    );
    assert_eq!(
        app.count(ch.tenant, "messages").await,
        2,
        "the outbound one and the inbound text, once"
    );
}

#[tokio::test]
async fn a_malformed_change_is_skipped_and_the_rest_of_the_batch_lands() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    let good: serde_json::Value = serde_json::from_slice(&fixture("text.json")).unwrap();
    let good_change = good["entry"][0]["changes"][0].clone();
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [
            {"field": "messages", "value": "this is not an object"},
            good_change,
            {"field": "some_future_field", "value": {"x": 1}},
        ]}]
    });
    let bytes = serde_json::to_vec(&body).unwrap();
    deliver_ok(&app, &ch, "a batch with a malformed change", &bytes).await;
    assert_eq!(app.count(ch.tenant, "messages").await, 1);
}

#[tokio::test]
async fn marketing_stop_from_whatsapp_is_recorded_once_in_the_consent_ledger() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    deliver_fixtures_ok(&app, &ch, &["user-preferences-stop.json"; 2]).await;
    let mut s = app
        .state
        .operator_store()
        .read_scope(ch.tenant)
        .await
        .unwrap();
    let sheena = s
        .contacts()
        .find_by_wa_user("US.13491208655302741918")
        .await
        .unwrap()
        .unwrap();
    let ledger = s.consent().history(sheena.id).await.unwrap();
    assert_eq!(ledger.len(), 1, "Meta's redelivery adds nothing");
    assert_eq!(
        (ledger[0].purpose.as_str(), ledger[0].status.as_str()),
        ("marketing", "opted_out")
    );
    assert_eq!(ledger[0].source, "whatsapp_user_preferences");
    drop(s);
    let audit = app
        .state
        .operator_store()
        .audit_page(ch.tenant, None, 20)
        .await
        .unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "consent.opted_out")
            .count(),
        1
    );
}

#[tokio::test]
async fn verification_handshake_echoes_the_challenge_only_for_the_right_token() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    let path = |token: &str| {
        format!(
            "/webhooks/whatsapp/{}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}",
            ch.channel
        )
    };
    let r = app
        .call(Method::GET, &path(&ch.verify_token), &Auth::None, None)
        .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, serde_json::json!(1158201444))
    );
    let r = app
        .call(Method::GET, &path("wrong"), &Auth::None, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bodies_over_three_megabytes_get_413() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    let body = vec![b' '; 3 * 1024 * 1024 + 1];
    let r = app.deliver(&ch, &body).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn unknown_channels_are_not_found() {
    let app = TestApp::new().await;
    let r = app
        .deliver_raw(
            "0194e000-0000-7000-8000-000000000000".parse().unwrap(),
            b"{}".to_vec(),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "not_found");
}

#[tokio::test]
async fn database_down_answers_503_and_acknowledges_nothing() {
    let app = TestApp::new().await;
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    // Warm the channel cache, then lose the database.
    deliver_fixtures_ok(&app, &ch, &["text.json"]).await;
    app.state.operator_store().close().await;
    let r = app
        .deliver(&ch, &fixture("text-username-no-phone.json"))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
}

/// The same mixed traffic on each engine: the bulk statements differ in their placeholders
/// (`?` on SQLite, `$n` on PostgreSQL), so both are exercised end to end.
async fn mixed_traffic_lands_once_in_the_right_state(app: TestApp) {
    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    let (c, conv) = sheena_with_an_outbound_message(&app, &ch).await;
    deliver_fixtures_ok(
        &app,
        &ch,
        &[
            "text.json",
            "batch-mixed.json",
            "text-username-no-phone.json",
            "status-read.json",
            "status-delivered.json",
            "image.json",
            "text.json",
            "user-preferences-stop.json",
            "user-preferences-stop.json",
            "reaction.json",
        ],
    )
    .await;
    let mut s = app
        .state
        .operator_store()
        .read_scope(ch.tenant)
        .await
        .unwrap();
    assert_eq!(
        s.inbox()
            .message_status("wamid.OUTBOUND0001")
            .await
            .unwrap()
            .as_deref(),
        Some("read")
    );
    let sheena = s
        .contacts()
        .find_by_wa_user("US.13491208655302741918")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sheena.id, c.id, "the contact known by phone took the BSUID");
    assert_eq!(sheena.name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(s.consent().history(sheena.id).await.unwrap().len(), 1);
    let pablo = s
        .contacts()
        .find_by_wa_user("BR.1502576394655843")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pablo.phone, None);
    let texts = s.inbox().messages(conv, 50).await.unwrap();
    assert!(
        texts.iter().any(|m| m.kind == "image"),
        "{:?}",
        texts.iter().map(|m| &m.kind).collect::<Vec<_>>()
    );
    assert_eq!(
        texts
            .iter()
            .filter(|m| m.wamid.as_deref() == Some("wamid.TEXT0001"))
            .count(),
        1,
        "deduplicated"
    );
    drop(s);
    assert_eq!(app.count(ch.tenant, "contacts").await, 2);
    app.finish().await;
}

/// Concurrent deliveries (generated by meta-sim: first-seen customers, repeats, statuses, media)
/// share the writer's rounds, and Meta's retry of every one of them changes nothing: each message
/// and status is stored exactly once, each customer is one contact with one conversation.
async fn concurrent_deliveries_land_exactly_once(app: TestApp) {
    use meta_sim::payloads::{PayloadSpec, generate};
    use std::sync::Arc;

    let ch = app
        .tenant_with_channel("Acme", FIXTURE_PHONE_NUMBER_ID)
        .await;
    let payloads = generate(PayloadSpec {
        seed: 11,
        customers: 40,
        changes: 1_500,
        max_batch: 30,
        phone_number_id: FIXTURE_PHONE_NUMBER_ID.into(),
        app_secret: ch.app_secret.clone(),
        ..PayloadSpec::default()
    });
    let messages: usize = payloads.iter().map(|p| p.messages).sum();
    let statuses: usize = payloads.iter().map(|p| p.statuses).sum();
    assert!(
        messages > 500 && statuses > 200,
        "{messages} messages, {statuses} statuses"
    );
    let app = Arc::new(app);
    let channel = ch.channel;
    // Everything at once, then everything again (Meta's retries).
    for round in 0..2 {
        let mut sending = tokio::task::JoinSet::new();
        for p in payloads.clone() {
            let app = app.clone();
            sending.spawn(async move { app.deliver_raw(channel, p.body, Some(p.signature)).await });
        }
        while let Some(r) = sending.join_next().await {
            let r = r.unwrap();
            assert_eq!(r.status, StatusCode::OK, "round {round}: {}", r.body);
        }
        assert_eq!(app.count(ch.tenant, "messages").await as usize, messages);
        assert_eq!(
            app.count(ch.tenant, "message_statuses").await as usize,
            statuses
        );
    }
    let contacts = app.count(ch.tenant, "contacts").await;
    assert!((1..=40).contains(&contacts), "{contacts} contacts");
    assert_eq!(
        app.count(ch.tenant, "conversations").await,
        contacts,
        "one conversation per customer"
    );
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("deliveries still running")
    };
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_on_sqlite() {
    concurrent_deliveries_land_exactly_once(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    concurrent_deliveries_land_exactly_once(app).await;
}

#[tokio::test]
async fn mixed_traffic_on_sqlite() {
    mixed_traffic_lands_once_in_the_right_state(TestApp::new().await).await;
}

#[tokio::test]
async fn mixed_traffic_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    mixed_traffic_lands_once_in_the_right_state(app).await;
}
