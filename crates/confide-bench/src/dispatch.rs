//! The dispatcher benchmark (issue 10): a `confide serve` process and meta-sim (in this process,
//! over loopback, enforcing the number's throughput and the pair rate as Meta does), one channel
//! paced at `--throughput`, a broadcast of `--sends` template messages to as many opted-in
//! contacts, and, half-way through, a conversation reply queued by the API.
//!
//! Prints: the rate at which the template sends reached meta-sim (first to last) against the
//! configured one, the largest number in any one second, meta-sim's refusals by code (130429:
//! throughput, 131056: pair rate; both must be zero), and how long the reply took from its
//! enqueue (the API's 202) to meta-sim's receipt (it must overtake the broadcast: under 1 s).

use crate::ingest::Server;
use confide_core::clock::{Clock, SystemClock};
use confide_core::entropy::OsEntropy;
use confide_crypto::keyring::Keyring;
use confide_store::scratch::ScratchDatabase;
use meta_sim::{
    NumberConfig, Sim, SimConfig, TemplateCategory, TemplateConfig, TemplateStatus, UserConfig,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PNID: &str = "106540352242922";
const WABA: &str = "102290129340398";
const TOKEN: &str = "bench-token";
const SECRET: &str = "bench-app-secret";
const REPLIER: &str = "US.replier";
const REPLIER_PHONE: &str = "14155550100";

#[derive(clap::Args)]
pub struct Args {
    /// Template sends in the broadcast (one per contact).
    #[arg(long, default_value_t = 10_000)]
    sends: usize,
    /// The channel's throughput (messages per second; Confide's pace and meta-sim's limit).
    #[arg(long, default_value_t = 80)]
    throughput: u32,
    /// Run against PostgreSQL: a server URL whose user may create databases (a fresh database is
    /// created and dropped).
    #[arg(long)]
    postgres: Option<String>,
    /// The `confide` binary (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

/// Distinct valid numbers for up to 10,000 recipients (more reuse the area code 651).
fn phone(i: usize) -> String {
    format!("1{}555{:04}", 650 + i / 10_000, i % 10_000)
}

/// Wall-clock Unix microseconds (meta-sim records its receipts on the same clock).
fn now_micros() -> i64 {
    SystemClock.now_micros()
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn call(
        &self,
        post: bool,
        path: &str,
        body: Option<(&str, String)>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let mut req = if post {
            self.http.post(url)
        } else {
            self.http.get(url)
        }
        .header("authorization", format!("Bearer {}", self.key));
        if let Some((content_type, body)) = body {
            req = req.header("content-type", content_type).body(body);
        }
        let res = req.send().await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(|e| e.to_string())?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn expect(
        &self,
        post: bool,
        path: &str,
        body: Option<(&str, String)>,
        want: u16,
    ) -> Result<Value, String> {
        let (status, v) = self.call(post, path, body).await?;
        if status != want {
            return Err(format!("{path}: {status} {v}"));
        }
        Ok(v)
    }
}

/// Runs `confide <args>` with the benchmark's database and keyring; its JSON output.
fn cli(
    bin: &PathBuf,
    dir: &std::path::Path,
    url: &str,
    keyring: &str,
    args: &[&str],
) -> Result<Value, String> {
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("CONFIDE_DATABASE_URL", url)
        .env("CONFIDE_KEYRING", keyring)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "confide {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

pub async fn run(args: Args) -> Result<(), String> {
    let server_bin = crate::ingest::server_bin(args.server_bin)?;
    if !(1..=1_000).contains(&args.throughput) {
        return Err("--throughput: 1 to 1000".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let keyring = Keyring::generate(&SystemClock, &OsEntropy)
        .to_json()
        .map_err(|e| e.to_string())?
        .to_string();
    let (url, pg) = match &args.postgres {
        Some(admin) => {
            let db = ScratchDatabase::create(admin, "confide_bench")
                .await
                .map_err(|e| format!("cannot create the benchmark database: {e}"))?;
            (db.url.clone(), Some(db))
        }
        None => (
            format!("sqlite://{}/confide.db", dir.path().display()),
            None,
        ),
    };

    // meta-sim: the number at the benchmark's throughput, every recipient known.
    let mut config = SimConfig {
        seed: 21,
        numbers: vec![
            NumberConfig::new(PNID, "15550783881", WABA, TOKEN, SECRET)
                .with_throughput(args.throughput),
        ],
        log_limit: Some(4 * args.sends + 10_000),
        ..SimConfig::default()
    };
    config
        .users
        .push(UserConfig::with_phone(REPLIER, "Replier", REPLIER_PHONE));
    for i in 0..args.sends {
        config.users.push(UserConfig::with_phone(
            format!("US.{i}"),
            format!("Customer {i}"),
            phone(i),
        ));
    }
    config.templates.push(TemplateConfig::new(
        WABA,
        "bench_promo",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
        "This week: {{1}} off.",
    ));
    let sim = Sim::start(config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;

    let tenant = cli(
        &server_bin,
        dir.path(),
        &url,
        &keyring,
        &[
            "tenant",
            "create",
            "--name",
            "Bench",
            "--owner-email",
            "bench@example.com",
            "--json",
        ],
    )?;
    let tenant = tenant["tenant_id"]
        .as_str()
        .ok_or("no tenant id")?
        .to_string();
    let key = cli(
        &server_bin,
        dir.path(),
        &url,
        &keyring,
        &[
            "api-key", "create", "--tenant", &tenant, "--role", "owner", "--name", "bench",
            "--json",
        ],
    )?;
    let key = key["key"].as_str().ok_or("no key")?.to_string();

    let mut cmd = Command::new(&server_bin);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
    ])
    .current_dir(dir.path())
    .env("CONFIDE_DATABASE_URL", &url)
    .env("CONFIDE_KEYRING", &keyring)
    .env(
        "CONFIDE_GRAPH_ALLOWED_ORIGINS",
        format!("https://graph.facebook.com,{}", sim.base_url()),
    )
    .env(
        "CONFIDE_OUTBOUND__THROUGHPUT_PER_SECOND",
        args.throughput.to_string(),
    )
    .env("CONFIDE_RATE_LIMITS__API_PER_ADDRESS", "0")
    .env("CONFIDE_LOG__FORMAT", "json")
    .env("CONFIDE_LOG__LEVEL", "confide=info,warn");
    let server = Server::spawn(cmd)?;
    let api = Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| e.to_string())?,
        base: format!("http://{}", server.addr),
        key,
    };

    // The channel (status webhooks come back to it), its template, the contacts.
    let channel = api
        .expect(
            true,
            "/api/v1/channels",
            Some((
                "application/json",
                json!({
                    "phone_number_id": PNID, "waba_id": WABA, "display_phone_number": "15550783881",
                    "access_token": TOKEN, "app_secret": SECRET, "verify_token": "verify",
                    "graph_base_url": sim.base_url(),
                })
                .to_string(),
            )),
            201,
        )
        .await?;
    let channel_id = channel["id"].as_str().ok_or("no channel id")?.to_string();
    let callback = format!("{}/webhooks/whatsapp/{channel_id}", api.base);
    sim.set_callback_url(PNID, Some(&callback))
        .map_err(|e| e.to_string())?;
    api.expect(true, "/api/v1/templates/sync", None, 200)
        .await?;
    eprintln!("importing {} contacts …", args.sends);
    let mut csv = String::from("phone,name,labels,consent,consent_purpose\n");
    for i in 0..args.sends {
        csv.push_str(&format!(
            "+{},Customer {i},bench,opted_in,marketing\n",
            phone(i)
        ));
    }
    api.expect(
        true,
        "/api/v1/contacts/import",
        Some(("text/csv", csv)),
        200,
    )
    .await?;

    // The replier writes first, so a free-form reply may go (inside the window).
    sim.customer_sends(REPLIER, PNID, "Is my order on its way?")
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let conversation = loop {
        let list = api
            .expect(false, "/api/v1/conversations", None, 200)
            .await?;
        if let Some(id) = list["conversations"][0]["id"].as_str() {
            break id.to_string();
        }
        if Instant::now() > deadline {
            return Err("the replier's message never arrived".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    println!(
        "dispatch: {} template sends (a broadcast) on one channel at {}/s, {}; a reply queued half-way",
        args.sends,
        args.throughput,
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let started = Instant::now();
    api.expect(
        true,
        "/api/v1/broadcasts",
        Some((
            "application/json",
            json!({
                "channel_id": channel_id, "template": "bench_promo", "language": "en_US",
                "params": ["20%"], "audience": {"label": "bench"}, "purpose": "marketing",
            })
            .to_string(),
        )),
        202,
    )
    .await?;
    eprintln!(
        "broadcast queued in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let templates_sent = |sim: &meta_sim::SimHandle| {
        sim.sent_messages()
            .iter()
            .filter(|m| m.kind == "template")
            .count()
    };
    let expected = Duration::from_secs_f64(args.sends as f64 / f64::from(args.throughput));
    let deadline = Instant::now() + expected * 2 + Duration::from_secs(120);
    while templates_sent(&sim) < args.sends / 2 {
        if Instant::now() > deadline {
            return Err("the broadcast stalled".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let enqueued_at = now_micros();
    api.expect(
        true,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some((
            "application/json",
            json!({"type": "text", "text": "Yes, it left this morning."}).to_string(),
        )),
        202,
    )
    .await?;
    while templates_sent(&sim) < args.sends {
        if Instant::now() > deadline {
            return Err(format!(
                "the broadcast did not finish: {} of {} sent",
                templates_sent(&sim),
                args.sends
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop()?;

    let sent = sim.sent_messages();
    let mut at: Vec<i64> = sent
        .iter()
        .filter(|m| m.kind == "template")
        .map(|m| confide_core::clock::to_micros(m.at))
        .collect();
    at.sort_unstable();
    let reply = sent
        .iter()
        .find(|m| m.kind == "text" && m.wa_id.as_deref() == Some(REPLIER_PHONE));
    let (first, last) = (
        at.first().copied().unwrap_or(0),
        at.last().copied().unwrap_or(0),
    );
    let seconds = (last - first) as f64 / 1e6;
    let rate = if seconds > 0.0 {
        (at.len() - 1) as f64 / seconds
    } else {
        0.0
    };
    let deviation = (rate - f64::from(args.throughput)) / f64::from(args.throughput) * 100.0;
    let mut per_second: BTreeMap<i64, usize> = BTreeMap::new();
    for t in &at {
        *per_second.entry((t - first) / 1_000_000).or_default() += 1;
    }
    let busiest = per_second.values().copied().max().unwrap_or(0);
    let mut refused: BTreeMap<i64, usize> = BTreeMap::new();
    for r in sim.rejected_requests() {
        *refused.entry(r.code).or_default() += 1;
    }
    let throughput_refusals = refused.get(&130_429).copied().unwrap_or(0);
    let pair_refusals = refused.get(&131_056).copied().unwrap_or(0);

    println!(
        "  template sends: {} in {:.2} s = {:.1}/s (configured {}/s, {:+.2}%: {})",
        at.len(),
        seconds,
        rate,
        args.throughput,
        deviation,
        if deviation.abs() <= 2.0 {
            "within 2%"
        } else {
            "NOT within 2%"
        }
    );
    println!("  busiest second: {busiest} sends");
    println!(
        "  meta-sim refusals: 130429 (throughput) {throughput_refusals}, 131056 (pair rate) {pair_refusals}, all {refused:?}"
    );
    match reply {
        Some(r) => {
            let latency = (confide_core::clock::to_micros(r.at) - enqueued_at) as f64 / 1e3;
            println!(
                "  reply queued during the broadcast reached meta-sim {latency:.1} ms after its enqueue ({})",
                if latency < 1_000.0 {
                    "under 1 s"
                } else {
                    "NOT under 1 s"
                }
            );
        }
        None => println!("  the reply never reached meta-sim"),
    }
    sim.shutdown().await;
    if let Some(db) = pg {
        db.remove().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
