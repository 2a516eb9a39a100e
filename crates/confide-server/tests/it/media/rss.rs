//! A 100 MB document streams in and out without the server's memory growing with it.
//!
//! Resident memory is a property of the whole process, and the other tests of this binary run in
//! it at the same time; so the test runs itself again in a child process, alone (this test, by
//! its exact name), and the child measures: the peak RSS while the document is uploaded and
//! downloaded again, minus the RSS before. The parent checks the child's figure.

use super::{Backend, multipart};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tower::ServiceExt;

const CHILD_ENV: &str = "CONFIDE_TEST_RSS_CHILD";
/// "100 MB", in Meta's decimal megabytes (WhatsApp's document limit).
const SIZE: usize = 100_000_000;
const PIECE: usize = 256 * 1024;
const LIMIT_MB: f64 = 32.0;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The document's `i`-th piece: text, different in every piece.
fn piece(i: usize) -> Vec<u8> {
    let line = format!("line {i:>10} of a large plain-text document\n");
    line.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(PIECE.min(SIZE - i * PIECE))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_document_streams_in_and_out_in_bounded_memory() {
    if std::env::var(CHILD_ENV).is_ok() {
        return measure().await;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "media::rss::a_100_mb_document_streams_in_and_out_in_bounded_memory",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let growth: f64 = stdout
        .lines()
        .find_map(|l| l.split_once("rss_growth_mb=").map(|(_, v)| v))
        .expect("the child reports its figure")
        .trim()
        .parse()
        .unwrap();
    println!("100 MB document in and out: RSS grew {growth:.1} MB (limit {LIMIT_MB} MB)");
    assert!(growth < LIMIT_MB, "RSS grew {growth:.1} MB");
}

/// The child: upload and download the document while sampling RSS.
async fn measure() {
    let app = Backend::Local.app().await;
    let t = app.tenant("Acme").await;
    let (_, key) = app.api_key(&t, "agent").await;
    // Warm up every path once (pools, caches, allocator arenas).
    let (s, v) = super::upload(&app, &key, "warm.txt", None, &piece(0)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let warm = super::link(&app, &t.members["agent"].auth, v["id"].as_str().unwrap()).await;
    assert_eq!(
        super::fetch(&app, Method::GET, &warm, None).await.0,
        StatusCode::OK
    );

    let baseline = rss_kib();
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };

    // Upload: the multipart framing around pieces generated on the fly.
    let (content_type, framed) = multipart("big.txt", Some("text/plain"), b"@@BODY@@");
    let at = framed.windows(8).position(|w| w == b"@@BODY@@").unwrap();
    let (head, tail) = (framed[..at].to_vec(), framed[at + 8..].to_vec());
    let mut expected = Sha256::new();
    let pieces = SIZE.div_ceil(PIECE);
    for i in 0..pieces {
        expected.update(piece(i));
    }
    let expected = expected.finalize();
    let body = futures_util::stream::iter(
        std::iter::once(head)
            .chain((0..pieces).map(piece))
            .chain(std::iter::once(tail))
            .map(|b| Ok::<_, std::io::Error>(bytes::Bytes::from(b))),
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/media")
        .header(header::HOST, "confide.test")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(body))
        .unwrap();
    let r = app.request(app.ip, req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["byte_size"].as_u64(), Some(SIZE as u64));
    let id = r.body["id"].as_str().unwrap().to_string();
    println!(
        "after upload: peak +{:.1} MB, now +{:.1} MB",
        (peak.load(Ordering::Relaxed).saturating_sub(baseline)) as f64 / 1024.0,
        (rss_kib().saturating_sub(baseline)) as f64 / 1024.0
    );

    // Download, hashing as the bytes arrive.
    let path = super::link(&app, &t.members["agent"].auth, &id).await;
    let mut req = Request::builder()
        .uri(&path)
        .header(header::HOST, "confide.test")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [198, 51, 100, 7],
            40_000,
        ))));
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut got = Sha256::new();
    let mut n = 0usize;
    let mut stream = res.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        n += chunk.len();
        got.update(&chunk);
    }
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(n, SIZE);
    assert_eq!(got.finalize(), expected, "the same bytes came back");
    let growth = (peak.load(Ordering::Relaxed).saturating_sub(baseline)) as f64 / 1024.0;
    println!("rss_growth_mb={growth:.1}");
}
