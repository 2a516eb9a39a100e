//! The export benchmark (issue 14): on the big tenant, the full tenant export through the API
//! (`POST /api/v1/exports`, polled with `GET /api/v1/exports/{id}` until `ready`, then the zip
//! downloaded from its signed link), as an API client does it. Reports the wall time from the
//! request to the last byte of the zip (budget < 60 s for 100,000 contacts and 1,000,000
//! messages) and how much the server's resident memory grew meanwhile (sampled from /proc every
//! 20 ms; budget < 64 MB).

use crate::bigtenant::{self, TenantArgs};
use crate::procstat;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    tenant: TenantArgs,
    /// Keep the zip at this path (default: counted and thrown away).
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
}

const BUDGET_SECONDS: f64 = 60.0;
const BUDGET_MB: f64 = 64.0;

/// The largest VmRSS seen, in KiB, until `stop`.
fn watch_rss(pid: u32, stop: Arc<AtomicBool>, peak: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if let Some((rss, _)) = procstat::rss_mib(pid) {
                peak.fetch_max((rss * 1024.0) as u64, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// The path (and query) of a download link, absolute or relative to the public URL.
fn link_path(link: &str) -> String {
    match link.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map(|i| rest[i..].to_string())
            .unwrap_or_else(|| "/".into()),
        None if link.starts_with('/') => link.to_string(),
        None => format!("/{link}"),
    }
}

pub async fn run(args: Args) -> Result<(), String> {
    let t = bigtenant::prepare(&args.tenant).await?;
    let server = t.serve(&[])?;
    let pid = server.child.id();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| e.to_string())?;
    let auth = format!("Bearer {}", t.str("api_key"));
    // A first request so the server is warm (pools, caches) before the baseline is taken.
    let _ = client
        .get(format!("{base}/api/v1/conversations?limit=1"))
        .header("authorization", &auth)
        .send()
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss0, hwm0) = procstat::rss_mib(pid).ok_or("cannot read the server's memory")?;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new((rss0 * 1024.0) as u64));
    let watcher = watch_rss(pid, stop.clone(), peak.clone());

    println!(
        "export: {} contacts, {} messages, {} conversations on {}; server RSS before {:.1} MiB",
        t.meta["contacts"],
        t.meta["messages"],
        t.meta["conversations"],
        t.str("engine"),
        rss0
    );
    let started = Instant::now();
    let r = client
        .post(format!("{base}/api/v1/exports"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(json!({}).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let job: Value = r.json().await.unwrap_or_default();
    if status.as_u16() == 404 || status.as_u16() == 405 {
        stop.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        return Err(format!(
            "POST /api/v1/exports answers {status}: the tenant export is not on this server"
        ));
    }
    if !status.is_success() {
        stop.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        return Err(format!("POST /api/v1/exports: {status} {job}"));
    }
    let id = job["id"]
        .as_str()
        .ok_or("the export job has no id")?
        .to_string();
    let mut last_print = Instant::now();
    let ready = loop {
        let r = client
            .get(format!("{base}/api/v1/exports/{id}"))
            .header("authorization", &auth)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let v: Value = r.json().await.unwrap_or_default();
        match v["status"].as_str() {
            Some("ready") => break v,
            Some("failed") => return Err(format!("the export failed: {v}")),
            Some(_) => {}
            None => return Err(format!("GET /api/v1/exports/{id}: {v}")),
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            last_print = Instant::now();
            eprintln!(
                "  {:>5.1} s: {} ({} of {})",
                started.elapsed().as_secs_f64(),
                v["status"],
                v["progress"]["done"],
                v["progress"]["total"]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let built = started.elapsed().as_secs_f64();
    let link = ready["download_url"]
        .as_str()
        .ok_or("a ready export has no download_url")?;
    let mut r = client
        .get(format!("{base}{}", link_path(link)))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("downloading the export: {}", r.status()));
    }
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut file = match &args.keep {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let (mut bytes, mut head) = (0usize, Vec::new());
    while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
        if head.len() < 4 {
            head.extend_from_slice(&chunk[..chunk.len().min(4)]);
        }
        bytes += chunk.len();
        if let Some(f) = file.as_mut() {
            f.write_all(&chunk).map_err(|e| e.to_string())?;
        }
    }
    let total = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let (_, hwm1) = procstat::rss_mib(pid).unwrap_or((0.0, 0.0));
    server.stop()?;
    let peak_mib = peak.load(Ordering::Relaxed) as f64 / 1024.0;
    let growth_mb = (peak_mib - rss0) * 1.048_576;
    println!(
        "export: ready after {built:.1} s, downloaded after {total:.1} s: {:.1} MiB ({content_type}{})",
        bytes as f64 / 1048576.0,
        if head.starts_with(b"PK") {
            ", a zip"
        } else {
            ", NOT a zip"
        }
    );
    println!(
        "server RSS: before {rss0:.1} MiB, peak {peak_mib:.1} MiB: grew {growth_mb:.1} MB (peak RSS since start {hwm0:.1} → {hwm1:.1} MiB)"
    );
    let ok = total < BUDGET_SECONDS && growth_mb < BUDGET_MB && head.starts_with(b"PK");
    println!(
        "budget < {BUDGET_SECONDS} s and RSS growth < {BUDGET_MB} MB: {}",
        if ok { "met" } else { "MISSED" }
    );
    Ok(())
}
