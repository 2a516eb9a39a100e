//! The Graph client against meta-sim (happy paths, Meta's errors) and against small hostile
//! stand-ins on 127.0.0.1 (redirects, foreign media URLs, oversized bodies, paging tricks).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use confide_core::clock::ManualClock;
use confide_whatsapp::ErrorClass;
use confide_whatsapp::client::{
    ConfigError, GraphClient, GraphClientOptions, GraphError, META_GRAPH_BASE, MediaInfo,
    TransportKind,
};
use confide_whatsapp::egress::{EgressPolicy, EgressRefused, FixedResolver};
use confide_whatsapp::send::*;
use meta_sim::{
    NumberConfig, SimConfig, SimHandle, TemplateCategory, TemplateConfig, UserConfig, WebhookConfig,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PNID: &str = "106540352242922";
const WABA: &str = "102290129340398";
const TOKEN: &str = "EAAGm0PX4ZCpsBAclientsecret";
const SHEENA: &str = "US.13491208655302741918";
const SHEENA_PHONE: &str = "+16505551234";
/// A customer with a username and a withheld phone number: reachable only by BSUID.
const PABLO: &str = "BR.1502576394655843";

// ---------------------------------------------------------------- meta-sim

struct Sim {
    sim: SimHandle,
    clock: Arc<ManualClock>,
    client: GraphClient,
}

fn sim_config() -> SimConfig {
    let tpl = |name: &str, cat, body: &str| {
        TemplateConfig::new(
            WABA,
            name,
            "en_US",
            cat,
            meta_sim::TemplateStatus::Approved,
            body,
        )
    };
    SimConfig {
        seed: 11,
        numbers: vec![NumberConfig::new(
            PNID,
            "15550783881",
            WABA,
            TOKEN,
            "app-secret",
        )],
        users: vec![
            UserConfig::with_phone(SHEENA, "Sheena Nelson", "16505551234"),
            UserConfig::with_username(PABLO, "Pablo Morales", "pablomorales", None),
        ],
        templates: vec![
            tpl(
                "order_confirmation",
                TemplateCategory::Utility,
                "Hi {{1}}, your order {{2}} is confirmed.",
            ),
            tpl(
                "winter_sale",
                TemplateCategory::Marketing,
                "Everything {{1}} off this week!",
            ),
            tpl(
                "shipping_update",
                TemplateCategory::Utility,
                "Your parcel {{1}} is on its way.",
            ),
            tpl(
                "login_code",
                TemplateCategory::Authentication,
                "{{1}} is your verification code.",
            ),
        ],
        webhooks: WebhookConfig::fast(),
        ..SimConfig::default()
    }
}

fn token() -> SecretString {
    SecretString::from(TOKEN)
}

/// An egress guard listing `origins`: meta-sim and the stand-ins live on 127.0.0.1, which the
/// guard refuses unless listed.
fn listing(origins: &[&str]) -> Arc<EgressPolicy> {
    Arc::new(EgressPolicy::new(origins).unwrap())
}

/// Default options whose egress guard lists `origin`.
fn opts_for(origin: &str) -> GraphClientOptions {
    GraphClientOptions {
        egress: listing(&[origin]),
        ..GraphClientOptions::default()
    }
}

async fn sim_with(opts: GraphClientOptions) -> Sim {
    let clock = Arc::new(ManualClock::at_epoch_2026());
    let sim = meta_sim::Sim::start(sim_config(), clock.clone())
        .await
        .unwrap();
    let opts = GraphClientOptions {
        egress: listing(&[sim.base_url()]),
        ..opts
    };
    let client = GraphClient::new(sim.base_url(), token(), opts).unwrap();
    Sim { sim, clock, client }
}

async fn sim() -> Sim {
    sim_with(GraphClientOptions::default()).await
}

fn order_confirmation(to: Recipient) -> OutboundMessage {
    let t = Template::new("order_confirmation", "en_US")
        .unwrap()
        .with(TemplateComponent::body(vec![
            Parameter::text("Sheena"),
            Parameter::text("#1042"),
        ]))
        .unwrap();
    OutboundMessage::template(to, t).unwrap()
}

/// Asserts an `Api` error and returns `(http, code, subcode, class)`.
fn api(e: &GraphError) -> (u16, i64, Option<i64>, ErrorClass) {
    match e {
        GraphError::Api {
            http_status,
            code,
            subcode,
            class,
            message,
            ..
        } => {
            assert!(!message.is_empty());
            (*http_status, *code, *subcode, *class)
        }
        other => panic!("expected a Graph API error, got {other:?}"),
    }
}

/// Neither rendering of an error may contain the token.
fn assert_no_token(e: &GraphError) {
    for s in [format!("{e}"), format!("{e:?}")] {
        assert!(!s.contains(TOKEN), "token leaked: {s}");
        assert!(!s.contains("clientsecret"), "token leaked: {s}");
    }
}

#[tokio::test]
async fn text_to_phone_uses_to_and_to_bsuid_uses_recipient() {
    let s = sim().await;
    // Open the 24-hour windows.
    s.sim.customer_sends(SHEENA, PNID, "hello").unwrap();
    s.sim.customer_sends(PABLO, PNID, "olá").unwrap();

    let m =
        OutboundMessage::text(Recipient::phone(SHEENA_PHONE).unwrap(), "Hi Sheena", false).unwrap();
    let r = s.client.send(PNID, &m).await.unwrap();
    let wamid_phone = r.wamid().unwrap().to_owned();
    assert!(wamid_phone.starts_with("wamid."), "{wamid_phone}");
    assert_eq!(r.contacts[0].input, SHEENA_PHONE);

    let m = OutboundMessage::text(Recipient::bsuid(PABLO).unwrap(), "Olá Pablo", false).unwrap();
    let r = s.client.send(PNID, &m).await.unwrap();
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
        .send(PNID, &order_confirmation(Recipient::bsuid(SHEENA).unwrap()))
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
    let e = bad.send(PNID, &order_confirmation(to())).await.unwrap_err();
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
            .send(PNID, &order_confirmation(to()))
            .await
            .unwrap_or_else(|e| panic!("send {i}: {e}"));
    }
    let e = s
        .client
        .send(PNID, &order_confirmation(to()))
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
        .send(PNID, &order_confirmation(Recipient::bsuid(PABLO).unwrap()))
        .await
        .unwrap();
    let e = s
        .client
        .send(PNID, &order_confirmation(Recipient::bsuid(PABLO).unwrap()))
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

// ---------------------------------------------------------------- stand-ins

/// A stand-in server on 127.0.0.1:0 that counts every request it gets.
struct Stub {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl Stub {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn stub<F>(handler: F) -> Stub
where
    F: Fn(Method, Uri, HeaderMap) -> Response + Clone + Send + Sync + 'static,
{
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let handler = handler.clone();
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            handler(method, uri, headers)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Stub {
        url: format!("http://{addr}"),
        hits,
    }
}

fn json_response(status: u16, v: &Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn client_for(base: &str) -> GraphClient {
    GraphClient::new(base, token(), opts_for(base)).unwrap()
}

fn text_to_sheena() -> OutboundMessage {
    OutboundMessage::text(Recipient::bsuid(SHEENA).unwrap(), "hi", false).unwrap()
}

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
    let e = client.send(PNID, &text_to_sheena()).await.unwrap_err();
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

/// A raw HTTP/1.1 server that answers one request with `head` then `body_len` bytes and no
/// `Content-Length` (the body ends when the connection closes), so only a running count can stop it.
async fn endless_body_server(body_len: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            req.extend_from_slice(&buf[..n]);
        }
        let head = "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nConnection: close\r\n\r\n";
        if sock.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![0xAB_u8; 16 * 1024];
        let mut sent = 0;
        while sent < body_len {
            if sock.write_all(&chunk).await.is_err() {
                return; // the client hung up: what we want
            }
            sent += chunk.len();
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn download_size_is_capped() {
    // Announced too large by file_size: refused without a request.
    let graph = stub(|_, _, _| (StatusCode::OK, vec![0u8; 600 * 1024]).into_response()).await;
    let client = client_for(&graph.url);
    let info = |mime: &str, size: Option<u64>| MediaInfo {
        id: "1".into(),
        url: format!("{}/whatsapp_business/attachments/?mid=1", graph.url),
        mime_type: mime.into(),
        sha256: None,
        file_size: size,
    };
    let e = client
        .download_media(&info("image/jpeg", Some(5 * 1024 * 1024 + 1)))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        GraphError::TooLarge {
            limit: 5 * 1024 * 1024,
            announced: Some(5 * 1024 * 1024 + 1)
        }
    );
    assert_eq!(graph.hits(), 0);

    // Announced too large by Content-Length (a sticker is at most 500 KB).
    let e = client
        .download_media(&info("image/webp", None))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        GraphError::TooLarge {
            limit: 500 * 1024,
            announced: Some(600 * 1024)
        }
    );
    // Under the document limit the same body is fine.
    assert_eq!(
        client
            .download_media(&info("application/pdf", None))
            .await
            .unwrap()
            .len(),
        600 * 1024
    );

    // No length announced: the running count stops the transfer.
    let base = endless_body_server(64 * 1024 * 1024).await;
    let client = GraphClient::new(
        &base,
        token(),
        GraphClientOptions {
            max_download_bytes: 256 * 1024,
            ..opts_for(&base)
        },
    )
    .unwrap();
    let e = client
        .download_media(&MediaInfo {
            id: "1".into(),
            url: format!("{base}/media"),
            mime_type: "video/mp4".into(),
            sha256: None,
            file_size: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        e,
        GraphError::TooLarge {
            limit: 256 * 1024,
            announced: None
        }
    );
    assert_eq!(e.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn paging_uses_only_the_cursor_on_the_base_url() {
    let decoy = stub(|_, _, _| json_response(200, &json!({"data":[]}))).await;
    let decoy_url = decoy.url.clone();
    let template = |name: &str| {
        json!({"id": 77, "name": name, "language":"en_US","status":"APPROVED","category":"UTILITY",
               "components":[{"type":"BODY","text":"Hi {{1}}"}]})
    };
    let graph = stub(move |_, uri, _| {
        let q = uri.query().unwrap_or_default().to_owned();
        assert!(q.contains("limit=100"), "{q}");
        if q.contains("after=c2") {
            // The last page still carries a cursor, but no `next`.
            json_response(
                200,
                &json!({"data":[template("c")],"paging":{"cursors":{"before":"c2","after":"c3"}}}),
            )
        } else if q.contains("after=c1") {
            json_response(
                200,
                &json!({"data":[template("b")],"paging":{"cursors":{"after":"c2"},
                        "next": format!("{decoy_url}/next?after=c2")}}),
            )
        } else {
            json_response(
                200,
                &json!({"data":[template("a")],"paging":{"cursors":{"after":"c1"},
                        "next": format!("{decoy_url}/next?after=c1")}}),
            )
        }
    })
    .await;
    let list = client_for(&graph.url).list_templates(WABA).await.unwrap();
    let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(list[0].id, "77");
    assert_eq!(graph.hits(), 3);
    assert_eq!(decoy.hits(), 0, "`paging.next` is never fetched");

    // A server repeating its cursor cannot make the client loop.
    let looping = stub(|_, _, _| {
        json_response(
            200,
            &json!({"data":[{"id":"1","name":"x","language":"en","status":"APPROVED"}],
                    "paging":{"cursors":{"after":"same"},"next":"http://127.0.0.1:1/"}}),
        )
    })
    .await;
    assert_eq!(
        client_for(&looping.url)
            .list_templates(WABA)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(looping.hits(), 2);
}

#[tokio::test]
async fn odd_answers_are_typed() {
    let graph = stub(|_, uri, _| match uri.path() {
        p if p.ends_with("/1/messages") => (StatusCode::SERVICE_UNAVAILABLE, "").into_response(),
        p if p.ends_with("/2/messages") => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>bad gateway</html>",
        )
            .into_response(),
        p if p.ends_with("/3/messages") => json_response(
            500,
            &json!({"error":{"message":"(#131000) Something went wrong","type":"OAuthException",
                    "code":131000,"error_data":{"messaging_product":"whatsapp","details":"try later"},
                    "fbtrace_id":"Axyz"}}),
        ),
        p if p.ends_with("/4/messages") => json_response(200, &json!({"messages":[]})),
        p if p.ends_with("/5/messages") => (StatusCode::OK, "not json").into_response(),
        p if p.ends_with("/6/messages") => json_response(
            403,
            &json!({"error":{"message":"(#131031) Account has been locked","code":131031}}),
        ),
        p if p.ends_with("/7/messages") => (StatusCode::UNAUTHORIZED, Body::empty()).into_response(),
        _ => (StatusCode::NOT_FOUND, "").into_response(),
    })
    .await;
    let c = client_for(&graph.url);
    let m = text_to_sheena();
    let e = c.send("1", &m).await.unwrap_err();
    assert_eq!(
        e,
        GraphError::Status {
            http_status: 503,
            class: ErrorClass::RetryBackoff
        }
    );
    let e = c.send("2", &m).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::RetryBackoff);
    assert_eq!(e.http_status(), Some(502));
    let e = c.send("3", &m).await.unwrap_err();
    match &e {
        GraphError::Api {
            http_status: 500,
            code: 131000,
            details: Some(d),
            fbtrace_id: Some(t),
            class: ErrorClass::RetryBackoff,
            ..
        } => assert_eq!((d.as_str(), t.as_str()), ("try later", "Axyz")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.send("4", &m).await.unwrap_err(),
        GraphError::Decode(_)
    ));
    assert!(matches!(
        c.send("5", &m).await.unwrap_err(),
        GraphError::Decode(_)
    ));
    let e = c.send("6", &m).await.unwrap_err();
    assert_eq!(api(&e), (403, 131031, None, ErrorClass::StopChannel));
    let e = c.send("7", &m).await.unwrap_err();
    assert_eq!(
        e,
        GraphError::Status {
            http_status: 401,
            class: ErrorClass::Permanent
        }
    );
    assert_eq!(graph.hits(), 7);

    // Refused before sending: a body over its limit, an id that would change the path.
    let mut too_long = text_to_sheena();
    too_long.payload = Payload::Text(Text {
        body: "x".repeat(4097),
        preview_url: false,
    });
    let e = c.send("1", &too_long).await.unwrap_err();
    assert!(
        matches!(e, GraphError::InvalidRequest(SendError::TooLong { .. })),
        "{e:?}"
    );
    for bad in ["../../admin", "1?x=y", "", "1/messages"] {
        let e = c.send(bad, &m).await.unwrap_err();
        assert!(matches!(e, GraphError::InvalidRequest(_)), "{bad}: {e:?}");
        assert!(matches!(
            c.media_info(bad).await,
            Err(GraphError::InvalidRequest(_))
        ));
    }
    assert_eq!(graph.hits(), 7, "nothing was sent for refused requests");
}

#[tokio::test]
async fn transport_failures_retry_with_backoff() {
    // A port nobody listens on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = client_for(&format!("http://{addr}"))
        .send(PNID, &text_to_sheena())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            GraphError::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.class(), ErrorClass::RetryBackoff);
    assert_eq!(e.retry_after(1, 0.0), Some(Duration::from_secs(1)));
    assert_no_token(&e);

    // A server that never answers: the request timeout fires.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_addr = hang.local_addr().unwrap();
    let app = Router::new().fallback(std::future::pending::<&'static str>);
    tokio::spawn(async move {
        axum::serve(hang, app).await.unwrap();
    });
    let c = GraphClient::new(
        &format!("http://{hang_addr}"),
        token(),
        GraphClientOptions {
            request_timeout: Duration::from_millis(300),
            ..opts_for(&format!("http://{hang_addr}"))
        },
    )
    .unwrap();
    let e = c.send(PNID, &text_to_sheena()).await.unwrap_err();
    assert!(
        matches!(
            e,
            GraphError::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.class(), ErrorClass::RetryBackoff);
}

#[tokio::test]
async fn the_token_is_sent_only_as_a_bearer_header_and_never_shown() {
    let graph = stub(|_, uri, headers| {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let ua = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let ok = auth == format!("Bearer {TOKEN}")
            && !uri.to_string().contains(TOKEN)
            && ua.starts_with("confide/");
        if ok {
            json_response(200, &json!({"messages":[{"id":"wamid.OK"}]}))
        } else {
            json_response(400, &json!({"error":{"message":"bad auth","code":100}}))
        }
    })
    .await;
    let c = client_for(&graph.url);
    assert_eq!(
        c.send(PNID, &text_to_sheena()).await.unwrap().wamid(),
        Some("wamid.OK")
    );
    let shown = format!("{c:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains(&graph.url), "{shown}");

    // Configuration errors do not echo the token either.
    let e = GraphClient::new(
        "http://graph.example.com",
        token(),
        GraphClientOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::InsecureHttp(_)));
    assert!(!format!("{e} {e:?}").contains(TOKEN));
    let e = GraphClient::new(
        &graph.url,
        SecretString::from(format!("{TOKEN}\r\nX-Evil: 1")),
        GraphClientOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e, ConfigError::Token);
    assert!(!format!("{e} {e:?}").contains(TOKEN));
}

// ---------------------------------------------------------------- the egress guard

/// A TCP listener on 127.0.0.1 that counts the connections it accepts (and closes them): zero
/// means nothing was sent anywhere near it.
struct Counting {
    addr: std::net::SocketAddr,
    accepts: Arc<AtomicUsize>,
}

impl Counting {
    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

async fn counting_listener() -> Counting {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(sock);
        }
    });
    Counting { addr, accepts }
}

/// A policy listing `listed`, resolving each `(name, addr)` as given and nothing else.
fn resolving(listed: &[&str], names: &[(&str, std::net::SocketAddr)]) -> Arc<EgressPolicy> {
    let fixed = names
        .iter()
        .fold(FixedResolver::new(), |r, (name, addr)| r.with(name, *addr));
    Arc::new(
        EgressPolicy::new(listed)
            .unwrap()
            .with_resolver(Arc::new(fixed)),
    )
}

fn short(egress: Arc<EgressPolicy>) -> GraphClientOptions {
    GraphClientOptions {
        egress,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..GraphClientOptions::default()
    }
}

fn refused(e: &GraphError) -> &EgressRefused {
    match e {
        GraphError::EgressRefused(r) => r,
        other => panic!("expected an egress refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_without_connecting() {
    let target = counting_listener().await;
    let names = [
        // A made-up Graph host whose DNS answer is a private address.
        ("graph.evil.test", "10.0.0.1:443".parse().unwrap()),
        // One whose answer is loopback, where the counting listener waits.
        ("graph.sneaky.test", target.addr),
    ];
    let policy = resolving(&["https://graph.facebook.com"], &names);
    for base in ["https://graph.evil.test", "https://graph.sneaky.test"] {
        let client = GraphClient::new(base, token(), short(policy.clone())).unwrap();
        let e = client.send(PNID, &text_to_sheena()).await.unwrap_err();
        let r = refused(&e);
        assert!(base.ends_with(&r.target), "{r}");
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert_no_token(&e);
        let e = client.media_info("1").await.unwrap_err();
        refused(&e);
    }
    let e = GraphClient::new("https://graph.evil.test", token(), short(policy.clone()))
        .unwrap()
        .send(PNID, &text_to_sheena())
        .await
        .unwrap_err();
    assert!(
        refused(&e).reason.contains("10.0.0.1 is a private address"),
        "{e}"
    );
    assert_eq!(target.accepts(), 0, "no connection was made");

    // The same name, listed by the operator: the connection is made (the listener speaks no
    // TLS, so the call fails, but only after connecting). This is what the zero above rules out.
    let listed = resolving(&["https://graph.sneaky.test"], &names);
    let e = GraphClient::new("https://graph.sneaky.test", token(), short(listed))
        .unwrap()
        .send(PNID, &text_to_sheena())
        .await
        .unwrap_err();
    assert!(matches!(e, GraphError::Transport { .. }), "{e:?}");
    assert_eq!(target.accepts(), 1);
}

#[tokio::test]
async fn ip_literals_in_refused_ranges_are_refused_before_any_request() {
    let target = counting_listener().await;
    let port = target.addr.port();
    let public_only = Arc::new(EgressPolicy::public_only());
    for base in [
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("http://0x7f.0.0.1:{port}"),
        "https://10.0.0.1".to_owned(),
        "https://172.16.0.1".to_owned(),
        "https://192.168.1.1".to_owned(),
        "https://169.254.169.254".to_owned(),
        "https://[fd00:ec2::254]".to_owned(),
        "https://[fe80::1]".to_owned(),
        "https://[fc00::1]".to_owned(),
        "https://0.0.0.0".to_owned(),
        "https://[::]".to_owned(),
        "https://100.64.0.1".to_owned(),
        "https://224.0.0.1".to_owned(),
        "https://255.255.255.255".to_owned(),
        "https://[::ffff:10.0.0.1]".to_owned(),
        "https://[::ffff:169.254.169.254]".to_owned(),
    ] {
        let client = GraphClient::new(&base, token(), short(public_only.clone())).unwrap();
        let e = client.send(PNID, &text_to_sheena()).await.unwrap_err();
        refused(&e);
    }
    // The default options carry the strictest guard: nothing listed.
    let default = GraphClient::new(
        &format!("http://127.0.0.1:{port}"),
        token(),
        GraphClientOptions::default(),
    )
    .unwrap();
    refused(&default.send(PNID, &text_to_sheena()).await.unwrap_err());
    assert_eq!(target.accepts(), 0, "no connection was made");
}

#[tokio::test]
async fn only_the_listed_loopback_origin_is_reached_not_another_name_for_it() {
    let graph = stub(|_, _, _| json_response(200, &json!({"messages":[{"id":"wamid.OK"}]}))).await;
    let port = graph.url.rsplit(':').next().unwrap().to_owned();
    let localhost = format!("http://localhost:{port}");
    let listed_ip = Arc::new(EgressPolicy::new([graph.url.as_str()]).unwrap());

    // Listed: http://127.0.0.1:PORT. The same server as http://localhost:PORT is refused
    // (localhost resolves to loopback, and that name is not listed).
    let by_name = GraphClient::new(&localhost, token(), short(listed_ip.clone())).unwrap();
    let e = by_name.send(PNID, &text_to_sheena()).await.unwrap_err();
    assert_eq!(refused(&e).target, "localhost");
    assert_eq!(graph.hits(), 0);
    let by_ip = GraphClient::new(&graph.url, token(), short(listed_ip)).unwrap();
    assert_eq!(
        by_ip.send(PNID, &text_to_sheena()).await.unwrap().wamid(),
        Some("wamid.OK")
    );
    assert_eq!(graph.hits(), 1);

    // And the reverse: localhost listed, 127.0.0.1 refused.
    let listed_name = Arc::new(EgressPolicy::new([localhost.as_str()]).unwrap());
    let by_ip = GraphClient::new(&graph.url, token(), short(listed_name.clone())).unwrap();
    refused(&by_ip.send(PNID, &text_to_sheena()).await.unwrap_err());
    assert_eq!(graph.hits(), 1);
    let by_name = GraphClient::new(&localhost, token(), short(listed_name)).unwrap();
    assert_eq!(
        by_name.send(PNID, &text_to_sheena()).await.unwrap().wamid(),
        Some("wamid.OK")
    );
    assert_eq!(graph.hits(), 2);

    // Added while running (how the demo and the server tests list their meta-sim).
    let later = Arc::new(EgressPolicy::public_only());
    let client = GraphClient::new(&graph.url, token(), short(later.clone())).unwrap();
    refused(&client.send(PNID, &text_to_sheena()).await.unwrap_err());
    later.list_local_simulator(&graph.url).unwrap();
    client.send(PNID, &text_to_sheena()).await.unwrap();
    assert_eq!(graph.hits(), 3);
}

#[tokio::test]
async fn media_urls_off_meta_media_hosts_are_refused_before_any_connection() {
    let target = counting_listener().await;
    let port = target.addr.port();
    // Meta's media host, as a poisoned (or rebound) DNS would answer it: the loopback listener.
    let names = [("lookaside.fbsbx.com", target.addr)];
    let info = |url: &str| MediaInfo {
        id: "1".into(),
        url: url.to_owned(),
        mime_type: "image/jpeg".into(),
        sha256: None,
        file_size: None,
    };
    let client = GraphClient::new(
        META_GRAPH_BASE,
        token(),
        short(resolving(&[META_GRAPH_BASE], &names)),
    )
    .unwrap();
    let e = client
        .download_media(&info(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&hash=SECRET",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused(&e).target, "lookaside.fbsbx.com");
    assert!(!e.to_string().contains("SECRET"), "{e}");
    // Off Meta's media hosts, or not over https: refused by the allowlist.
    for url in [
        "http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1".to_owned(),
        "https://lookaside.fbsbx.com.evil.example/x".to_owned(),
        "https://10.0.0.1/x".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://127.0.0.1:{port}/x"),
        format!("https://127.0.0.1:{port}/x"),
        "https://[::1]/x".to_owned(),
    ] {
        let e = client.download_media(&info(&url)).await.unwrap_err();
        assert!(matches!(e, GraphError::Disallowed(_)), "{url}: {e:?}");
    }
    assert_eq!(target.accepts(), 0, "no connection was made");

    // Were the media host listed, the connection would be made: the zero above is meaningful.
    let listed = GraphClient::new(
        META_GRAPH_BASE,
        token(),
        short(resolving(
            &[META_GRAPH_BASE, "https://lookaside.fbsbx.com"],
            &names,
        )),
    )
    .unwrap();
    let e = listed
        .download_media(&info("https://lookaside.fbsbx.com/x"))
        .await
        .unwrap_err();
    assert!(matches!(e, GraphError::Transport { .. }), "{e:?}");
    assert_eq!(target.accepts(), 1);
}
