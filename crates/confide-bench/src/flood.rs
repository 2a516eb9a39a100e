//! The overload benchmark (issue 13): single-message webhooks, a few at a time, while a sign-in
//! flood and API load hit the same `confide serve` process over loopback. Prints the webhooks'
//! latency (p50, p99, max) and how many were refused, and what the flood got (answers by status).
//!
//! The flood comes from one address (loopback). By default the per-address rate limits are
//! turned off, as for a flood spread over many addresses, so every sign-in reaches the password
//! hash and only load shedding stands between it and the webhooks; `--rate-limits` keeps them on.

use crate::ingest::Server;
use crate::load;
use confide_core::clock::SystemClock;
use confide_core::entropy::OsEntropy;
use confide_crypto::keyring::Keyring;
use meta_sim::payloads::{PayloadSpec, generate};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Single-message webhooks to send (each a new inbound message).
    #[arg(long, default_value_t = 5_000)]
    webhooks: usize,
    /// Concurrent webhook connections.
    #[arg(long, default_value_t = 4)]
    webhook_concurrency: usize,
    /// Concurrent sign-in flooders (wrong passwords, one known account).
    #[arg(long, default_value_t = 64)]
    sign_in_concurrency: usize,
    /// Concurrent API clients (unauthenticated reads and the OpenAPI document).
    #[arg(long, default_value_t = 32)]
    api_concurrency: usize,
    /// Keep the per-address rate limits on (the flood is then mostly answered 429).
    #[arg(long)]
    rate_limits: bool,
    /// The `confide` binary (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

/// Answers by status (0: no answer).
type Tally = Arc<Mutex<BTreeMap<u16, usize>>>;

/// Sends requests made by `make` in a loop until `stop`, counting answers by status.
async fn flood(
    concurrency: usize,
    stop: Arc<AtomicBool>,
    tally: Tally,
    make: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let make = Arc::new(make);
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, stop, tally, make) =
            (client.clone(), stop.clone(), tally.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let status = match make(&client, i).send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                if let Ok(mut t) = tally.lock() {
                    *t.entry(status).or_default() += 1;
                }
                i += concurrency;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn summary(name: &str, tally: &Tally, seconds: f64) {
    let t = tally.lock().map(|t| t.clone()).unwrap_or_default();
    let total: usize = t.values().sum();
    let by: Vec<String> = t.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!(
        "{name:>8}: {total} requests ({:.0}/s), answers {}",
        total as f64 / seconds,
        by.join(", ")
    );
}

pub async fn run(args: Args) -> Result<(), String> {
    let server_bin = crate::ingest::server_bin(args.server_bin)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let keyring = Keyring::generate(&SystemClock, &OsEntropy);
    let keyring_json = keyring.to_json().map_err(|e| e.to_string())?.to_string();
    let url = format!("sqlite://{}/confide.db", dir.path().display());
    let spec = PayloadSpec {
        seed: 13,
        customers: 2_000,
        changes: args.webhooks,
        max_batch: 1,
        ..PayloadSpec::default()
    };
    let (store, _tenant, channel) =
        crate::ingest::seed_channel(&url, keyring, "Flood", "flood@example.com", &spec).await?;
    store.close().await;
    let payloads = Arc::new(generate(spec));

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
    .env("CONFIDE_KEYRING", &keyring_json)
    .env("CONFIDE_LOG__FORMAT", "json")
    .env("CONFIDE_LOG__LEVEL", "confide=info,warn");
    if !args.rate_limits {
        // A flood spread over many addresses: no address reaches its own connection cap either
        // (every client of this bench shares 127.0.0.1).
        cmd.env("CONFIDE_RATE_LIMITS__SIGN_IN_PER_ADDRESS", "0")
            .env("CONFIDE_LIMITS__MAX_CONNECTIONS_PER_ADDRESS", "10000")
            .env("CONFIDE_RATE_LIMITS__API_PER_ADDRESS", "0")
            .env("CONFIDE_BANS__THRESHOLD", "0");
    }
    let server = Server::spawn(cmd)?;
    let base = format!("http://{}", server.addr);
    println!(
        "flood: {} single-message webhooks over {} connections, while {} sign-in flooders and {} API clients run (per-address rate limits {}), SQLite",
        payloads.len(),
        args.webhook_concurrency,
        args.sign_in_concurrency,
        args.api_concurrency,
        if args.rate_limits { "on" } else { "off" }
    );

    let stop = Arc::new(AtomicBool::new(false));
    let (sign_ins, api): (Tally, Tally) = Default::default();
    let login_url = format!("{base}/api/v1/session");
    let origin = base.clone();
    let sign_in_flood = tokio::spawn(flood(
        args.sign_in_concurrency,
        stop.clone(),
        sign_ins.clone(),
        move |c, i| {
            c.post(&login_url)
                .header("origin", &origin)
                .header("content-type", "application/json")
                .body(format!(
                    "{{\"email\":\"flood@example.com\",\"password\":\"wrong guess number {i}\"}}"
                ))
        },
    ));
    let api_base = base.clone();
    let api_load = tokio::spawn(flood(
        args.api_concurrency,
        stop.clone(),
        api.clone(),
        move |c, i| {
            let path = if i % 2 == 0 {
                "/api/v1/conversations"
            } else {
                "/api/v1/openapi.json"
            };
            c.get(format!("{api_base}{path}"))
        },
    ));
    // Let the flood build up, then send the webhooks through it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let webhooks = load::run(
        &format!("{base}/webhooks/whatsapp/{}", channel.id),
        payloads,
        args.webhook_concurrency,
    )
    .await?;
    let seconds = webhooks.elapsed.as_secs_f64() + 2.0;
    stop.store(true, Ordering::Relaxed);
    sign_in_flood.await.map_err(|e| e.to_string())??;
    api_load.await.map_err(|e| e.to_string())??;
    server.stop()?;

    println!(
        "webhooks: {} requests ({:.0}/s)  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  refused or failed {}",
        webhooks.requests,
        webhooks.requests_per_second(),
        webhooks.percentile(50.0),
        webhooks.percentile(99.0),
        webhooks.percentile(100.0),
        webhooks.failures
    );
    summary("sign-ins", &sign_ins, seconds);
    summary("api", &api, seconds);
    if webhooks.failures > 0 {
        return Err(format!(
            "{} webhooks were refused or failed",
            webhooks.failures
        ));
    }
    Ok(())
}
