//! The load generator: posts prepared, signed payloads with a fixed number of concurrent
//! connections and records every request's latency.

use meta_sim::payloads::SignedPayload;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct LoadResult {
    pub elapsed: Duration,
    pub requests: usize,
    pub changes: usize,
    pub failures: usize,
    pub latencies_ms: Vec<f64>,
}

impl LoadResult {
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let mut v = self.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[idx.min(v.len() - 1)]
    }

    pub fn changes_per_second(&self) -> f64 {
        self.changes as f64 / self.elapsed.as_secs_f64()
    }

    /// Requests answered per second (failures included).
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Posts every payload once to `url`, `concurrency` at a time.
pub async fn run(
    url: &str,
    payloads: Arc<Vec<SignedPayload>>,
    concurrency: usize,
) -> Result<LoadResult, String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let payloads = payloads.clone();
        let next = next.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut changes, mut failures) = (0usize, 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = payloads.get(i) else { break };
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", &p.signature)
                    .body(p.body.clone())
                    .send()
                    .await;
                let ok = match res {
                    Ok(r) => {
                        let ok = r.status().is_success();
                        let _ = r.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                if ok {
                    changes += p.changes;
                } else {
                    failures += 1;
                }
            }
            (lat, changes, failures)
        }));
    }
    let mut result = LoadResult {
        elapsed: Duration::ZERO,
        requests: 0,
        changes: 0,
        failures: 0,
        latencies_ms: Vec::new(),
    };
    for t in tasks {
        let (lat, changes, failures) = t.await.map_err(|e| e.to_string())?;
        result.requests += lat.len();
        result.latencies_ms.extend(lat);
        result.changes += changes;
        result.failures += failures;
    }
    result.elapsed = started.elapsed();
    Ok(result)
}
