//! Webhook delivery: statuses with pricing, signatures over the exact bytes, \u escaping,
//! retries, batching, duplicates, status variations, dropped deliveries.

use crate::common::*;
use meta_sim::{DeliveryOutcome, StatusConfig, WebhookConfig};

#[tokio::test]
async fn template_statuses_carry_pricing_and_are_signed() {
    let mut env = env().await;
    let (status, body) = env
        .send_template(SHEENA_PHONE, "winter_sale", "en_US", &["20%"])
        .await;
    assert_eq!(status, 200);
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_owned();
    env.idle().await;

    for r in env.rx.received() {
        r.assert_signed(SECRET);
        assert!(r.body.is_ascii());
    }
    let statuses = env.rx.statuses_of(&wamid);
    let kinds: Vec<&str> = statuses
        .iter()
        .map(|(s, _)| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sent", "delivered", "read"]);
    for (s, value) in &statuses {
        assert_eq!(value["metadata"]["phone_number_id"], PNID);
        assert_eq!(value["metadata"]["display_phone_number"], DISPLAY);
        assert_eq!(s["recipient_id"], SHEENA_PHONE);
        assert_eq!(s["recipient_user_id"], SHEENA);
        assert!(s["timestamp"].is_string());
        assert!(s.get("conversation").is_none(), "absent from v24 on");
        assert_eq!(value["contacts"][0]["user_id"], SHEENA);
        assert_eq!(value["contacts"][0]["wa_id"], SHEENA_PHONE);
    }
    let pricing = |i: usize| statuses[i].0.get("pricing").cloned();
    let p = pricing(0).expect("pricing on sent");
    assert_eq!(p["billable"], true);
    assert_eq!(p["pricing_model"], "PMP");
    assert_eq!(p["type"], "regular");
    assert_eq!(p["category"], "marketing");
    assert!(pricing(1).is_some(), "pricing on delivered");
    assert!(pricing(2).is_none(), "only on one of delivered/read");
}

#[tokio::test]
async fn free_form_statuses_have_no_pricing_and_utility_in_window_is_free() {
    let mut env = env().await;
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let (_, text) = env.send_text(SHEENA_PHONE, "hello").await;
    let (_, utility) = env
        .send_template(SHEENA_PHONE, "order_confirmation", "en_US", &["S", "1"])
        .await;
    env.idle().await;
    let text_id = text["messages"][0]["id"].as_str().unwrap();
    assert!(
        env.rx
            .statuses_of(text_id)
            .iter()
            .all(|(s, _)| s.get("pricing").is_none())
    );
    let u = env
        .rx
        .statuses_of(utility["messages"][0]["id"].as_str().unwrap());
    assert_eq!(u[0].0["pricing"]["billable"], false);
    assert_eq!(u[0].0["pricing"]["type"], "free_customer_service");
    assert_eq!(u[0].0["pricing"]["category"], "utility");
}

#[tokio::test]
async fn non_ascii_is_escaped_and_signed_as_sent() {
    let mut env = env().await;
    env.sim.customer_sends(SHEENA, PNID, "Grüße ✓ 👍").unwrap();
    env.idle().await;
    let got = env.rx.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    r.assert_signed(SECRET);
    assert!(r.body.is_ascii(), "every non-ASCII character escaped");
    let text = std::str::from_utf8(&r.body).unwrap();
    assert!(
        text.contains(r#""text":{"body":"Gr\u00fc\u00dfe \u2713 \ud83d\udc4d"}"#),
        "{text}"
    );
    assert_eq!(
        r.changes()[0]["value"]["messages"][0]["text"]["body"],
        "Grüße ✓ 👍"
    );
    // Compact JSON, no whitespace between tokens.
    assert!(text.starts_with(r#"{"object":"whatsapp_business_account","entry":[{"id":""#));
}

#[tokio::test]
async fn non_200_answers_are_retried_with_the_same_bytes() {
    let mut env = env().await;
    env.rx.reply_with(&[500, 500]);
    env.sim.customer_sends(SHEENA, PNID, "retry me").unwrap();
    env.idle().await;

    let got = env.rx.received();
    assert_eq!(got.len(), 3, "500, 500, then 200");
    assert!(got.iter().all(|r| r.body == got[0].body));
    assert!(got.iter().all(|r| r.signature() == got[0].signature()));
    let deliveries = env.sim.deliveries();
    assert_eq!(deliveries.len(), 1);
    let statuses: Vec<Option<u16>> = deliveries[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(deliveries[0].outcome, DeliveryOutcome::Acknowledged);
    assert_eq!(deliveries[0].body.as_bytes(), &got[0].body[..]);
    assert_eq!(env.sim.pending_deliveries(), 0);
}

#[tokio::test]
async fn changes_queued_while_a_delivery_is_retried_are_batched() {
    let mut env = env_with(|c| {
        c.webhooks = WebhookConfig {
            max_batch: 50,
            retry_base_delay_ms: 200,
            ..WebhookConfig::fast()
        };
    })
    .await;
    env.rx.reply_with(&[503]);
    env.sim.customer_sends(SHEENA, PNID, "first").unwrap();
    for i in 0..20 {
        env.sim
            .customer_sends(PABLO, PNID, &format!("message {i}"))
            .unwrap();
    }
    env.idle().await;
    let got = env.rx.received();
    let sizes: Vec<usize> = got.iter().map(|r| r.changes().len()).collect();
    assert!(sizes.iter().any(|&n| n > 1), "batched: {sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 50));
    let unique: std::collections::BTreeSet<String> = env
        .rx
        .changes()
        .iter()
        .map(|c| c["value"]["messages"][0]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unique.len(), 21);
    for r in &got {
        r.assert_signed(SECRET);
    }
}

#[tokio::test]
async fn duplicates_resend_identical_bytes() {
    let mut env = env_with(|c| c.webhooks.duplicate_probability = 1.0).await;
    env.sim.customer_sends(SHEENA, PNID, "twice").unwrap();
    env.idle().await;
    let got = env.rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(got[0].signature(), got[1].signature());
    let d = env.sim.deliveries();
    assert_eq!(d[1].duplicate_of, Some(d[0].id));
}

#[tokio::test]
async fn status_variations_skip_delivered_or_swap_it_with_read() {
    let mut skip = env_with(|c| {
        c.statuses = StatusConfig {
            skip_delivered: 1.0,
            ..StatusConfig::default()
        }
    })
    .await;
    let (_, body) = skip
        .send_template(SHEENA_PHONE, "winter_sale", "en_US", &["5%"])
        .await;
    skip.idle().await;
    let st = skip
        .rx
        .statuses_of(body["messages"][0]["id"].as_str().unwrap());
    let kinds: Vec<&str> = st
        .iter()
        .map(|(s, _)| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sent", "read"]);
    assert!(st[1].0.get("pricing").is_some(), "pricing moves to read");

    let mut swap = env_with(|c| {
        c.statuses = StatusConfig {
            swap_delivered_read: 1.0,
            ..StatusConfig::default()
        }
    })
    .await;
    swap.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let (_, body) = swap.send_text(SHEENA_PHONE, "hello").await;
    swap.idle().await;
    let st = swap
        .rx
        .statuses_of(body["messages"][0]["id"].as_str().unwrap());
    let kinds: Vec<&str> = st
        .iter()
        .map(|(s, _)| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sent", "read", "delivered"]);
}

#[tokio::test]
async fn reactions_only_get_sent() {
    let mut env = env().await;
    let inbound = env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let (status, body) = env
        .send(
            serde_json::json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"type":"reaction",
            "reaction":{"message_id":inbound,"emoji":"👍"}}),
        )
        .await;
    assert_eq!(status, 200);
    env.idle().await;
    let st = env
        .rx
        .statuses_of(body["messages"][0]["id"].as_str().unwrap());
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].0["status"], "sent");
}

#[tokio::test]
async fn unreachable_receivers_are_retried_then_dropped() {
    // A port that was free a moment ago: connection refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let env = env_with(|c| {
        c.webhooks.max_attempts = Some(3);
        c.numbers[0].callback_url = Some(format!("http://{closed}/webhook"));
    })
    .await;
    env.sim.customer_sends(SHEENA, PNID, "nobody home").unwrap();
    env.idle().await;
    let d = env.sim.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].attempts.len(), 3);
    assert!(
        d[0].attempts
            .iter()
            .all(|a| a.status.is_none() && a.error.is_some())
    );
    assert_eq!(d[0].outcome, DeliveryOutcome::Dropped);
}

#[tokio::test]
async fn the_verification_handshake_echoes_the_challenge() {
    let env = env().await;
    assert!(env.sim.verify_callback(PNID).await.unwrap());
    env.sim
        .configure_number(PNID, |n| n.verify_token = Some("wrong".into()))
        .unwrap();
    assert!(!env.sim.verify_callback(PNID).await.unwrap());
}

#[tokio::test]
async fn numbers_without_a_callback_only_record_events() {
    let env = env_with(|c| c.numbers[0].callback_url = None).await;
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    assert_eq!(env.sim.pending_deliveries(), 0);
    env.idle().await;
    let events = env.sim.webhook_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].field, "messages");
    assert_eq!(
        events[0].change["value"]["messages"][0]["text"]["body"],
        "hi"
    );
    assert!(env.sim.deliveries().is_empty());
}

#[tokio::test]
async fn reordering_changes_the_arrival_order_but_loses_nothing() {
    let mut env = env_with(|c| {
        c.webhooks.max_batch = 1;
        c.webhooks.reorder_probability = 1.0;
    })
    .await;
    let mut sent = Vec::new();
    for i in 0..12 {
        sent.push(
            env.sim
                .customer_sends(SHEENA, PNID, &format!("m{i}"))
                .unwrap(),
        );
    }
    env.idle().await;
    let arrived: Vec<String> = env
        .rx
        .changes()
        .iter()
        .map(|c| c["value"]["messages"][0]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(arrived.len(), 12);
    assert_ne!(arrived, sent, "order shuffled");
    let mut a = arrived.clone();
    let mut s = sent.clone();
    a.sort();
    s.sort();
    assert_eq!(a, s, "nothing lost, nothing added");
}

#[tokio::test]
async fn arbitrary_changes_can_be_injected() {
    let mut env = env().await;
    env.sim
        .emit_change(
            PNID,
            "smb_app_state_sync",
            serde_json::json!({"messaging_product":"whatsapp","state_sync":[{"type":"contact","action":"add"}]}),
        )
        .unwrap();
    env.idle().await;
    let c = env.rx.changes();
    assert_eq!(c[0]["field"], "smb_app_state_sync");
    assert_eq!(c[0]["value"]["state_sync"][0]["action"], "add");
}
