//! Media sends end to end: an agent uploads an image and sends it; the dispatcher hands Meta a
//! single-use signed link; meta-sim fetches it once (as Meta does) and gets the exact bytes; a
//! second fetch of the same link gets 403; meta-sim's status webhooks move the message on.

use super::{SHEENA, SHEENA_WROTE_AT, dispatch, message, send};
use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp, fixture};
use crate::media::{png, upload};
use axum::http::StatusCode;
use confide_core::clock::from_micros;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "media-secret";

/// Polls `f` every 20 ms for up to 10 s.
async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn media_send_end_to_end(delivery: &str) {
    let sim = meta_sim::Sim::start(
        meta_sim::SimConfig {
            numbers: vec![meta_sim::NumberConfig::new(
                FIXTURE_PHONE_NUMBER_ID,
                "15550783881",
                "102290129340398",
                "EAAG-test-token",
                SECRET,
            )],
            users: vec![meta_sim::UserConfig::with_phone(
                SHEENA,
                "Sheena Nelson",
                "16505551234",
            )],
            ..meta_sim::SimConfig::default()
        },
        Arc::new(confide_core::clock::SystemClock),
    )
    .await
    .unwrap();
    let app = TestApp::new().await;
    let addr = app.serve_http().await;
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(t.id, FIXTURE_PHONE_NUMBER_ID, SECRET, sim.base_url())
        .await;
    let agent = &t.members["agent"].auth;
    if delivery == "upload" {
        let r = app
            .call(
                axum::http::Method::PATCH,
                &format!("/api/v1/channels/{}", ch.channel),
                &t.owner.auth,
                Some(json!({"media_delivery": "upload"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["media_delivery"], "upload");
    }
    // Sheena wrote an hour ago: the window is open.
    let wamid = sim
        .customer_sends(SHEENA, FIXTURE_PHONE_NUMBER_ID, "Can you send a photo?")
        .unwrap();
    let inbound = String::from_utf8(fixture("text.json"))
        .unwrap()
        .replace("wamid.TEXT0001", &wamid);
    assert_eq!(
        app.deliver(&ch, inbound.as_bytes()).await.status,
        StatusCode::OK
    );
    app.clock
        .set(from_micros(SHEENA_WROTE_AT * 1_000_000 + 3_600_000_000));
    let conversation = app.get_ok(agent, "/api/v1/conversations").await["conversations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Meta's statuses come back to this server.
    sim.set_callback_url(
        FIXTURE_PHONE_NUMBER_ID,
        Some(&format!("http://{addr}/webhooks/whatsapp/{}", ch.channel)),
    )
    .unwrap();

    let (_, key) = app.api_key(&t, "agent").await;
    let image = png(40_000);
    let (s, v) = upload(&app, &key, "part.png", Some("image/png"), &image).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let media_id = v["id"].as_str().unwrap().to_string();

    let r = send(
        &app,
        agent,
        &conversation,
        json!({"type": "media", "media_id": media_id, "caption": "The part you asked about"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["kind"], "media");
    assert_eq!(dispatch(&app).await.sent, 1);

    let record = sim.sent_messages().pop().unwrap();
    assert_eq!(record.kind, "image");
    assert_eq!(record.body["image"]["caption"], "The part you asked about");
    if delivery == "link" {
        // Meta got a link, fetched it once, and got the exact bytes.
        let url = record.body["image"]["link"].as_str().unwrap().to_string();
        assert!(url.starts_with(&format!("http://{addr}/m/")), "{url}");
        let fetched = eventually("meta-sim's link fetch", async || sim.link_fetches().pop()).await;
        assert_eq!(fetched.http_status, 200);
        assert_eq!(fetched.bytes, image);
        // A second fetch of the same link: refused, no bytes.
        let again = reqwest::get(&url).await.unwrap();
        assert_eq!(again.status().as_u16(), 403);
        let body = again.bytes().await.unwrap();
        assert!(!body.windows(16).any(|w| w == &image[..16]));
    } else {
        // Uploaded to Graph first; Meta holds the exact bytes under the id sent.
        let graph_id = record.body["image"]["id"].as_str().unwrap().to_string();
        let (mime, bytes) = sim.media_bytes(&graph_id).unwrap();
        assert_eq!((mime.as_str(), bytes), ("image/png", image.clone()));
        assert!(sim.link_fetches().is_empty());
    }
    // The statuses meta-sim sent move the message on.
    let m = eventually("the message to be delivered", async || {
        let m = message(&app, agent, &conversation, &id).await;
        matches!(m["status"].as_str(), Some("delivered" | "read")).then_some(m)
    })
    .await;
    assert_eq!(m["kind"], "media", "{m}");
    let mut s = app.state.operator_store().read_scope(t.id).await.unwrap();
    let recorded = s
        .outbox()
        .media_delivery(id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        recorded.as_deref(),
        Some(delivery),
        "the message records how"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_send_hands_meta_a_single_use_link_fetched_once() {
    media_send_end_to_end("link").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_send_can_upload_to_graph_instead() {
    media_send_end_to_end("upload").await;
}

#[tokio::test]
async fn a_media_send_names_an_uploaded_file_of_this_account() {
    let app = TestApp::new().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Bravo").await;
    let (_, key_b) = app.api_key(&b, "agent").await;
    let (_, v) = upload(&app, &key_b, "b.png", None, &png(100)).await;
    let others = v["id"].as_str().unwrap();
    let ch = app
        .channel_for(
            a.id,
            FIXTURE_PHONE_NUMBER_ID,
            SECRET,
            "https://graph.facebook.com",
        )
        .await;
    app.deliver_fixtures(&ch, &["text.json"]).await;
    app.clock
        .set(from_micros(SHEENA_WROTE_AT * 1_000_000 + 60_000_000));
    let agent = &a.members["agent"].auth;
    let conversation = app.get_ok(agent, "/api/v1/conversations").await["conversations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for media_id in [others, "not-an-id", "0192d2c4-5a5e-7c1f-8d3b-000000000000"] {
        let r = send(
            &app,
            agent,
            &conversation,
            json!({"type": "media", "media_id": media_id}),
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message"),
            "{media_id}: {}",
            r.body
        );
    }
    assert!(
        !app.audit_actions(a.id)
            .await
            .iter()
            .any(|a| a == "message.queued"),
        "nothing queued"
    );
}
