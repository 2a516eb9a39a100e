//! The egress guard under the client: names resolving to private addresses, IP literals in refused
//! ranges, listed loopback origins and media hosts, each refused before any connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use confide_whatsapp::ErrorClass;
use confide_whatsapp::client::{
    GraphClient, GraphClientOptions, GraphError, META_GRAPH_BASE, MediaInfo,
};
use confide_whatsapp::egress::{EgressPolicy, FixedResolver};
use serde_json::json;

use super::harness::*;

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
        let e = client
            .send(&dispatch(), PNID, &text_to_sheena())
            .await
            .unwrap_err();
        let r = refused(&e);
        assert!(base.ends_with(&r.target), "{r}");
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert_no_token(&e);
        let e = client.media_info("1").await.unwrap_err();
        refused(&e);
    }
    let e = GraphClient::new("https://graph.evil.test", token(), short(policy.clone()))
        .unwrap()
        .send(&dispatch(), PNID, &text_to_sheena())
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
        .send(&dispatch(), PNID, &text_to_sheena())
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
        let e = client
            .send(&dispatch(), PNID, &text_to_sheena())
            .await
            .unwrap_err();
        refused(&e);
    }
    // The default options carry the strictest guard: nothing listed.
    let default = GraphClient::new(
        &format!("http://127.0.0.1:{port}"),
        token(),
        GraphClientOptions::default(),
    )
    .unwrap();
    refused(
        &default
            .send(&dispatch(), PNID, &text_to_sheena())
            .await
            .unwrap_err(),
    );
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
    let e = by_name
        .send(&dispatch(), PNID, &text_to_sheena())
        .await
        .unwrap_err();
    assert_eq!(refused(&e).target, "localhost");
    assert_eq!(graph.hits(), 0);
    let by_ip = GraphClient::new(&graph.url, token(), short(listed_ip)).unwrap();
    assert_eq!(
        by_ip
            .send(&dispatch(), PNID, &text_to_sheena())
            .await
            .unwrap()
            .wamid(),
        Some("wamid.OK")
    );
    assert_eq!(graph.hits(), 1);

    // And the reverse: localhost listed, 127.0.0.1 refused.
    let listed_name = Arc::new(EgressPolicy::new([localhost.as_str()]).unwrap());
    let by_ip = GraphClient::new(&graph.url, token(), short(listed_name.clone())).unwrap();
    refused(
        &by_ip
            .send(&dispatch(), PNID, &text_to_sheena())
            .await
            .unwrap_err(),
    );
    assert_eq!(graph.hits(), 1);
    let by_name = GraphClient::new(&localhost, token(), short(listed_name)).unwrap();
    assert_eq!(
        by_name
            .send(&dispatch(), PNID, &text_to_sheena())
            .await
            .unwrap()
            .wamid(),
        Some("wamid.OK")
    );
    assert_eq!(graph.hits(), 2);

    // Added while running (how the demo and the server tests list their meta-sim).
    let later = Arc::new(EgressPolicy::public_only());
    let client = GraphClient::new(&graph.url, token(), short(later.clone())).unwrap();
    refused(
        &client
            .send(&dispatch(), PNID, &text_to_sheena())
            .await
            .unwrap_err(),
    );
    later.list_local_simulator(&graph.url).unwrap();
    client
        .send(&dispatch(), PNID, &text_to_sheena())
        .await
        .unwrap();
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
