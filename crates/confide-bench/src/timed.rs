//! Timed GETs against a running server, one at a time, and their percentiles per kind of
//! request (the `inbox` and `render` benchmarks).

use std::time::{Duration, Instant};

/// A kind of request: a name and the URLs (paths) it cycles through.
pub struct Kind {
    pub name: String,
    pub paths: Vec<String>,
}

impl Kind {
    pub fn new(name: impl Into<String>, paths: Vec<String>) -> Kind {
        Kind {
            name: name.into(),
            paths,
        }
    }
}

/// What one kind measured.
pub struct Figures {
    pub name: String,
    pub latencies_ms: Vec<f64>,
    pub failures: usize,
    /// The first failure's status and body, to say why.
    pub first_failure: Option<String>,
    pub bytes: usize,
}

impl Figures {
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let mut v = self.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[idx.min(v.len() - 1)]
    }
}

pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(4)
        .build()
        .map_err(|e| e.to_string())
}

/// `warmup` untimed, then `requests` timed GETs of `kind`'s paths in turn, each with `headers`.
pub async fn run(
    client: &reqwest::Client,
    base: &str,
    headers: &[(&str, &str)],
    kind: &Kind,
    warmup: usize,
    requests: usize,
) -> Figures {
    let mut f = Figures {
        name: kind.name.clone(),
        latencies_ms: Vec::with_capacity(requests),
        failures: 0,
        first_failure: None,
        bytes: 0,
    };
    if kind.paths.is_empty() {
        return f;
    }
    for i in 0..warmup + requests {
        let path = &kind.paths[i % kind.paths.len()];
        let mut req = client.get(format!("{base}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let t = Instant::now();
        let (ok, why, n) = match req.send().await {
            Ok(r) => {
                let status = r.status();
                match r.bytes().await {
                    Ok(b) if status.is_success() => (true, String::new(), b.len()),
                    Ok(b) => (
                        false,
                        format!(
                            "{status} {}",
                            String::from_utf8_lossy(&b[..b.len().min(300)])
                        ),
                        0,
                    ),
                    Err(e) => (false, e.to_string(), 0),
                }
            }
            Err(e) => (false, e.to_string(), 0),
        };
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if i < warmup {
            continue;
        }
        f.latencies_ms.push(ms);
        f.bytes += n;
        if !ok {
            f.failures += 1;
            if f.first_failure.is_none() {
                f.first_failure = Some(format!("{path}: {why}"));
            }
        }
    }
    f
}

/// Prints one line per kind and whether its p99 is within `budget_ms`; false if any missed it
/// or failed.
pub fn report(all: &[Figures], budget_ms: f64) -> bool {
    let mut ok = true;
    for f in all {
        let p99 = f.percentile(99.0);
        let within = p99 < budget_ms && f.failures == 0;
        ok &= within;
        println!(
            "{:<44} {:>5} requests  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  {:>7.1} KiB/answer  failures {}  {}",
            f.name,
            f.latencies_ms.len(),
            f.percentile(50.0),
            p99,
            f.percentile(100.0),
            f.bytes as f64 / 1024.0 / f.latencies_ms.len().max(1) as f64,
            f.failures,
            if within {
                "ok".to_string()
            } else if f.failures > 0 {
                "FAILED".to_string()
            } else {
                format!("OVER {budget_ms} ms")
            }
        );
        if let Some(why) = &f.first_failure {
            println!("    first failure: {why}");
        }
    }
    ok
}

/// `s` as a query-string value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
