//! Template sends (132001/132000/132015/131062), create → PENDING → approved webhook, paging.

use crate::common::*;
use meta_sim::TemplateStatus;
use serde_json::{Value, json};

#[tokio::test]
async fn template_errors_match_meta() {
    let env = env().await;
    let cases: [(&str, &str, &[&str], i64); 5] = [
        ("no_such_template", "en_US", &["a"], 132001),
        ("order_confirmation", "pt_BR", &["a", "b"], 132001),
        ("order_confirmation", "en_US", &["only one"], 132000),
        ("order_confirmation", "en_US", &["a", "b", "c"], 132000),
        ("old_promo", "en_US", &["a"], 132015),
    ];
    for (name, lang, params, code) in cases {
        let (status, body) = env.send_template(SHEENA_PHONE, name, lang, params).await;
        assert_eq!(status, 400, "{name} {lang}");
        assert_eq!(error_code(&body).0, code, "{name} {lang}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("(#{code})"))
        );
    }
    let (status, body) = env
        .send_template(
            SHEENA_PHONE,
            "order_confirmation",
            "en_US",
            &["Sheena", "42"],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"][0]["message_status"], "accepted");
    assert_eq!(
        env.sim.sent_messages()[0].template,
        Some(("order_confirmation".to_owned(), "en_US".to_owned()))
    );
}

#[tokio::test]
async fn authentication_templates_cannot_go_to_a_bsuid() {
    let env = env().await;
    let body = |to: Value| {
        let mut b = json!({"messaging_product":"whatsapp","type":"template","template":{
            "name":"login_code","language":{"code":"en_US"},
            "components":[{"type":"body","parameters":[{"type":"text","text":"123456"}]}]}});
        b.as_object_mut()
            .unwrap()
            .extend(to.as_object().unwrap().clone());
        b
    };
    let (status, resp) = env.send(body(json!({"recipient": PABLO}))).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&resp).0, 131062);
    let (status, _) = env.send(body(json!({"to": SHEENA_PHONE}))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn created_templates_are_pending_until_approved_by_webhook() {
    let mut env = env().await;
    let path = format!("{WABA}/message_templates");
    let (status, body) = env
        .post(
            &path,
            Some(TOKEN),
            &json!({"name":"shipping_update","language":"en_US","category":"UTILITY",
                    "components":[{"type":"BODY","text":"Your parcel {{1}} ships {{2}}."}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["category"], "UTILITY");
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.chars().all(|c| c.is_ascii_digit()));

    // Same name and language again: refused.
    let (status, dup) = env
        .post(
            &path,
            Some(TOKEN),
            &json!({"name":"shipping_update","language":"en_US","category":"UTILITY",
                    "components":[{"type":"BODY","text":"x"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&dup), (100, Some(2388024)));

    // Pending: not sendable.
    let (status, body) = env
        .send_template(SHEENA_PHONE, "shipping_update", "en_US", &["A1", "today"])
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body).0, 132001);

    env.sim
        .approve_template(WABA, "shipping_update", "en_US")
        .unwrap();
    env.idle().await;
    let received = env.rx.received();
    let update = received
        .iter()
        .find(|r| r.changes()[0]["field"] == "message_template_status_update")
        .expect("template webhook");
    update.assert_signed(SECRET);
    let v = update.json();
    assert_eq!(v["entry"][0]["id"], WABA);
    assert!(v["entry"][0]["time"].is_i64());
    let value = &v["entry"][0]["changes"][0]["value"];
    assert_eq!(value["event"], "APPROVED");
    assert_eq!(
        value["message_template_id"].as_u64().unwrap().to_string(),
        id
    );
    assert_eq!(value["message_template_name"], "shipping_update");
    assert_eq!(value["message_template_language"], "en_US");
    assert_eq!(value["message_template_category"], "UTILITY");

    let (status, _) = env
        .send_template(SHEENA_PHONE, "shipping_update", "en_US", &["A1", "today"])
        .await;
    assert_eq!(status, 200);

    env.sim
        .reject_template(WABA, "order_confirmation", "en_US", "INVALID_FORMAT")
        .unwrap();
    env.idle().await;
    let last = env.rx.changes().pop().unwrap();
    assert_eq!(last["value"]["event"], "REJECTED");
    assert_eq!(last["value"]["reason"], "INVALID_FORMAT");
    assert!(
        env.sim
            .templates()
            .iter()
            .any(|t| t.config.name == "order_confirmation"
                && t.config.status == TemplateStatus::Rejected)
    );
}

#[tokio::test]
async fn template_list_is_paged() {
    let env = env().await;
    let path = format!("{WABA}/message_templates?limit=3");
    let (status, page1) = env.get(&path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{page1}");
    let data = page1["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["name"], "order_confirmation");
    assert_eq!(data[0]["status"], "APPROVED");
    assert_eq!(data[0]["components"][0]["type"], "BODY");
    assert!(page1["paging"]["next"].is_string());
    let after = page1["paging"]["cursors"]["after"].as_str().unwrap();

    let (status, page2) = env
        .get(
            &format!("{WABA}/message_templates?limit=3&after={after}"),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 200);
    let data2 = page2["data"].as_array().unwrap();
    assert_eq!(data2.len(), 1);
    assert_eq!(data2[0]["name"], "login_code");
    assert!(page2["paging"].get("next").is_none());

    let (status, filtered) = env
        .get(
            &format!("{WABA}/message_templates?status=PAUSED"),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);

    let (status, body) = env
        .get(&format!("{WABA}/message_templates"), Some("nope"))
        .await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body).0, 190);
}
