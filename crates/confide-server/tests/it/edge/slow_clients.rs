//! C26: slow and greedy clients. A slowloris client (a request's headers dribbled one byte a
//! second) is cut off within the header timeout while other clients are served; connections are
//! capped per address and in all; a denied CIDR gets nothing (its connection is closed unread).

use crate::harness::TestApp;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A whole GET of `/healthz` from `local` (an address on loopback): the raw answer.
async fn get_from(server: SocketAddr, local: &str) -> Vec<u8> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    let mut tcp = socket.connect(server).await.unwrap();
    // The server may close before reading: a failed write is an answer too.
    let _ = tcp
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: confide.test\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out))
        .await
        .expect("the server answers or closes");
    out
}

fn is_ok(answer: &[u8]) -> bool {
    answer.starts_with(b"HTTP/1.1 200")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_client_is_cut_off_within_the_header_timeout_while_others_are_served() {
    let (_app, server) = TestApp::running(|c| {
        c.limits.header_read_timeout_secs = 2;
    })
    .await;
    let mut slow = TcpStream::connect(server.public).await.unwrap();
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: confide.test\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut sent = 0;
    let mut cut_off = None;
    let mut served_meanwhile = 0;
    while sent < request.len() {
        if slow.write_all(&request[sent..sent + 1]).await.is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        sent += 1;
        // Others are served while the slow client dribbles.
        if is_ok(&get_from(server.public, "127.0.0.1").await) {
            served_meanwhile += 1;
        }
        // One byte a second; a closed connection shows as a read of end-of-file.
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = Some(started.elapsed());
                break;
            }
            Ok(Ok(n)) => {
                // hyper may say 408 before closing; it is never the 200 of the request.
                assert!(
                    !buf[..n].starts_with(b"HTTP/1.1 200"),
                    "the slow request was served"
                );
            }
            Err(_) => {}
        }
    }
    let cut_off = cut_off.expect("the slow client was cut off");
    assert!(
        cut_off <= Duration::from_millis(3_500),
        "cut off after {cut_off:?} (header timeout 2 s)"
    );
    assert!(
        sent < request.len(),
        "cut off before the headers were complete"
    );
    assert!(
        served_meanwhile >= 1,
        "normal clients were served meanwhile"
    );
    assert!(is_ok(&get_from(server.public, "127.0.0.1").await));
}

/// Waits until the server counts `n` open connections.
async fn until_open(app: &TestApp, n: usize) {
    for _ in 0..500 {
        if app.state.edge.connections.count() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{} connections open, not {n}",
        app.state.edge.connections.count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_per_address_and_in_all() {
    let (app, server) = TestApp::running(|c| {
        c.limits.max_connections_per_address = 2;
        c.limits.max_connections = 3;
    })
    .await;
    let open = |local: &'static str| async move {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
        socket.connect(server.public).await.unwrap()
    };
    // Two idle connections from 127.0.0.2: a third from there is closed unread, while another
    // address is served.
    let a = open("127.0.0.2").await;
    let b = open("127.0.0.2").await;
    until_open(&app, 2).await;
    assert!(
        get_from(server.public, "127.0.0.2").await.is_empty(),
        "over the per-address cap"
    );
    assert!(is_ok(&get_from(server.public, "127.0.0.3").await));
    // A third connection from elsewhere fills the cap in all: the next is closed unread.
    until_open(&app, 2).await;
    let c = open("127.0.0.4").await;
    until_open(&app, 3).await;
    assert!(
        get_from(server.public, "127.0.0.5").await.is_empty(),
        "over the cap in all"
    );
    // Closed connections free their slots.
    drop((a, b, c));
    until_open(&app, 0).await;
    assert!(is_ok(&get_from(server.public, "127.0.0.2").await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_cidr_gets_nothing() {
    let (_app, server) = TestApp::running(|c| {
        c.access.deny = vec!["127.0.0.64/26".into()];
    })
    .await;
    let answer = get_from(server.public, "127.0.0.66").await;
    assert!(
        answer.is_empty(),
        "not a byte: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(is_ok(&get_from(server.public, "127.0.0.1").await));
}
