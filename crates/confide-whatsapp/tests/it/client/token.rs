//! The access token: sent only as a bearer header, never in a URL, never shown in errors or
//! `Debug`.

use axum::http::header;
use confide_whatsapp::client::{ConfigError, GraphClient, GraphClientOptions};
use secrecy::SecretString;
use serde_json::json;

use super::harness::*;

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
        c.send(&dispatch(), PNID, &text_to_sheena())
            .await
            .unwrap()
            .wamid(),
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
