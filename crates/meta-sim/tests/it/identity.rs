//! BSUIDs, usernames and withheld phones, number changes, marketing preferences.

use crate::common::*;
use meta_sim::Preference;
use serde_json::json;

#[tokio::test]
async fn sending_to_a_bsuid_returns_user_id_and_no_wa_id() {
    let mut env = env().await;
    env.sim.customer_sends(PABLO, PNID, "hola").unwrap();
    let (status, body) = env
        .send(json!({"messaging_product":"whatsapp","recipient":PABLO,"type":"text","text":{"body":"¡Hola Pablo!"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let contact = &body["contacts"][0];
    assert_eq!(contact["input"], PABLO);
    assert_eq!(contact["user_id"], PABLO);
    assert!(contact.get("wa_id").is_none());
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_owned();
    env.idle().await;

    let statuses = env.rx.statuses_of(&wamid);
    assert_eq!(statuses.len(), 3);
    for (s, value) in &statuses {
        assert_eq!(s["recipient_user_id"], PABLO);
        assert!(s.get("recipient_id").is_none(), "phone withheld");
        let c = &value["contacts"][0];
        assert_eq!(c["user_id"], PABLO);
        assert!(c.get("wa_id").is_none());
        let username = c["profile"].get("username");
        if s["status"] == "sent" {
            assert!(username.is_none());
        } else {
            assert_eq!(username.unwrap(), "pablomorales");
        }
    }
}

#[tokio::test]
async fn to_wins_over_recipient() {
    let env = env().await;
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let (status, body) = env
        .send(json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"recipient":PABLO,"type":"text","text":{"body":"x"}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["contacts"][0]["wa_id"], SHEENA_PHONE);
}

#[tokio::test]
async fn withheld_phones_are_omitted_never_empty() {
    let mut env = env().await;
    env.sim
        .customer_sends(PABLO, PNID, "Hola, ¿tienen envío?")
        .unwrap();
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    env.idle().await;
    let changes = env.rx.changes();
    let pablo = &changes[0]["value"];
    assert_eq!(pablo["contacts"][0]["user_id"], PABLO);
    assert_eq!(pablo["contacts"][0]["profile"]["username"], "pablomorales");
    assert!(pablo["contacts"][0].get("wa_id").is_none());
    assert_eq!(pablo["messages"][0]["from_user_id"], PABLO);
    assert!(pablo["messages"][0].get("from").is_none());

    let sheena = &changes[1]["value"];
    assert_eq!(sheena["contacts"][0]["wa_id"], SHEENA_PHONE);
    assert_eq!(sheena["messages"][0]["from"], SHEENA_PHONE);
    assert_eq!(sheena["messages"][0]["from_user_id"], SHEENA);

    // Once the business messaged Pablo by phone, his phone is shared with it.
    let (status, _) = env.send_text(PABLO_PHONE, "we have your number").await;
    assert_eq!(status, 200);
    env.sim.customer_sends(PABLO, PNID, "gracias").unwrap();
    env.idle().await;
    let last = env.rx.changes().pop().unwrap();
    assert_eq!(last["value"]["messages"][0]["from"], PABLO_PHONE);
}

#[tokio::test]
async fn a_number_change_is_a_system_message_with_a_new_bsuid() {
    let mut env = env().await;
    env.sim.customer_sends(SHEENA, PNID, "hi").unwrap();
    let new_id = env
        .sim
        .user_changes_number(SHEENA, PNID, "+1 650 555 0000")
        .unwrap();
    assert_ne!(new_id, SHEENA);
    assert!(new_id.starts_with("US."));
    env.idle().await;
    let change = env.rx.changes().pop().unwrap();
    assert_eq!(change["field"], "messages");
    let value = &change["value"];
    assert!(
        value.get("contacts").is_none(),
        "system messages carry no contacts"
    );
    let msg = &value["messages"][0];
    assert_eq!(msg["type"], "system");
    assert_eq!(msg["from"], SHEENA_PHONE);
    let system = &msg["system"];
    assert_eq!(system["type"], "user_changed_number");
    assert_eq!(system["previous_user_id"], SHEENA);
    assert_eq!(system["user_id"], new_id.as_str());
    assert_eq!(system["wa_id"], "16505550000");
    assert_eq!(
        system["body"],
        "User Sheena Nelson changed from 16505551234 to 16505550000"
    );

    // The user is now known by the new BSUID and phone; the window moved with them.
    assert_eq!(
        env.sim.user(&new_id).unwrap().phone.as_deref(),
        Some("16505550000")
    );
    assert!(env.sim.user(SHEENA).is_none());
    let (status, body) = env.send_text("16505550000", "still here").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = env
        .send(json!({"messaging_product":"whatsapp","recipient":new_id,"type":"text","text":{"body":"x"}}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn marketing_stop_is_a_user_preferences_event_and_blocks_marketing() {
    let mut env = env().await;
    env.sim
        .user_preferences(SHEENA, PNID, Preference::Stop)
        .unwrap();
    let (status, body) = env
        .send_template(SHEENA_PHONE, "winter_sale", "en_US", &["30%"])
        .await;
    assert_eq!(status, 200);
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_owned();
    let (status, utility) = env
        .send_template(SHEENA_PHONE, "order_confirmation", "en_US", &["S", "9"])
        .await;
    assert_eq!(status, 200);
    env.idle().await;

    let changes = env.rx.changes();
    let pref = &changes[0];
    assert_eq!(pref["field"], "user_preferences");
    let item = &pref["value"]["user_preferences"][0];
    assert_eq!(item["user_id"], SHEENA);
    assert_eq!(item["wa_id"], SHEENA_PHONE);
    assert_eq!(item["category"], "marketing_messages");
    assert_eq!(item["value"], "stop");
    assert!(item["timestamp"].is_string());

    let failed = env.rx.statuses_of(&wamid);
    assert_eq!(failed[0].0["status"], "failed");
    assert_eq!(failed[0].0["errors"][0]["code"], 131050);
    let u = env
        .rx
        .statuses_of(utility["messages"][0]["id"].as_str().unwrap());
    assert_eq!(u[0].0["status"], "sent", "utility still goes out");

    env.sim
        .user_preferences(SHEENA, PNID, Preference::Resume)
        .unwrap();
    let (_, body) = env
        .send_template(SHEENA_PHONE, "winter_sale", "en_US", &["30%"])
        .await;
    env.idle().await;
    let st = env
        .rx
        .statuses_of(body["messages"][0]["id"].as_str().unwrap());
    assert_eq!(st[0].0["status"], "sent");
}

#[tokio::test]
async fn every_inbound_kind_has_its_body_under_the_type_key() {
    use meta_sim::{ContactCard, InboundMessage, MediaBlob};
    let mut env = env().await;
    let out = "wamid.OUTBOUND0001".to_owned();
    let messages = vec![
        InboundMessage::Location {
            latitude: 52.52,
            longitude: 13.40,
            name: Some("Alexanderplatz".into()),
            address: None,
        },
        InboundMessage::Reaction {
            message_id: out.clone(),
            emoji: Some("👍".into()),
        },
        InboundMessage::Reaction {
            message_id: out.clone(),
            emoji: None,
        },
        InboundMessage::ButtonReply {
            context_id: out.clone(),
            id: "confirm".into(),
            title: "Confirm".into(),
        },
        InboundMessage::ListReply {
            context_id: out.clone(),
            id: "slot".into(),
            title: "09:00".into(),
            description: None,
        },
        InboundMessage::TemplateButton {
            context_id: out.clone(),
            payload: "STOP".into(),
            text: "Stop".into(),
        },
        InboundMessage::Contacts {
            cards: vec![ContactCard {
                formatted_name: "Ana Lima".into(),
                phone: Some("+55 11 91234-5678".into()),
                wa_id: None,
                email: None,
            }],
        },
        InboundMessage::Audio {
            media: MediaBlob::new("audio/ogg; codecs=opus", vec![1, 2]),
            voice: true,
        },
        InboundMessage::Document {
            media: MediaBlob::new("application/pdf", b"%PDF".to_vec()),
            filename: "invoice.pdf".into(),
            caption: None,
        },
        InboundMessage::Unsupported {
            kind: "poll_update".into(),
        },
    ];
    for m in messages {
        env.sim.customer_sends_message(SHEENA, PNID, m).unwrap();
    }
    env.idle().await;
    let msgs: Vec<serde_json::Value> = env
        .rx
        .changes()
        .iter()
        .map(|c| c["value"]["messages"][0].clone())
        .collect();
    assert_eq!(msgs[0]["location"]["name"], "Alexanderplatz");
    assert_eq!(msgs[1]["reaction"]["emoji"], "👍");
    assert!(
        msgs[2]["reaction"].get("emoji").is_none(),
        "a removed reaction has no emoji"
    );
    assert_eq!(msgs[3]["interactive"]["button_reply"]["id"], "confirm");
    assert_eq!(msgs[3]["context"]["id"], out.as_str());
    assert_eq!(msgs[3]["context"]["from"], DISPLAY);
    assert_eq!(msgs[4]["interactive"]["type"], "list_reply");
    assert_eq!(msgs[5]["type"], "button");
    assert_eq!(msgs[5]["button"]["payload"], "STOP");
    assert_eq!(msgs[6]["contacts"][0]["name"]["formatted_name"], "Ana Lima");
    assert_eq!(msgs[7]["audio"]["voice"], true);
    assert_eq!(msgs[8]["document"]["filename"], "invoice.pdf");
    assert_eq!(msgs[9]["errors"][0]["code"], 131051);
    assert_eq!(msgs[9]["unsupported"]["type"], "poll_update");
}
