//! C23: the built-in TLS listener speaks TLS 1.2 and 1.3 only (a TLS 1.0 or 1.1 ClientHello gets
//! one fatal alert and the connection closed), serves HSTS, picks up a certificate replaced on
//! disk without a restart, and the plain-HTTP port next to it only redirects. Plain HTTP on a
//! non-loopback address without TLS or a declared proxy does not start.

use crate::harness::{Running, TestApp};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A fresh self-signed certificate for localhost: (certificate PEM, key PEM, certificate DER).
fn certificate() -> (String, String, Vec<u8>) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    (
        ck.cert.pem(),
        ck.signing_key.serialize_pem(),
        ck.cert.der().to_vec(),
    )
}

fn write_pair(dir: &Path, cert: &str, key: &str) -> (PathBuf, PathBuf) {
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    // Written next to the target and renamed over it, as certificate tools do.
    std::fs::write(dir.join("cert.tmp"), cert).unwrap();
    std::fs::write(dir.join("key.tmp"), key).unwrap();
    std::fs::rename(dir.join("key.tmp"), &k).unwrap();
    std::fs::rename(dir.join("cert.tmp"), &c).unwrap();
    (c, k)
}

/// Trusts whatever certificate the server shows (the test compares it byte for byte instead),
/// while still checking the handshake's signatures.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client(version: &'static rustls::SupportedProtocolVersion) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A GET over TLS of the given version: the negotiated version, the server's certificate and the
/// raw response.
async fn https_get(
    addr: std::net::SocketAddr,
    version: &'static rustls::SupportedProtocolVersion,
    path: &str,
) -> (rustls::ProtocolVersion, Vec<u8>, String) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = client(version)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (_, conn) = tls.get_ref();
    let negotiated = conn.protocol_version().unwrap();
    let cert = conn.peer_certificates().unwrap()[0].to_vec();
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    (negotiated, cert, String::from_utf8_lossy(&out).into_owned())
}

/// A ClientHello as a TLS 1.0 or 1.1 client sends it (`legacy_version` 3.1 or 3.2, no
/// supported_versions extension, CBC and GCM suites): what the server answers, until it closes.
async fn old_client_hello(addr: std::net::SocketAddr, minor: u8) -> Vec<u8> {
    let suites: [u16; 8] = [
        0xc02f, 0xc030, 0xc013, 0xc014, 0x009c, 0x002f, 0x0035, 0x000a,
    ];
    let mut body = vec![3, minor];
    body.extend([7u8; 32]); // random
    body.push(0); // session id
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null
    // extensions: server_name localhost, supported_groups (x25519, secp256r1), ec_point_formats
    let mut ext = Vec::new();
    let name = b"localhost";
    ext.extend([0, 0]);
    ext.extend(((name.len() + 5) as u16).to_be_bytes());
    ext.extend(((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend((name.len() as u16).to_be_bytes());
    ext.extend(name);
    ext.extend([0x00, 0x0a, 0, 6, 0, 4, 0x00, 0x1d, 0x00, 0x17]);
    ext.extend([0x00, 0x0b, 0, 2, 1, 0]);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![1];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 3, 1];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&record).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .ok();
    out
}

async fn tls_server(dir: &Path, cert: &str, key: &str) -> (TestApp, Running) {
    let (c, k) = write_pair(dir, cert, key);
    TestApp::running(|config| {
        config.tls.cert = Some(c);
        config.tls.key = Some(k);
        config.tls.redirect_listen = Some("127.0.0.1:0".parse().unwrap());
        config.tls.reload_interval_secs = 1;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_0_and_1_1_are_refused_and_1_2_and_1_3_are_served_with_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate();
    let (_app, server) = tls_server(dir.path(), &cert, &key).await;
    for (version, expect) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let (negotiated, served, response) = https_get(server.public, version, "/healthz").await;
        assert_eq!(negotiated, expect);
        assert_eq!(served, der);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains("strict-transport-security: max-age=31536000; includesubdomains"),
            "{response}"
        );
    }
    for minor in [1u8, 2] {
        let answer = old_client_hello(server.public, minor).await;
        // One alert record (content type 21), fatal (2), handshake_failure (40) or
        // protocol_version (70); no ServerHello; then the connection is closed.
        assert_eq!(
            answer.len(),
            7,
            "TLS 1.{}: one alert and nothing else: {answer:?}",
            minor - 1
        );
        assert_eq!(answer[0], 21, "an alert, not a handshake: {answer:?}");
        assert!(
            matches!(answer[5..7], [2, 40] | [2, 70]),
            "a fatal refusal: {answer:?}"
        );
        assert!(!answer.windows(2).any(|w| w == [0x16, 3]), "no ServerHello");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_replaced_on_disk_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, first) = certificate();
    let (_app, mut server) = tls_server(dir.path(), &cert, &key).await;
    let (_, served, _) = https_get(server.public, &rustls::version::TLS13, "/healthz").await;
    assert_eq!(served, first);
    // A renewal: a new pair over the old files.
    let (cert2, key2, second) = certificate();
    assert_ne!(first, second);
    write_pair(dir.path(), &cert2, &key2);
    let reloads = server.reloads.as_mut().unwrap();
    tokio::time::timeout(Duration::from_secs(15), reloads.changed())
        .await
        .expect("reloaded within a few checks")
        .unwrap();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let (_, served, response) = https_get(server.public, version, "/healthz").await;
        assert_eq!(served, second, "the new certificate, same process");
        assert!(response.starts_with("HTTP/1.1 200"));
    }
    // A broken pair (a key of another certificate) is not loaded: the last good one is kept.
    let (_, other_key, _) = certificate();
    std::fs::write(dir.path().join("key.pem"), other_key).unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (_, served, _) = https_get(server.public, &rustls::version::TLS13, "/healthz").await;
    assert_eq!(served, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_redirect_port_gets_a_redirect_and_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = certificate();
    let (app, server) = tls_server(dir.path(), &cert, &key).await;
    let t = app.tenant("Redirected").await;
    let redirect = server.redirect.unwrap();
    let port = server.public.port();
    let login =
        serde_json::json!({"email": t.owner.email, "password": t.owner.password}).to_string();
    for request in [
        "GET /api/v1/me?x=1 HTTP/1.1\r\nHost: inbox.example.org\r\n\r\n".to_string(),
        format!(
            "POST /api/v1/session HTTP/1.1\r\nHost: inbox.example.org:80\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{login}",
            login.len()
        ),
    ] {
        let mut tcp = TcpStream::connect(redirect).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut out)).await;
        let text = String::from_utf8_lossy(&out).to_string();
        assert!(text.starts_with("HTTP/1.1 308"), "{text}");
        let lower = text.to_ascii_lowercase();
        let path = if request.starts_with("GET") {
            "/api/v1/me?x=1"
        } else {
            "/api/v1/session"
        };
        assert!(
            lower.contains(&format!(
                "location: https://inbox.example.org:{port}{path}\r\n"
            )),
            "{text}"
        );
        assert!(lower.contains("content-length: 0\r\n"), "{text}");
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(body.is_empty(), "no data: {body:?}");
        assert!(!lower.contains("set-cookie") && !lower.contains("strict-transport-security"));
        assert!(lower.contains("x-content-type-options: nosniff"));
    }
    // A Host that is not a host name gets no redirect to it.
    let mut tcp = TcpStream::connect(redirect).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: evil.example/@x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(
        text.starts_with("http/1.1 400") && !text.contains("location:"),
        "{text}"
    );
}

#[tokio::test]
async fn plain_http_outside_loopback_needs_tls_or_a_proxy() {
    use confide_server::startup::{Application, Deps, check_exposure};
    let mut config = confide_server::Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..Default::default()
    };
    match Application::build(config.clone(), Deps::default()).await {
        Ok(_) => panic!("a plain-HTTP server on 0.0.0.0 started"),
        Err(e) => assert!(
            e.0.contains("listen 0.0.0.0:0")
                && e.0.contains("tls.cert")
                && e.0.contains("trusted_proxies"),
            "{e}"
        ),
    }
    config.trusted_proxies = vec!["10.0.0.0/8".into()];
    assert!(check_exposure(&config).is_ok(), "behind a declared proxy");
    config.trusted_proxies.clear();
    config.demo = true;
    assert!(check_exposure(&config).is_ok(), "the demo");
    config.demo = false;
    config.tls.cert = Some("c.pem".into());
    assert!(check_exposure(&config).is_ok(), "with TLS");
    config.tls.cert = None;
    config.listen = "[::1]:8080".parse().unwrap();
    assert!(check_exposure(&config).is_ok(), "on loopback");
}
