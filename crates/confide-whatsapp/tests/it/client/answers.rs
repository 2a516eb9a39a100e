//! Hostile or odd answers from stand-in servers: oversized and endless bodies, paging tricks,
//! malformed answers (each typed), and transport failures (retried with backoff).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use confide_whatsapp::ErrorClass;
use confide_whatsapp::client::{
    GraphClient, GraphClientOptions, GraphError, MediaInfo, TransportKind,
};
use confide_whatsapp::send::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::*;

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
    let e = c.send(&dispatch(), "1", &m).await.unwrap_err();
    assert_eq!(
        e,
        GraphError::Status {
            http_status: 503,
            class: ErrorClass::RetryBackoff
        }
    );
    let e = c.send(&dispatch(), "2", &m).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::RetryBackoff);
    assert_eq!(e.http_status(), Some(502));
    let e = c.send(&dispatch(), "3", &m).await.unwrap_err();
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
        c.send(&dispatch(), "4", &m).await.unwrap_err(),
        GraphError::Decode(_)
    ));
    assert!(matches!(
        c.send(&dispatch(), "5", &m).await.unwrap_err(),
        GraphError::Decode(_)
    ));
    let e = c.send(&dispatch(), "6", &m).await.unwrap_err();
    assert_eq!(api(&e), (403, 131031, None, ErrorClass::StopChannel));
    let e = c.send(&dispatch(), "7", &m).await.unwrap_err();
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
    let e = c.send(&dispatch(), "1", &too_long).await.unwrap_err();
    assert!(
        matches!(e, GraphError::InvalidRequest(SendError::TooLong { .. })),
        "{e:?}"
    );
    for bad in ["../../admin", "1?x=y", "", "1/messages"] {
        let e = c.send(&dispatch(), bad, &m).await.unwrap_err();
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
        .send(&dispatch(), PNID, &text_to_sheena())
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
    let e = c
        .send(&dispatch(), PNID, &text_to_sheena())
        .await
        .unwrap_err();
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
