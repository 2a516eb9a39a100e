use crate::confide;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A plain HTTP/1.1 GET; returns (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    get_with(addr, path, "")
}

/// A GET with extra header lines (each ending in `\r\n`).
fn get_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn serve_in_an_empty_directory_answers_healthz_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = confide(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut ready: Option<serde_json::Value> = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("confide is ready"))
        {
            ready = Some(v);
            break;
        }
    }
    let ready = ready.expect("the server logs one ready line");
    let public: SocketAddr = ready["public"].as_str().unwrap().parse().unwrap();
    let admin: SocketAddr = ready["admin"].as_str().unwrap().parse().unwrap();
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.contains("sqlite://./data/confide.db") && message.contains("keys/keyring.json"),
        "{message}"
    );

    let (status, body) = get(public, "/healthz");
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"ok\"}"));
    eprintln!(
        "serve on an empty directory answered /healthz after {:?} (startup_ms {})",
        started.elapsed(),
        ready["startup_ms"]
    );
    let (status, body) = get(public, "/readyz");
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(public, "/no/such/page");
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
        "not_found"
    );
    let (status, metrics) = get(admin, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("confide_http_requests_total{class=\"2xx\"} 2"),
        "{metrics}"
    );
    // The metrics are not on the public listener.
    assert_eq!(get(public, "/metrics").0, 404);

    // Created on first start: the keyring (0600) and the database.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("keys/keyring.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(dir.path().join("data/confide.db").exists());

    // SIGTERM: graceful stop, exit 0.
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}; log: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
}

/// A plain HTTP/1.1 POST of JSON from the server's own origin; returns (status, body).
fn post_json(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_string(),
    )
}

#[test]
fn demo_seeds_a_tenant_whose_customers_write_in_through_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = confide(dir.path())
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut ready = None;
    let mut log = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        log.push(line);
        if v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("demo ready"))
        {
            ready = Some(v);
            break;
        }
    }
    let ready = ready.expect("a demo ready line");
    std::thread::spawn(move || for _ in lines {});
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let signin = out.next().unwrap().unwrap();
    let addr: SocketAddr = signin
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let password = signin
        .split("one-time password ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let key_line = out.next().unwrap().unwrap();
    let api_key = key_line
        .split("shown only now): ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    assert!(
        !log.iter()
            .any(|l| l.contains(&password) || l.contains(&api_key)),
        "the password and the API key never enter the log"
    );
    assert_eq!(ready["messages"], 40);

    // The owner can sign in with what was printed.
    let body =
        serde_json::json!({"email": "demo@confide.local", "password": &password}).to_string();
    let (status, response) = post_json(addr, "/api/v1/session", &body);
    assert_eq!(status, 200, "{response}");

    // The simulated customers' messages arrive through signed webhooks and are stored.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tenant: confide_core::ids::TenantId = ready["tenant"].as_str().unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = rt.block_on(async {
            let keyring =
                confide_crypto::keyring::Keyring::load(&dir.path().join("keys/keyring.json"))
                    .unwrap();
            let url = format!("sqlite://{}/data/confide.db", dir.path().display());
            let store = confide_store::Store::open(
                &confide_store::StoreOptions::new(url),
                keyring,
                None,
                std::sync::Arc::new(confide_core::clock::SystemClock),
                std::sync::Arc::new(confide_core::entropy::OsEntropy),
            )
            .await
            .unwrap();
            let mut s = store.read_scope(tenant).await.unwrap();
            let n = s.count_rows("messages").await.unwrap();
            drop(s);
            store.close().await;
            n
        });
        if stored >= 40 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {stored} of 40 demo messages arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // And the printed API key reads them through the inbox API.
    let (status, body) = get_with(
        addr,
        "/api/v1/conversations",
        &format!("Authorization: Bearer {api_key}\r\n"),
    );
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        !list["conversations"].as_array().unwrap().is_empty(),
        "{body}"
    );
    // And the printed API key reads them through the inbox API.
    let (status, body) = get_with(
        addr,
        "/api/v1/conversations",
        &format!("Authorization: Bearer {api_key}\r\n"),
    );
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        !list["conversations"].as_array().unwrap().is_empty(),
        "{body}"
    );
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
}
