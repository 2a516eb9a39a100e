//! Automatic temporary bans. An address that fails `bans.threshold` times within
//! `bans.window_secs` (a webhook with a bad signature, a failed sign-in, a refused authorization)
//! is refused everything for `bans.duration_secs`. Each ban is a security event
//! (`address_banned`) and is listed for operators on the admin listener (`GET /bans`). Time comes
//! from the injected clock.
//!
//! Counters and bans live in this process: behind a load balancer each instance bans on its own
//! evidence (an attacker spread over N instances gets at most N times the threshold).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// What an address failed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A webhook whose `X-Hub-Signature-256` did not match.
    Signature,
    /// A refused sign-in (team member or platform operator).
    SignIn,
    /// A request refused for lack of permission (or a CSRF check).
    Authorization,
}

impl Failure {
    /// The failure an error code stands for, if any.
    pub fn of_code(code: &str) -> Option<Failure> {
        match code {
            "bad_signature" => Some(Failure::Signature),
            "invalid_credentials" | "invalid_code" => Some(Failure::SignIn),
            "forbidden" | "csrf" => Some(Failure::Authorization),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Signature => "signature",
            Failure::SignIn => "sign_in",
            Failure::Authorization => "authorization",
        }
    }
}

/// One ban, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub address: IpAddr,
    /// What the address kept failing at (the failure that tipped it over).
    pub reason: Failure,
    /// Failures counted in the window.
    pub failures: u32,
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
}

#[derive(Debug, Default)]
struct Inner {
    /// Per address: the window's start and its failures.
    counts: HashMap<IpAddr, (OffsetDateTime, u32)>,
    bans: HashMap<IpAddr, Ban>,
}

#[derive(Debug)]
pub struct Bans {
    threshold: u32,
    window: Duration,
    duration: Duration,
    inner: Mutex<Inner>,
}

/// Counters kept at most (older windows are dropped first when full).
const MAX_TRACKED: usize = 100_000;

impl Bans {
    pub fn new(c: &confide_app::config::BansConfig) -> Bans {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000));
        Bans {
            threshold: c.threshold,
            window: secs(c.window_secs),
            duration: secs(c.duration_secs),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The seconds `ip` stays banned (rounded up), or `None` when it is not.
    pub fn banned_for(&self, ip: IpAddr, now: OffsetDateTime) -> Option<u64> {
        let ip = ip.to_canonical();
        let mut inner = self.inner.lock().ok()?;
        let until = inner.bans.get(&ip)?.until;
        if until <= now {
            inner.bans.remove(&ip);
            return None;
        }
        let left = (until - now).whole_milliseconds();
        Some(u64::try_from((left + 999) / 1000).unwrap_or(1).max(1))
    }

    /// Counts a failure of `ip`; the new ban when this one tipped it over.
    pub fn record(&self, ip: IpAddr, failure: Failure, now: OffsetDateTime) -> Option<Ban> {
        if self.threshold == 0 {
            return None;
        }
        let ip = ip.to_canonical();
        let mut inner = self.inner.lock().ok()?;
        if inner.counts.len() >= MAX_TRACKED && !inner.counts.contains_key(&ip) {
            let window = self.window;
            inner.counts.retain(|_, (start, _)| now - *start < window);
            if inner.counts.len() >= MAX_TRACKED {
                return None;
            }
        }
        let entry = inner.counts.entry(ip).or_insert((now, 0));
        if now - entry.0 >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let failures = entry.1;
        if failures < self.threshold {
            return None;
        }
        inner.counts.remove(&ip);
        let ban = Ban {
            address: ip,
            reason: failure,
            failures,
            since: now,
            until: now + self.duration,
        };
        inner.bans.insert(ip, ban.clone());
        Some(ban)
    }

    /// The bans in force, soonest to end first.
    pub fn list(&self, now: OffsetDateTime) -> Vec<Ban> {
        let Ok(mut inner) = self.inner.lock() else {
            return Vec::new();
        };
        inner.bans.retain(|_, b| b.until > now);
        let mut out: Vec<Ban> = inner.bans.values().cloned().collect();
        out.sort_by_key(|b| (b.until, b.address));
        out
    }

    /// Ends a ban early (an operator's decision); whether there was one.
    pub fn lift(&self, ip: IpAddr) -> bool {
        self.inner
            .lock()
            .map(|mut i| i.bans.remove(&ip.to_canonical()).is_some())
            .unwrap_or(false)
    }
}

impl Ban {
    /// The ban as JSON for operators.
    pub fn to_json(&self) -> serde_json::Value {
        let at = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        serde_json::json!({
            "address": self.address.to_string(),
            "reason": self.reason.as_str(),
            "failures": self.failures,
            "since": at(self.since),
            "until": at(self.until),
        })
    }
}

/// The security event of a new ban (the address is what an operator acts on).
pub fn raise(metrics: &confide_app::metrics::Metrics, ban: &Ban) {
    confide_app::metrics::security_event(
        metrics,
        "address_banned",
        "-",
        &format!(
            "address {} banned until {} after {} {} failures",
            ban.address,
            ban.until
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            ban.failures,
            ban.reason.as_str()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_app::config::BansConfig;

    #[test]
    fn failures_in_a_window_ban_and_bans_end() {
        let bans = Bans::new(&BansConfig {
            threshold: 3,
            window_secs: 60,
            duration_secs: 600,
        });
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        assert!(bans.record(ip, Failure::SignIn, t0).is_none());
        assert!(bans.record(ip, Failure::SignIn, t0).is_none());
        // A new window starts the count again.
        let t1 = t0 + Duration::seconds(61);
        assert!(bans.record(ip, Failure::SignIn, t1).is_none());
        assert!(bans.record(ip, Failure::SignIn, t1).is_none());
        assert_eq!(bans.banned_for(ip, t1), None);
        let ban = bans.record(ip, Failure::Signature, t1).unwrap();
        assert_eq!(ban.until, t1 + Duration::seconds(600));
        assert_eq!(bans.banned_for(ip, t1), Some(600));
        assert_eq!(bans.list(t1).len(), 1);
        assert_eq!(bans.banned_for(ip, t1 + Duration::seconds(600)), None);
        assert!(bans.list(t1 + Duration::seconds(600)).is_empty());
    }
}
