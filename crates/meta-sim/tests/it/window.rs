//! The 24-hour customer service window at its edges, in both refusal modes.

use crate::common::*;
use meta_sim::{SendOutcome, WindowMode};
use time::Duration;

#[tokio::test]
async fn sync400_mode_refuses_free_form_after_24_hours() {
    let env = env().await;
    // No inbound message yet: no window.
    let (status, body) = env.send_text(SHEENA_PHONE, "hello?").await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body).0, 131047);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("(#131047)")
    );

    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    env.clock
        .advance(Duration::hours(23) + Duration::minutes(59));
    let (status, body) = env.send_text(SHEENA_PHONE, "inside").await;
    assert_eq!(status, 200, "23h59m after the last inbound message: {body}");

    env.clock.advance(Duration::minutes(2)); // 24h01m
    let (status, body) = env.send_text(SHEENA_PHONE, "outside").await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body).0, 131047);
    assert_eq!(
        body["error"]["error_data"]["details"],
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    );

    // A template still goes out, and a new inbound message reopens the window.
    let (status, _) = env
        .send_template(
            SHEENA_PHONE,
            "order_confirmation",
            "en_US",
            &["Sheena", "42"],
        )
        .await;
    assert_eq!(status, 200);
    env.sim.customer_sends(SHEENA, PNID, "back again").unwrap();
    let (status, _) = env.send_text(SHEENA_PHONE, "welcome back").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn failed_webhook_mode_answers_200_then_a_failed_status() {
    let mut env = env().await;
    env.sim
        .set_window_mode(PNID, WindowMode::FailedWebhook)
        .unwrap();
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();

    env.clock
        .advance(Duration::hours(23) + Duration::minutes(59));
    let (status, inside) = env.send_text(SHEENA_PHONE, "inside").await;
    assert_eq!(status, 200);
    env.clock.advance(Duration::minutes(2));
    let (status, outside) = env.send_text(SHEENA_PHONE, "outside").await;
    assert_eq!(
        status, 200,
        "FailedWebhook mode accepts the request: {outside}"
    );
    env.idle().await;

    let inside_id = inside["messages"][0]["id"].as_str().unwrap();
    let outside_id = outside["messages"][0]["id"].as_str().unwrap();
    let kinds: Vec<String> = env
        .rx
        .statuses_of(inside_id)
        .iter()
        .map(|(s, _)| s["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["sent", "delivered", "read"]);

    let failed = env.rx.statuses_of(outside_id);
    assert_eq!(failed.len(), 1);
    let (s, value) = &failed[0];
    assert_eq!(s["status"], "failed");
    assert_eq!(s["errors"][0]["code"], 131047);
    assert_eq!(s["errors"][0]["title"], "Re-engagement message");
    assert_eq!(s["recipient_id"], SHEENA_PHONE);
    assert!(
        s.get("recipient_user_id").is_none(),
        "absent on failed for a phone send"
    );
    assert!(value.get("contacts").is_none(), "no contacts on failed");

    let sent = env.sim.sent_messages();
    assert_eq!(sent[1].outcome, SendOutcome::FailedAsync { code: 131047 });
}
