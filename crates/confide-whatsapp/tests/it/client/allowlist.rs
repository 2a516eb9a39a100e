//! Where the client may go: redirects are never followed, and media URLs off the allowed origins
//! are refused before anything is fetched.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use confide_core::clock::ManualClock;
use confide_whatsapp::ErrorClass;
use confide_whatsapp::client::{GraphClient, GraphClientOptions, GraphError, MediaInfo};
use meta_sim::SimConfig;
use serde_json::json;

use super::harness::*;

#[tokio::test]
async fn redirects_are_not_followed() {
    let decoy = stub(|_, _, _| json_response(200, &json!({"messages":[{"id":"wamid.X"}]}))).await;
    let target = format!("{}/v24.0/{PNID}/messages", decoy.url);
    let graph = stub(move |_, _, _| {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, format!("{target}?steal=1"))],
        )
            .into_response()
    })
    .await;
    let client = client_for(&graph.url);
    let e = client
        .send(&dispatch(), PNID, &text_to_sheena())
        .await
        .unwrap_err();
    assert_eq!(
        e,
        GraphError::Redirect {
            http_status: 307,
            location: Some(format!("{}/v24.0/{PNID}/messages", decoy.url)),
        },
        "the Location is reported without its query"
    );
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert_no_token(&e);

    // The same for a media download answered with a redirect.
    let info = MediaInfo {
        id: "1".into(),
        url: format!("{}/whatsapp_business/attachments/?mid=1", graph.url),
        mime_type: "image/jpeg".into(),
        sha256: None,
        file_size: None,
    };
    assert!(matches!(
        client.download_media(&info).await.unwrap_err(),
        GraphError::Redirect {
            http_status: 307,
            ..
        }
    ));
    assert_eq!(graph.hits(), 2);
    assert_eq!(decoy.hits(), 0, "the redirect target never saw a request");
}

#[tokio::test]
async fn media_urls_off_the_allowlist_are_refused_unfetched() {
    let decoy = stub(|_, _, _| (StatusCode::OK, "secret internal data").into_response()).await;
    let decoy_url = decoy.url.clone();
    // GET /{media-id} answers with a URL pointing at another server (same host, another port).
    let graph = stub(move |_, uri, _| {
        let id = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
        let url = match id.as_str() {
            "1" => format!("{decoy_url}/whatsapp_business/attachments/?mid=1"),
            "2" => "http://169.254.169.254/latest/meta-data/iam/".to_owned(),
            "3" => "http://10.0.0.7:8080/admin".to_owned(),
            "4" => "file:///etc/passwd".to_owned(),
            "5" => "not a url".to_owned(),
            _ => "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=6".to_owned(),
        };
        json_response(
            200,
            &json!({"messaging_product":"whatsapp","url":url,"mime_type":"image/jpeg",
                    "sha256":"00","file_size":10,"id":id}),
        )
    })
    .await;
    let client = client_for(&graph.url);
    for id in ["1", "2", "3", "4", "5", "6"] {
        let info = client.media_info(id).await.unwrap();
        let e = client.download_media(&info).await.unwrap_err();
        assert!(matches!(e, GraphError::Disallowed(_)), "{id}: {e:?}");
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert_no_token(&e);
        let e = client.fetch_media(id).await.unwrap_err();
        assert!(matches!(e, GraphError::Disallowed(_)), "{id}: {e:?}");
    }
    let GraphError::Disallowed(shown) = client
        .download_media(&client.media_info("1").await.unwrap())
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(
        shown,
        format!("{}/whatsapp_business/attachments/", decoy.url)
    );
    assert_eq!(decoy.hits(), 0, "the foreign host never saw a request");
    assert_eq!(graph.hits(), 13, "only GET /{{media-id}} calls");

    // An origin added on purpose is allowed.
    let with_media_host = GraphClient::new(
        &graph.url,
        token(),
        GraphClientOptions {
            media_origins: vec![decoy.url.clone()],
            egress: listing(&[&graph.url, &decoy.url]),
            ..GraphClientOptions::default()
        },
    )
    .unwrap();
    let info = MediaInfo {
        sha256: None,
        ..client.media_info("1").await.unwrap()
    };
    assert_eq!(
        with_media_host.download_media(&info).await.unwrap(),
        b"secret internal data"
    );
    assert_eq!(decoy.hits(), 1);
}

#[tokio::test]
async fn meta_sim_with_a_foreign_media_host_is_refused() {
    // The simulator itself configured to hand out media URLs on another origin.
    let decoy = stub(|_, _, _| (StatusCode::OK, "x").into_response()).await;
    let clock = Arc::new(ManualClock::at_epoch_2026());
    let cfg = SimConfig {
        public_base_url: Some(decoy.url.clone()),
        ..sim_config()
    };
    let sim = meta_sim::Sim::start(cfg, clock).await.unwrap();
    let client = GraphClient::new(
        &format!("http://{}", sim.addr()),
        token(),
        opts_for(&format!("http://{}", sim.addr())),
    )
    .unwrap();
    let id = sim.upload_media(PNID, "image/jpeg", b"jpeg").unwrap();
    let info = client.media_info(&id).await.unwrap();
    assert!(info.url.starts_with(&decoy.url));
    assert!(matches!(
        client.download_media(&info).await.unwrap_err(),
        GraphError::Disallowed(_)
    ));
    assert_eq!(decoy.hits(), 0);
}
