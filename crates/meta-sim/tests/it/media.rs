//! Media: upload limits, the media object, Bearer-protected 5-minute URLs, delete, inbound media.

use crate::common::*;
use base64::Engine as _;
use meta_sim::media::{Part, build_multipart};
use meta_sim::{InboundMessage, MediaBlob};
use sha2::{Digest, Sha256};
use time::Duration;

async fn upload(env: &Env, mime: &str, data: &[u8]) -> (u16, serde_json::Value) {
    let (ct, body) = build_multipart(
        "----metasimboundary7MA4YWxk",
        &[
            Part {
                name: "messaging_product".into(),
                filename: None,
                content_type: None,
                data: b"whatsapp".to_vec(),
            },
            Part {
                name: "type".into(),
                filename: None,
                content_type: None,
                data: mime.as_bytes().to_vec(),
            },
            Part {
                name: "file".into(),
                filename: Some("upload.bin".into()),
                content_type: Some(mime.into()),
                data: data.to_vec(),
            },
        ],
    );
    let resp = env
        .http
        .post(format!("{}/v24.0/{PNID}/media", env.sim.base_url()))
        .bearer_auth(TOKEN)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn download(env: &Env, url: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = env.http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn upload_then_fetch_with_bearer_until_the_url_expires() {
    let env = env().await;
    let jpeg: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let (status, body) = upload(&env, "image/jpeg", &jpeg).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();

    let (status, obj) = env.get(&id, Some(TOKEN)).await;
    assert_eq!(status, 200, "{obj}");
    assert_eq!(obj["messaging_product"], "whatsapp");
    assert_eq!(obj["mime_type"], "image/jpeg");
    assert_eq!(obj["file_size"], 5000);
    assert_eq!(obj["id"], id.as_str());
    assert_eq!(obj["sha256"], hex::encode(Sha256::digest(&jpeg)));
    let url = obj["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(env.sim.base_url()));

    let (status, _) = download(&env, &url, None).await;
    assert_eq!(status, 401, "the URL needs the Bearer token");
    let (status, _) = download(&env, &url, Some("EAAwrong")).await;
    assert_eq!(status, 401);
    let (status, bytes) = download(&env, &url, Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, jpeg);

    env.clock
        .advance(Duration::minutes(4) + Duration::seconds(59));
    assert_eq!(download(&env, &url, Some(TOKEN)).await.0, 200);
    env.clock.advance(Duration::seconds(2));
    assert_eq!(
        download(&env, &url, Some(TOKEN)).await.0,
        404,
        "expired after 5 minutes"
    );

    // A fresh URL works again.
    let (_, obj) = env.get(&id, Some(TOKEN)).await;
    let fresh = obj["url"].as_str().unwrap();
    assert_ne!(fresh, url);
    assert_eq!(download(&env, fresh, Some(TOKEN)).await.0, 200);

    // Delete: gone.
    let resp = env
        .http
        .delete(format!("{}/v24.0/{id}", env.sim.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"success": true})
    );
    let (status, body) = env.get(&id, Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), (100, Some(33)));
    assert_eq!(download(&env, fresh, Some(TOKEN)).await.0, 404);
}

#[tokio::test]
async fn uploads_are_checked_against_the_allowlist_and_size_limits() {
    let env = env().await;
    let (status, body) = upload(&env, "image/gif", b"GIF89a").await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body).0, 100);

    let too_big = vec![0u8; 5 * 1024 * 1024 + 1];
    let (status, body) = upload(&env, "image/png", &too_big).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body).0, 131053);

    let sticker = vec![0u8; 600 * 1024];
    let (status, _) = upload(&env, "image/webp", &sticker).await;
    assert_eq!(status, 400, "stickers are at most 500 KB");

    let (status, _) = upload(&env, "audio/ogg; codecs=opus", &[1, 2, 3]).await;
    assert_eq!(status, 200);
    let (status, _) = upload(&env, "application/pdf", b"%PDF-1.7").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn inbound_media_is_held_by_the_simulator() {
    let mut env = env().await;
    let photo = b"\xff\xd8\xff\xe0 a small photo \xff\xd9".to_vec();
    env.sim
        .customer_sends_message(
            SHEENA,
            PNID,
            InboundMessage::image(
                MediaBlob::new("image/jpeg", photo.clone()),
                Some("the broken part"),
            ),
        )
        .unwrap();
    env.idle().await;
    let change = env.rx.changes().pop().unwrap();
    let msg = &change["value"]["messages"][0];
    assert_eq!(msg["type"], "image");
    assert_eq!(msg["image"]["caption"], "the broken part");
    assert_eq!(msg["image"]["mime_type"], "image/jpeg");
    assert_eq!(
        msg["image"]["sha256"],
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&photo))
    );
    let media_id = msg["image"]["id"].as_str().unwrap();
    let (status, obj) = env.get(media_id, Some(TOKEN)).await;
    assert_eq!(status, 200);
    let (status, bytes) = download(&env, obj["url"].as_str().unwrap(), Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, photo);

    // Sending an uploaded media id works; an unknown one fails by webhook (131053).
    let id = env.sim.upload_media(PNID, "image/png", b"png").unwrap();
    let (status, ok) = env
        .send(serde_json::json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"type":"image","image":{"id":id}}))
        .await;
    assert_eq!(status, 200);
    let (status, bad) = env
        .send(serde_json::json!({"messaging_product":"whatsapp","to":SHEENA_PHONE,"type":"image","image":{"id":"123"}}))
        .await;
    assert_eq!(status, 200);
    env.idle().await;
    assert_eq!(
        env.rx
            .statuses_of(ok["messages"][0]["id"].as_str().unwrap())[0]
            .0["status"],
        "sent"
    );
    let failed = env
        .rx
        .statuses_of(bad["messages"][0]["id"].as_str().unwrap());
    assert_eq!(failed[0].0["status"], "failed");
    assert_eq!(failed[0].0["errors"][0]["code"], 131053);
}
