//! Counters exported on the admin listener's `/metrics` (Prometheus text format), and security
//! events. Every layer records here; the server renders it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters exported on the admin listener's `/metrics` (Prometheus text format).
#[derive(Debug, Default)]
pub struct Metrics {
    requests_2xx: AtomicU64,
    requests_3xx: AtomicU64,
    requests_4xx: AtomicU64,
    requests_5xx: AtomicU64,
    webhook_bad_signatures: AtomicU64,
    webhook_messages: AtomicU64,
    webhook_statuses: AtomicU64,
    security_events: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

/// Something an operator should look at: logged at `warn` under the `confide::security` target
/// (so it can be routed to its own sink) and counted in `confide_security_events_total{kind}`
/// (so it can be alerted on). `kind` is a fixed snake_case name; `detail` names ids only, never
/// personal data or secrets.
pub fn security_event(metrics: &Metrics, kind: &'static str, tenant: &str, detail: &str) {
    tracing::warn!(target: "confide::security", security_event = kind, tenant, detail, "security event");
    if let Ok(mut m) = metrics.security_events.lock() {
        *m.entry(kind).or_default() += 1;
    }
}

impl Metrics {
    pub fn record_status(&self, status: u16) {
        let c = match status {
            200..=299 => &self.requests_2xx,
            300..=399 => &self.requests_3xx,
            400..=499 => &self.requests_4xx,
            _ => &self.requests_5xx,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn webhook_rejected_signature(&self) {
        self.webhook_bad_signatures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn webhook_applied(&self, messages: u64, statuses: u64) {
        self.webhook_messages.fetch_add(messages, Ordering::Relaxed);
        self.webhook_statuses.fetch_add(statuses, Ordering::Relaxed);
    }

    /// How many security events of `kind` were raised.
    pub fn security_events(&self, kind: &str) -> u64 {
        self.security_events
            .lock()
            .map(|m| m.get(kind).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The Prometheus exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP confide_build_info Build information.\n# TYPE confide_build_info gauge\n",
        );
        out.push_str(&format!(
            "confide_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        ));
        out.push_str("# HELP confide_http_requests_total HTTP responses by status class.\n# TYPE confide_http_requests_total counter\n");
        for (class, c) in [
            ("2xx", &self.requests_2xx),
            ("3xx", &self.requests_3xx),
            ("4xx", &self.requests_4xx),
            ("5xx", &self.requests_5xx),
        ] {
            out.push_str(&format!(
                "confide_http_requests_total{{class=\"{class}\"}} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        for (name, help, c) in [
            (
                "confide_webhook_bad_signatures_total",
                "Webhook deliveries refused for their signature.",
                &self.webhook_bad_signatures,
            ),
            (
                "confide_webhook_messages_total",
                "Inbound messages stored from webhooks.",
                &self.webhook_messages,
            ),
            (
                "confide_webhook_statuses_total",
                "Delivery statuses stored from webhooks.",
                &self.webhook_statuses,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP confide_security_events_total Security events raised, by kind.\n# TYPE confide_security_events_total counter\n");
        if let Ok(m) = self.security_events.lock() {
            for (kind, n) in m.iter() {
                out.push_str(&format!(
                    "confide_security_events_total{{kind=\"{kind}\"}} {n}\n"
                ));
            }
        }
        out
    }
}
