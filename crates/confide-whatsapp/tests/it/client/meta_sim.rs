//! The Graph client against meta-sim: sends to a phone and to a BSUID, templates and mark-read,
//! Meta's error classes end to end, media round trips with checksums, template paging and creation.

use std::time::Duration;

use confide_whatsapp::ErrorClass;
use confide_whatsapp::client::{GraphClient, GraphClientOptions, GraphError, MediaInfo};
use confide_whatsapp::send::*;
use secrecy::SecretString;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::harness::*;

#[tokio::test]
async fn text_to_phone_uses_to_and_to_bsuid_uses_recipient() {
    let s = sim().await;
    // Open the 24-hour windows.
    s.sim.customer_sends(SHEENA, PNID, "hello").unwrap();
    s.sim.customer_sends(PABLO, PNID, "olá").unwrap();

    let m =
        OutboundMessage::text(Recipient::phone(SHEENA_PHONE).unwrap(), "Hi Sheena", false).unwrap();
    let r = s.client.send(&dispatch(), PNID, &m).await.unwrap();
    let wamid_phone = r.wamid().unwrap().to_owned();
    assert!(wamid_phone.starts_with("wamid."), "{wamid_phone}");
    assert_eq!(r.contacts[0].input, SHEENA_PHONE);

    let m = OutboundMessage::text(Recipient::bsuid(PABLO).unwrap(), "Olá Pablo", false).unwrap();
    let r = s.client.send(&dispatch(), PNID, &m).await.unwrap();
    let wamid_bsuid = r.wamid().unwrap().to_owned();
    assert_eq!(r.contacts[0].wa_id, None, "a withheld phone is not echoed");

    let sent = s.sim.sent_messages();
    assert_eq!(sent.len(), 2);
    let by_phone = sent.iter().find(|o| o.wamid == wamid_phone).unwrap();
    assert_eq!(by_phone.body["to"], SHEENA_PHONE);
    assert!(by_phone.body.get("recipient").is_none());
    assert_eq!(by_phone.user_id.as_deref(), Some(SHEENA));
    assert_eq!(by_phone.kind, "text");
    let by_bsuid = sent.iter().find(|o| o.wamid == wamid_bsuid).unwrap();
    assert_eq!(by_bsuid.body["recipient"], PABLO);
    assert!(by_bsuid.body.get("to").is_none());
    assert_eq!(by_bsuid.body["text"]["body"], "Olá Pablo");
}

#[tokio::test]
async fn template_send_and_mark_read() {
    let s = sim().await;
    // A template needs no open window.
    let r = s
        .client
        .send(
            &dispatch(),
            PNID,
            &order_confirmation(Recipient::bsuid(SHEENA).unwrap()),
        )
        .await
        .unwrap();
    let sent = s.sim.sent_messages();
    let rec = sent
        .iter()
        .find(|o| Some(o.wamid.as_str()) == r.wamid())
        .unwrap();
    assert_eq!(
        rec.template,
        Some(("order_confirmation".to_owned(), "en_US".to_owned()))
    );

    let inbound = s.sim.customer_sends(SHEENA, PNID, "thanks!").unwrap();
    s.client.mark_read(PNID, &inbound).await.unwrap();
    let reads = s.sim.read_receipts();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].message_id, inbound);

    // Marking an unknown message is Meta's 400/100: permanent.
    let e = s.client.mark_read(PNID, "wamid.UNKNOWN").await.unwrap_err();
    assert_eq!(api(&e), (400, 100, None, ErrorClass::Permanent));
    assert_eq!(e.retry_after(0, 0.5), None);
}

#[tokio::test]
async fn error_classes_end_to_end() {
    let s = sim().await;
    let to = || Recipient::bsuid(SHEENA).unwrap();

    // 401 / 190: a token Meta does not know stops the channel.
    let bad = GraphClient::new(
        s.sim.base_url(),
        SecretString::from("EAAwrongtokenvalue"),
        opts_for(s.sim.base_url()),
    )
    .unwrap();
    let e = bad
        .send(&dispatch(), PNID, &order_confirmation(to()))
        .await
        .unwrap_err();
    assert_eq!(api(&e), (401, 190, None, ErrorClass::StopChannel));
    assert_eq!(e.retry_after(0, 0.0), None);
    assert!(!e.is_retryable());
    assert!(!format!("{e} {e:?}").contains("EAAwrongtokenvalue"));

    // 400 / 100: an invalid parameter is permanent.
    let e = s
        .client
        .create_template(
            WABA,
            &json!({"name":"Bad Name","language":"en_US","category":"UTILITY",
                    "components":[{"type":"BODY","text":"x"}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(api(&e), (400, 100, None, ErrorClass::Permanent));
    assert_no_token(&e);

    // 131056: the 46th message to one user in the same instant hits the pair rate limit.
    for i in 0..45 {
        s.client
            .send(&dispatch(), PNID, &order_confirmation(to()))
            .await
            .unwrap_or_else(|e| panic!("send {i}: {e}"));
    }
    let e = s
        .client
        .send(&dispatch(), PNID, &order_confirmation(to()))
        .await
        .unwrap_err();
    let (http, code, _, class) = api(&e);
    assert_eq!(
        (http, code, class),
        (429, 131056, ErrorClass::RetryPairRate)
    );
    for (attempt, secs) in [(0u32, 1u64), (1, 4), (2, 16), (3, 64)] {
        assert_eq!(
            e.retry_after(attempt, 0.0),
            Some(Duration::from_secs(secs)),
            "4^{attempt}"
        );
    }
    assert_no_token(&e);

    // 429 / 130429: throughput, back off with jitter.
    s.sim.set_throughput(PNID, 1).unwrap();
    s.clock.advance(time::Duration::seconds(10));
    s.client
        .send(
            &dispatch(),
            PNID,
            &order_confirmation(Recipient::bsuid(PABLO).unwrap()),
        )
        .await
        .unwrap();
    let e = s
        .client
        .send(
            &dispatch(),
            PNID,
            &order_confirmation(Recipient::bsuid(PABLO).unwrap()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        api(&e),
        (429, 130429, Some(2494055), ErrorClass::RetryBackoff)
    );
    assert_eq!(e.retry_after(0, 0.0), Some(Duration::from_millis(500)));
    assert_eq!(e.retry_after(3, 0.5), Some(Duration::from_secs(6)));
    assert_no_token(&e);
}

#[tokio::test]
async fn media_round_trip_and_checksum() {
    let s = sim().await;
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n fake image bytes".repeat(100);
    let id = s
        .client
        .upload_media(PNID, png.clone(), "image/png", "photo.png")
        .await
        .unwrap();
    assert_eq!(
        s.sim.media_bytes(&id).unwrap(),
        ("image/png".to_owned(), png.clone())
    );

    let info = s.client.media_info(&id).await.unwrap();
    assert_eq!(info.id, id);
    assert_eq!(info.mime_type, "image/png");
    assert_eq!(info.file_size, Some(png.len() as u64));
    let digest = Sha256::digest(&png);
    assert_eq!(
        info.sha256.as_deref(),
        Some(hex::encode(digest).as_str()),
        "hex from GET /{{id}}"
    );
    assert!(s.client.is_allowed(&info.url));
    assert_eq!(s.client.download_media(&info).await.unwrap(), png);

    // The base64 form webhooks carry is accepted too.
    use base64::Engine as _;
    let b64 = MediaInfo {
        sha256: Some(base64::engine::general_purpose::STANDARD.encode(digest)),
        ..info.clone()
    };
    assert_eq!(s.client.download_media(&b64).await.unwrap(), png);

    // A checksum that does not match is a typed error, in either form.
    let other = Sha256::digest(b"something else");
    for wrong in [
        hex::encode(other),
        base64::engine::general_purpose::STANDARD.encode(other),
    ] {
        let tampered = MediaInfo {
            sha256: Some(wrong),
            ..info.clone()
        };
        let e = s.client.download_media(&tampered).await.unwrap_err();
        assert_eq!(
            e,
            GraphError::ChecksumMismatch {
                expected: hex::encode(other),
                actual: hex::encode(digest)
            }
        );
        assert_no_token(&e);
    }

    // The URL lives 5 minutes; then 404, a typed "fetch a fresh URL", which fetch_media does.
    s.clock.advance(time::Duration::minutes(6));
    assert_eq!(
        s.client.download_media(&info).await.unwrap_err(),
        GraphError::MediaUrlExpired
    );
    let (fresh, data) = s.client.fetch_media(&id).await.unwrap();
    assert_ne!(fresh.url, info.url);
    assert_eq!(data, png);

    s.client.delete_media(&id).await.unwrap();
    let e = s.client.media_info(&id).await.unwrap_err();
    assert_eq!(api(&e), (400, 100, Some(33), ErrorClass::Permanent));

    // Over the per-type limit: refused before anything is sent.
    let big = vec![0u8; 500 * 1024 + 1];
    let e = s
        .client
        .upload_media(PNID, big, "image/webp", "s.webp")
        .await
        .unwrap_err();
    assert_eq!(
        e,
        GraphError::TooLarge {
            limit: 500 * 1024,
            announced: Some(500 * 1024 + 1)
        }
    );
}

#[tokio::test]
async fn templates_page_and_create() {
    let s = sim_with(GraphClientOptions {
        template_page_size: 1,
        ..GraphClientOptions::default()
    })
    .await;
    let all = s.client.list_templates(WABA).await.unwrap();
    let mut names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "login_code",
            "order_confirmation",
            "shipping_update",
            "winter_sale"
        ],
        "4 pages of 1"
    );
    assert!(all.iter().all(|t| t.status.is_sendable()));
    let oc = all.iter().find(|t| t.name == "order_confirmation").unwrap();
    assert_eq!(oc.count_body_params(), 2);

    let created = s
        .client
        .create_template(
            WABA,
            &json!({"name":"back_in_stock","language":"en_US","category":"MARKETING",
                    "components":[{"type":"BODY","text":"{{1}} is back in stock"}]}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, TemplateStatus::Pending);
    assert_eq!(created.category.as_deref(), Some("MARKETING"));
    assert!(!created.id.is_empty());
    assert_eq!(s.client.list_templates(WABA).await.unwrap().len(), 5);

    // Paging is bounded.
    let capped = GraphClient::new(
        s.sim.base_url(),
        token(),
        GraphClientOptions {
            template_page_size: 2,
            max_template_pages: 2,
            ..opts_for(s.sim.base_url())
        },
    )
    .unwrap();
    assert_eq!(
        capped.list_templates(WABA).await.unwrap_err(),
        GraphError::TooManyPages { pages: 2 }
    );
}
