//! The send endpoint: success shape, auth, validation, mark-as-read, unknown recipients.

use crate::common::*;
use serde_json::json;
use time::Duration;

#[tokio::test]
async fn text_send_has_metas_success_shape() {
    let env = env().await;
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let (status, body) = env.send_text("+1 650-555-1234", "Hello Sheena").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["contacts"][0]["input"], "+1 650-555-1234");
    assert_eq!(body["contacts"][0]["wa_id"], SHEENA_PHONE);
    assert!(body["contacts"][0].get("user_id").is_none());
    let wamid = body["messages"][0]["id"].as_str().unwrap();
    assert!(wamid.starts_with("wamid.HBg"), "{wamid}");
    assert!(body["messages"][0].get("message_status").is_none());

    let sent = env.sim.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].wamid, wamid);
    assert_eq!(sent[0].user_id.as_deref(), Some(SHEENA));
    assert_eq!(sent[0].kind, "text");
    assert_eq!(sent[0].body["text"]["body"], "Hello Sheena");
    assert_eq!(sent[0].outcome, meta_sim::SendOutcome::Accepted);
}

#[tokio::test]
async fn any_version_prefix_is_accepted() {
    let env = env().await;
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    for version in ["v19.0", "v24.0", "v99.9"] {
        let resp = env
            .http
            .post(format!("{}/{version}/{PNID}/messages", env.sim.base_url()))
            .bearer_auth(TOKEN)
            .json(&json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"text":{"body":"x"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{version}");
    }
}

#[tokio::test]
async fn missing_wrong_and_expired_tokens_get_401_code_190() {
    let env = env().await;
    let body =
        json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"type":"text","text":{"body":"x"}});
    let path = format!("{PNID}/messages");

    let (status, resp) = env.post(&path, None, &body).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&resp), (190, None));

    let (status, resp) = env.post(&path, Some("EAAwrong"), &body).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&resp), (190, None));
    assert!(resp["error"].get("error_data").is_none());

    let expires = env.sim.now() + Duration::hours(1);
    env.sim
        .set_access_token(PNID, TOKEN, Some(expires))
        .unwrap();
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let (status, _) = env.post(&path, Some(TOKEN), &body).await;
    assert_eq!(status, 200, "still valid for an hour");
    env.clock.advance(Duration::hours(2));
    let (status, resp) = env.post(&path, Some(TOKEN), &body).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&resp), (190, Some(463)));

    let rejected = env.sim.rejected_requests();
    assert_eq!(rejected.len(), 3);
    assert!(
        rejected
            .iter()
            .all(|r| r.code == 190 && r.http_status == 401)
    );
}

#[tokio::test]
async fn bodies_are_validated_like_meta() {
    let env = env().await;
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let cases = [
        (json!({"to":SHEENA_PHONE,"text":{"body":"x"}}), 100),
        (
            json!({"messaging_product":"telegram","to":SHEENA_PHONE,"text":{"body":"x"}}),
            100,
        ),
        (
            json!({"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}),
            100,
        ),
        (
            json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"type":"text"}),
            100,
        ),
        (
            json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"type":"text","text":{"body":"a".repeat(4097)}}),
            100,
        ),
        (
            json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"type":"poll","poll":{}}),
            131051,
        ),
        (
            json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"type":"image","image":{"caption":"no media"}}),
            131008,
        ),
        (
            json!({"messaging_product":"whatsapp","recipient":"not-a-bsuid","type":"text","text":{"body":"x"}}),
            100,
        ),
    ];
    for (body, code) in cases {
        let (status, resp) = env.send(body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_code(&resp).0, code, "{body} -> {resp}");
        assert_eq!(resp["error"]["error_data"]["messaging_product"], "whatsapp");
    }
    let (status, _) = env.send_text(SHEENA_PHONE, &"é".repeat(4096)).await;
    assert_eq!(status, 200, "4096 characters is the limit, not 4096 bytes");
    let (status, resp) = env
        .http
        .post(format!("{}/v24.0/{PNID}/messages", env.sim.base_url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 400);
    assert_eq!(error_code(&resp.json().await.unwrap()).0, 100);
}

#[tokio::test]
async fn mark_as_read_answers_success() {
    let env = env().await;
    let wamid = env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let (status, body) = env
        .send(json!({"messaging_product":"whatsapp","status":"read","message_id":wamid}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"success": true}));
    let reads = env.sim.read_receipts();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].message_id, wamid);

    let (status, body) = env
        .send(json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.unknown"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body).0, 100);
}

#[tokio::test]
async fn unknown_recipient_is_accepted_then_fails_131026() {
    let mut env = env().await;
    let (status, body) = env
        .send_template("+4915112345678", "order_confirmation", "en_US", &["A", "B"])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contacts"][0]["wa_id"], "4915112345678");
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_owned();
    env.idle().await;
    let statuses = env.rx.statuses_of(&wamid);
    assert_eq!(statuses.len(), 1);
    let (s, value) = &statuses[0];
    assert_eq!(s["status"], "failed");
    assert_eq!(s["errors"][0]["code"], 131026);
    assert_eq!(s["recipient_id"], "4915112345678");
    assert!(value.get("contacts").is_none());
}

#[tokio::test]
async fn number_profile_and_unknown_objects() {
    let env = env().await;
    let (status, body) = env.get(PNID, Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body["display_phone_number"], DISPLAY);
    assert_eq!(body["id"], PNID);
    let (status, body) = env.get("999999", Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), (100, Some(33)));
}
