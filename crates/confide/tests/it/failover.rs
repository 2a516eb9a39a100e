//! Two `confide serve` processes on one PostgreSQL database dispatch one channel's queue (issue
//! 10): the one holding the channel's lease is killed with SIGKILL mid-broadcast; the other takes
//! the lease over once it expires and sends the rest. Every message reaches meta-sim exactly
//! once, or — where the kill fell between the hand-over to Graph and its record — is marked
//! `needs_review` (and reached meta-sim at most once): never silently twice, never lost.

use confide_core::clock::SystemClock;
use confide_crypto::keyring::Keyring;
use confide_store::scratch::ScratchDatabase;
use meta_sim::{
    NumberConfig, Sim, SimConfig, TemplateCategory, TemplateConfig, TemplateStatus, UserConfig,
};
use serde_json::{Value, json};
use sqlx::ConnectOptions;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PNID: &str = "106540352242922";
const WABA: &str = "102290129340398";
const TOKEN: &str = "failover-token";
const RECIPIENTS: usize = 240;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    /// A failing test does not leave its server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `confide serve` on the database, its Graph origin allowed, paced at `throughput`.
fn serve(dir: &std::path::Path, url: &str, keyring: &str, sim: &str, throughput: u32) -> Server {
    let mut child = crate::confide(dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .env("CONFIDE_DATABASE_URL", url)
        .env("CONFIDE_KEYRING", keyring)
        .env(
            "CONFIDE_GRAPH_ALLOWED_ORIGINS",
            format!("https://graph.facebook.com,{sim}"),
        )
        .env(
            "CONFIDE_OUTBOUND__THROUGHPUT_PER_SECOND",
            throughput.to_string(),
        )
        .env("CONFIDE_LOG__LEVEL", "confide=info,warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before it was ready")
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(a) = v["public"].as_str() {
            break a.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

async fn call(
    http: &reqwest::Client,
    key: &str,
    method: &str,
    url: String,
    body: Option<(&str, String)>,
) -> (u16, Value) {
    let mut req = match method {
        "GET" => http.get(&url),
        _ => http.post(&url),
    }
    .header("authorization", format!("Bearer {key}"));
    if let Some((content_type, body)) = body {
        req = req.header("content-type", content_type).body(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn phone(i: usize) -> String {
    format!("1650555{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dispatcher_s_channel_moves_to_the_other_instance_and_nothing_is_sent_twice_or_lost_on_postgres()
 {
    let Ok(admin) = std::env::var("CONFIDE_TEST_POSTGRES_URL") else {
        eprintln!("skipped: set CONFIDE_TEST_POSTGRES_URL to run the PostgreSQL variant");
        return;
    };
    let db = ScratchDatabase::create(&admin, "confide_failover")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::generate(&SystemClock, &confide_core::entropy::OsEntropy)
        .to_json()
        .unwrap()
        .to_string();

    // meta-sim in this process, with every recipient known to it.
    let mut config = SimConfig {
        seed: 10,
        numbers: vec![NumberConfig::new(
            PNID,
            "15550783881",
            WABA,
            TOKEN,
            "secret",
        )],
        ..SimConfig::default()
    };
    for i in 0..RECIPIENTS {
        config.users.push(UserConfig::with_phone(
            format!("US.{i}"),
            format!("Customer {i}"),
            phone(i),
        ));
    }
    config.templates.push(TemplateConfig::new(
        WABA,
        "spring_sale",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
        "Spring sale: {{1}} off everything.",
    ));
    let sim = Sim::start(config, Arc::new(SystemClock)).await.unwrap();

    // A tenant and an owner's API key, from the CLI.
    let out = crate::run_ok(
        crate::confide(dir.path())
            .args([
                "tenant",
                "create",
                "--name",
                "Failover",
                "--owner-email",
                "owner@failover.test",
                "--json",
            ])
            .env("CONFIDE_DATABASE_URL", &db.url)
            .env("CONFIDE_KEYRING", &keyring),
    );
    let tenant: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tenant = tenant["tenant_id"].as_str().unwrap().to_string();
    let out = crate::run_ok(
        crate::confide(dir.path())
            .args([
                "api-key", "create", "--tenant", &tenant, "--role", "owner", "--name", "ops",
                "--json",
            ])
            .env("CONFIDE_DATABASE_URL", &db.url)
            .env("CONFIDE_KEYRING", &keyring),
    );
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = key["key"].as_str().unwrap().to_string();

    // Instance A: the channel, its templates, the contacts (opted in), the broadcast.
    let mut a = serve(dir.path(), &db.url, &keyring, sim.base_url(), 40);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let (status, channel) = call(
        &http,
        &key,
        "POST",
        format!("{}/api/v1/channels", a.base),
        Some((
            "application/json",
            json!({
                "phone_number_id": PNID, "waba_id": WABA, "display_phone_number": "15550783881",
                "access_token": TOKEN, "app_secret": "secret", "verify_token": "verify",
                "graph_base_url": sim.base_url(),
            })
            .to_string(),
        )),
    )
    .await;
    assert_eq!(status, 201, "{channel}");
    let (status, body) = call(
        &http,
        &key,
        "POST",
        format!("{}/api/v1/templates/sync", a.base),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut csv = String::from("phone,name,labels,consent,consent_purpose\n");
    for i in 0..RECIPIENTS {
        csv.push_str(&format!(
            "+{},Customer {i},promo,opted_in,marketing\n",
            phone(i)
        ));
    }
    let (status, body) = call(
        &http,
        &key,
        "POST",
        format!("{}/api/v1/contacts/import", a.base),
        Some(("text/csv", csv)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], RECIPIENTS, "{body}");
    let (status, body) = call(
        &http,
        &key,
        "POST",
        format!("{}/api/v1/broadcasts", a.base),
        Some((
            "application/json",
            json!({
                "channel_id": channel["id"], "template": "spring_sale", "language": "en_US",
                "params": ["20%"], "audience": {"label": "promo"}, "purpose": "marketing",
            })
            .to_string(),
        )),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["counts"]["queued"], RECIPIENTS, "{body}");

    // A is dispatching: B starts beside it (and cannot take the channel), then A is killed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.sent_messages().len() < 40 {
        assert!(Instant::now() < deadline, "A never started sending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut b = serve(dir.path(), &db.url, &keyring, sim.base_url(), 40);
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    let at_kill = sim.sent_messages().len();
    assert!(
        at_kill < RECIPIENTS,
        "the kill must land mid-run ({at_kill} sent)"
    );

    // B takes over once A's lease expires and finishes the queue.
    let mut conn = sqlx::any::AnyConnectOptions::from_str(&db.url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let statuses = loop {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM messages WHERE direction = 'outbound' GROUP BY status",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let statuses: HashMap<String, i64> = rows.into_iter().collect();
        if statuses.get("queued").copied().unwrap_or(0) == 0 {
            break statuses;
        }
        assert!(
            Instant::now() < deadline,
            "the queue never drained: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let sent_after_kill = sim.sent_messages().len() - at_kill;
    assert!(sent_after_kill > 0, "B sent the rest");

    // Never twice: each recipient reached meta-sim at most once.
    let sent = sim.sent_messages();
    let mut per_phone: HashMap<String, usize> = HashMap::new();
    for m in &sent {
        *per_phone
            .entry(m.wa_id.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let twice: Vec<_> = per_phone.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    // Never lost: every message is sent (its wamid reached meta-sim, once) or held for review.
    let review = statuses.get("needs_review").copied().unwrap_or(0);
    let recorded = statuses.get("sent").copied().unwrap_or(0);
    assert_eq!(
        recorded + review,
        i64::try_from(RECIPIENTS).unwrap(),
        "every message sent or held for review: {statuses:?}"
    );
    let wamids: Vec<(String,)> = sqlx::query_as(
        "SELECT wamid FROM messages WHERE direction = 'outbound' AND status = 'sent'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (w,) in &wamids {
        assert_eq!(
            sent.iter().filter(|m| &m.wamid == w).count(),
            1,
            "a recorded send reached meta-sim exactly once"
        );
    }
    // Those held for review went out at most once each: meta-sim saw no more than the recorded
    // sends plus them.
    let sent_n = i64::try_from(sent.len()).unwrap();
    assert!(
        sent_n >= recorded && sent_n <= recorded + review,
        "meta-sim got {sent_n}; recorded {recorded}, held for review {review}"
    );
    let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state = 'review'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(held, review, "the outbox holds them for review");
    eprintln!(
        "failover: {at_kill} sent by A before the kill, {sent_after_kill} by B after; {review} held for review"
    );

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status();
    b.child.wait().unwrap();
    drop(conn);
    db.remove().await.unwrap();
}
