//! Private media (claim C15): uploads typed by content, objects sealed in chunks in a local
//! directory or a real S3-compatible server, and short-lived signed links that serve exactly the
//! stored bytes and nothing to anyone else. Every scenario runs on the local directory, and again
//! on S3 (`s3::`) when `CONFIDE_TEST_S3_URL` names an S3-compatible server (`.ci/run` starts one).

mod rss;
mod s3;

use crate::harness::{Auth, Options, Tenant, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use std::net::SocketAddr;
use tower::ServiceExt;

/// Where a test's media lives.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Local,
    /// An S3-compatible server and a bucket made for the test.
    S3 {
        endpoint: String,
        bucket: String,
    },
}

impl Backend {
    /// The S3 backend with a fresh bucket, or `None` when no S3 server is configured.
    pub(crate) async fn s3() -> Option<Backend> {
        let endpoint = std::env::var("CONFIDE_TEST_S3_URL").ok()?;
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let bucket = format!("confide-test-{}", uuid::Uuid::new_v4().simple());
        // moto and MinIO in their test modes accept an unsigned bucket creation.
        let r = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("the S3 server answers");
        assert!(
            r.status().is_success(),
            "creating bucket {bucket}: {}",
            r.status()
        );
        Some(Backend::S3 { endpoint, bucket })
    }

    pub(crate) async fn app(&self) -> TestApp {
        let backend = self.clone();
        TestApp::with_config(Options::default(), move |c| {
            if let Backend::S3 { endpoint, bucket } = &backend {
                c.media_url = format!("s3://{bucket}/media");
                c.media.s3_endpoint = Some(endpoint.clone());
                c.media.s3_allow_http = true;
                c.media.s3_access_key_id = Some("confide-test".into());
                c.media.s3_secret_access_key = Some("confide-test-secret".to_string().into());
            }
        })
        .await
        .unwrap()
    }

    /// Every stored object, raw (sealed) as the storage holds it: the files under the media
    /// directory, or every object of the bucket.
    pub(crate) async fn raw_objects(&self, app: &TestApp) -> Vec<(String, Vec<u8>)> {
        match self {
            Backend::Local => {
                let mut out = Vec::new();
                let mut dirs = vec![app.media_dir()];
                while let Some(d) = dirs.pop() {
                    let Ok(entries) = std::fs::read_dir(&d) else {
                        continue;
                    };
                    for e in entries {
                        let p = e.unwrap().path();
                        if p.is_dir() {
                            dirs.push(p);
                        } else {
                            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
                        }
                    }
                }
                out
            }
            Backend::S3 { endpoint, bucket } => {
                use futures_util::StreamExt;
                use object_store::{ObjectStore, ObjectStoreExt};
                let s3 = s3_client(endpoint, bucket);
                let mut out = Vec::new();
                let mut list = s3.list(None);
                while let Some(meta) = list.next().await {
                    let meta = meta.unwrap();
                    let bytes = s3.get(&meta.location).await.unwrap().bytes().await.unwrap();
                    out.push((meta.location.to_string(), bytes.to_vec()));
                }
                out
            }
        }
    }

    /// Replaces a stored object's raw bytes (to tamper with it).
    pub(crate) async fn overwrite(&self, app: &TestApp, key: &str, bytes: Vec<u8>) {
        match self {
            Backend::Local => std::fs::write(app.media_dir().join(key), bytes).unwrap(),
            Backend::S3 { endpoint, bucket } => {
                use object_store::ObjectStoreExt;
                let path = object_store::path::Path::from(format!("media/{key}"));
                s3_client(endpoint, bucket)
                    .put(&path, bytes.into())
                    .await
                    .unwrap();
            }
        }
    }
}

/// The test's own (credentialed) client of the bucket, to see what the storage holds.
fn s3_client(endpoint: &str, bucket: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_access_key_id("confide-test")
        .with_secret_access_key("confide-test-secret")
        .build()
        .unwrap()
}

/// A `multipart/form-data` body with one `file` part.
pub(crate) fn multipart(name: &str, declared: Option<&str>, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "confide-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
    )
    .into_bytes();
    if let Some(t) = declared {
        body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `POST /api/v1/media` with an API key: the status and the JSON answer.
pub(crate) async fn upload(
    app: &TestApp,
    key: &str,
    name: &str,
    declared: Option<&str>,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let (content_type, body) = multipart(name, declared, bytes);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/media")
        .header(header::HOST, "confide.test")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    let r = app.request(app.ip, req).await;
    (r.status, r.body)
}

/// A raw fetch of a link path (`/m/...`): status, headers and the body bytes (`None` when the
/// body failed mid-way, as a tampered object does).
pub(crate) async fn fetch(
    app: &TestApp,
    method: Method,
    path: &str,
    range: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Option<Vec<u8>>) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "confide.test");
    if let Some(r) = range {
        req = req.header(header::RANGE, r);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(SocketAddr::from((
            [198, 51, 100, 7],
            40_000,
        ))));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .ok()
        .map(|b| b.to_bytes().to_vec());
    (status, headers, body)
}

/// The path of a link URL.
pub(crate) fn path_of(url: &str) -> String {
    let i = url.find("/m/").expect("a /m/ link");
    url[i..].to_string()
}

/// A link for a media id, asked for by `auth`.
pub(crate) async fn link(app: &TestApp, auth: &Auth, id: &str) -> String {
    let v = app.get_ok(auth, &format!("/api/v1/media/{id}/link")).await;
    assert!(v["expires_at"].as_str().is_some(), "{v}");
    path_of(v["url"].as_str().unwrap())
}

/// A PNG's signature followed by `len` bytes of filler.
pub(crate) fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend((0..len).map(|i| (i % 251) as u8));
    b
}

/// An MP4 (`ftyp isom`) of about `len` bytes.
pub(crate) fn mp4(len: usize) -> Vec<u8> {
    let mut b = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    b.extend((0..len).map(|i| (i * 7 % 253) as u8));
    b
}

async fn tenant_with_key(app: &TestApp, name: &str) -> (Tenant, String) {
    let t = app.tenant(name).await;
    let (_, key) = app.api_key(&t, "agent").await;
    (t, key)
}

// ---- scenarios, each run on every backend ----

pub(crate) async fn uploads_are_typed_by_content_and_refused_plainly(backend: Backend) {
    let app = backend.app().await;
    let (_, key) = tenant_with_key(&app, "Acme").await;

    let (s, v) = upload(&app, &key, "photo.png", Some("image/png"), &png(2000)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (
            v["kind"].as_str(),
            v["content_type"].as_str(),
            v["byte_size"].as_i64()
        ),
        (Some("image"), Some("image/png"), Some(2016))
    );
    assert_eq!(v["file_name"], "photo.png");
    let (s, v) = upload(&app, &key, "terms.pdf", None, b"%PDF-1.7\n1 0 obj\n").await;
    assert_eq!(
        (s, v["kind"].as_str()),
        (StatusCode::CREATED, Some("document"))
    );

    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, StatusCode, &'a str);
    let cases: [Case<'_>; 5] = [
        // A PNG renamed .pdf.
        (
            "invoice.pdf",
            None,
            png(100),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media_type_mismatch",
        ),
        // A PDF declared as an image.
        (
            "scan",
            Some("image/png"),
            b"%PDF-1.4\n".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media_type_mismatch",
        ),
        // HTML, whatever it is called.
        (
            "page.txt",
            Some("text/plain"),
            b"<!DOCTYPE html><script>alert(1)</script>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        // An image over WhatsApp's 5 MB.
        (
            "big.png",
            Some("image/png"),
            png(5 * 1024 * 1024),
            StatusCode::PAYLOAD_TOO_LARGE,
            "media_too_large",
        ),
        // Nothing at all.
        (
            "empty.txt",
            None,
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_media",
        ),
    ];
    for (name, declared, bytes, status, code) in cases {
        let (s, v) = upload(&app, &key, name, declared, &bytes).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{name}: {v}"
        );
        assert!(v["error"]["message"].as_str().unwrap().len() > 10);
    }
    // Only the two accepted files reached storage: refused uploads leave nothing behind.
    assert_eq!(backend.raw_objects(&app).await.len(), 2);
    app.finish().await;
}

pub(crate) async fn stored_bytes_are_sealed_and_a_tampered_object_does_not_open(backend: Backend) {
    let app = backend.app().await;
    let (t, key) = tenant_with_key(&app, "Acme").await;
    let marker = format!("CONFIDE-MARKER-{}", uuid::Uuid::new_v4().simple());
    // Three chunks and a bit of text, the marker in each chunk.
    let text: String =
        std::iter::repeat_n(format!("{marker} is a customer's secret.\n"), 5_000).collect();
    let (s, v) = upload(&app, &key, "notes.txt", Some("text/plain"), text.as_bytes()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();

    // The marker is nowhere in storage; neither is the file name.
    let objects = backend.raw_objects(&app).await;
    assert_eq!(objects.len(), 1);
    for (name, bytes) in &objects {
        assert!(
            !name.contains("notes"),
            "object keys are ids, not names: {name}"
        );
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{name} holds the marker in clear"
        );
    }
    // The link gives the exact bytes back.
    let path = link(&app, &t.members["agent"].auth, &id).await;
    let (s, _, body) = fetch(&app, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.as_deref(), Some(text.as_bytes()));

    // Swap the first two sealed chunks in storage: the object no longer opens.
    let (name, sealed) = objects[0].clone();
    let key_in_store = storage_key(&backend, &app, &name);
    let header = confide_crypto::media::HEADER_LEN;
    let chunk = confide_crypto::media::SEALED_CHUNK;
    let mut swapped = sealed[..header].to_vec();
    swapped.extend_from_slice(&sealed[header + chunk..header + 2 * chunk]);
    swapped.extend_from_slice(&sealed[header..header + chunk]);
    swapped.extend_from_slice(&sealed[header + 2 * chunk..]);
    backend.overwrite(&app, &key_in_store, swapped).await;
    let path = link(&app, &t.members["agent"].auth, &id).await;
    let (_, _, body) = fetch(&app, Method::GET, &path, None).await;
    assert_ne!(
        body.as_deref(),
        Some(text.as_bytes()),
        "a swapped chunk must not open"
    );
    assert!(
        body.is_none(),
        "the body fails instead of serving altered bytes"
    );

    // Drop the second chunk: it fails too.
    let mut dropped = sealed[..header + chunk].to_vec();
    dropped.extend_from_slice(&sealed[header + 2 * chunk..]);
    backend.overwrite(&app, &key_in_store, dropped).await;
    let path = link(&app, &t.members["agent"].auth, &id).await;
    let (_, _, body) = fetch(&app, Method::GET, &path, None).await;
    assert!(body.is_none(), "a dropped chunk must not open");
    app.finish().await;
}

/// The object's key as the media store names it (relative to the store's root).
fn storage_key(backend: &Backend, app: &TestApp, raw_name: &str) -> String {
    match backend {
        Backend::Local => std::path::Path::new(raw_name)
            .strip_prefix(app.media_dir())
            .unwrap()
            .display()
            .to_string(),
        Backend::S3 { .. } => raw_name.trim_start_matches("media/").to_string(),
    }
}

pub(crate) async fn links_serve_exact_bytes_once_valid_and_nothing_otherwise(backend: Backend) {
    let app = backend.app().await;
    let (a, key) = tenant_with_key(&app, "Acme").await;
    let (b, _) = tenant_with_key(&app, "Bravo").await;
    let bytes = png(70_000);
    let (_, v) = upload(&app, &key, "photo.png", None, &bytes).await;
    let id = v["id"].as_str().unwrap().to_string();
    let agent = &a.members["agent"].auth;

    // A valid link: the exact bytes, privately, shown inline (an image).
    let path = link(&app, agent, &id).await;
    let (s, h, body) = fetch(&app, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.as_deref(), Some(bytes.as_slice()));
    assert_eq!(h[header::CONTENT_TYPE], "image/png");
    assert_eq!(h[header::CACHE_CONTROL], "private, no-store");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        h[header::CONTENT_DISPOSITION],
        "inline; filename*=UTF-8''photo.png"
    );
    // A reusable link still works until it expires.
    assert_eq!(
        fetch(&app, Method::GET, &path, None).await.0,
        StatusCode::OK
    );

    // Tampered: one character of the token changed.
    let mut tampered = path.clone().into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    // Another method; path traversal; garbage.
    for (method, p) in [
        (Method::GET, tampered.as_str()),
        (Method::POST, path.as_str()),
        (Method::DELETE, path.as_str()),
        (Method::GET, "/m/..%2F..%2Fetc%2Fpasswd"),
        (Method::GET, "/m/%2e%2e%2fapi%2fv1%2fme"),
        (Method::GET, "/m/AAAA"),
    ] {
        let (s, _, body) = fetch(&app, method.clone(), p, None).await;
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
            "{method} {p}: {s}"
        );
        let body = body.unwrap_or_default();
        assert!(
            !body.windows(16).any(|w| w == &bytes[..16]),
            "no bytes for {p}"
        );
    }
    // Another tenant cannot even ask for a link to it.
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/media/{id}/link"),
            &b.members["agent"].auth,
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));

    // Expired: five minutes later the same link is refused.
    app.clock.advance(time::Duration::seconds(301));
    let (s, _, body) = fetch(&app, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        !body
            .unwrap_or_default()
            .windows(16)
            .any(|w| w == &bytes[..16])
    );

    // Single-use (as handed to Meta): two concurrent fetches, the bytes exactly once.
    let tenant = a.id;
    let media_id = id.parse().unwrap();
    let single = app
        .state
        .media_links
        .sign(tenant, media_id, true, false)
        .unwrap();
    let p = path_of(&single.url);
    let (r1, r2) = tokio::join!(
        fetch(&app, Method::GET, &p, None),
        fetch(&app, Method::GET, &p, None)
    );
    let served: Vec<_> = [&r1, &r2]
        .into_iter()
        .filter(|r| r.0 == StatusCode::OK)
        .collect();
    assert_eq!(served.len(), 1, "one fetch wins: {} and {}", r1.0, r2.0);
    assert_eq!(served[0].2.as_deref(), Some(bytes.as_slice()));
    assert_eq!(
        served[0].1[header::CONTENT_DISPOSITION],
        "attachment; filename*=UTF-8''photo.png"
    );
    let loser = if r1.0 == StatusCode::OK { &r2 } else { &r1 };
    assert_eq!(loser.0, StatusCode::FORBIDDEN);
    // And reused later: still refused.
    assert_eq!(
        fetch(&app, Method::GET, &p, None).await.0,
        StatusCode::FORBIDDEN
    );
    app.finish().await;
}

pub(crate) async fn ranges_serve_the_asked_bytes_for_players(backend: Backend) {
    let app = backend.app().await;
    let (t, key) = tenant_with_key(&app, "Acme").await;
    let video = mp4(300_000);
    let (s, v) = upload(&app, &key, "clip.mp4", Some("video/mp4"), &video).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let path = link(&app, &t.members["agent"].auth, &id).await;
    // Across a chunk boundary (64 KiB), open-ended, and a suffix.
    for (range, from, to) in [
        ("bytes=65000-70000", 65_000usize, 70_001usize),
        ("bytes=200000-", 200_000, video.len()),
        ("bytes=-100", video.len() - 100, video.len()),
    ] {
        let (s, h, body) = fetch(&app, Method::GET, &path, Some(range)).await;
        assert_eq!(s, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(body.as_deref(), Some(&video[from..to]), "{range}");
        assert_eq!(
            h[header::CONTENT_RANGE].to_str().unwrap(),
            format!("bytes {from}-{}/{}", to - 1, video.len())
        );
        assert_eq!(
            h[header::CONTENT_DISPOSITION],
            "attachment; filename*=UTF-8''clip.mp4"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn uploads_are_typed_by_content_and_refused_plainly_on_disk() {
    uploads_are_typed_by_content_and_refused_plainly(Backend::Local).await;
}

#[tokio::test]
async fn stored_bytes_are_sealed_and_a_tampered_object_does_not_open_on_disk() {
    stored_bytes_are_sealed_and_a_tampered_object_does_not_open(Backend::Local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_serve_exact_bytes_once_valid_and_nothing_otherwise_on_disk() {
    links_serve_exact_bytes_once_valid_and_nothing_otherwise(Backend::Local).await;
}

#[tokio::test]
async fn ranges_serve_the_asked_bytes_for_players_on_disk() {
    ranges_serve_the_asked_bytes_for_players(Backend::Local).await;
}

pub(crate) async fn usage_deletion_and_the_orphan_sweep(backend: Backend) {
    use confide_core::clock::Clock;
    let app = backend.app().await;
    let (t, key) = tenant_with_key(&app, "Acme").await;
    let (_, a) = upload(&app, &key, "a.png", None, &png(1000)).await;
    let (_, b) = upload(&app, &key, "b.pdf", None, b"%PDF-1.7\nsmall").await;
    let usage = app.get_ok(&t.owner.auth, "/api/v1/media/usage").await;
    assert_eq!(usage["objects"], 2);
    assert_eq!(
        usage["bytes"],
        a["byte_size"].as_i64().unwrap() + b["byte_size"].as_i64().unwrap()
    );

    // Deleting an object takes its row and its bytes.
    let gone: confide_core::ids::MediaId = a["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.state.delete_media(t.id, &[gone]).await.unwrap(), 1);
    assert_eq!(
        app.get_ok(&t.owner.auth, "/api/v1/media/usage").await["objects"],
        1
    );
    assert_eq!(backend.raw_objects(&app).await.len(), 1);

    // Bytes with no row (a crash between the two writes): swept once old enough, and only they.
    let orphan =
        confide_core::ids::MediaId::new(app.clock.as_ref(), &confide_core::entropy::OsEntropy);
    let keys = app.state.operator_store().media_keys(t.id).await.unwrap();
    app.state
        .media
        .put_all(
            &confide_app::media::store::MediaStore::storage_key(t.id, orphan),
            keys.sealer(orphan).unwrap(),
            b"left behind",
        )
        .await
        .unwrap();
    assert_eq!(backend.raw_objects(&app).await.len(), 2);
    let now = confide_core::clock::SystemClock.now();
    app.clock.set(now);
    assert_eq!(
        app.state.sweep_orphaned_media().await.unwrap(),
        0,
        "too young to sweep"
    );
    app.clock.set(now + time::Duration::hours(2));
    assert_eq!(app.state.sweep_orphaned_media().await.unwrap(), 1);
    let left = backend.raw_objects(&app).await;
    assert_eq!(left.len(), 1);
    assert!(
        left[0].0.contains(b["id"].as_str().unwrap()),
        "the recorded object stays"
    );
    app.finish().await;
}

#[tokio::test]
async fn usage_deletion_and_the_orphan_sweep_on_disk() {
    usage_deletion_and_the_orphan_sweep(Backend::Local).await;
}
