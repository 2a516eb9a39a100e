//! Automatic temporary bans. An address that fails `bans.threshold` times within
//! `bans.window_secs` (a webhook with a bad signature, a failed sign-in, a refused authorization)
//! is refused everything for `bans.duration_secs`. Each ban is a security event
//! (`address_banned`) and is listed for operators on the admin listener (`GET /bans`). Time comes
//! from the injected clock.
//!
//! On SQLite (one process) counters and bans live in this process. On PostgreSQL they live in
//! the database (`confide_app::bans`), shared by every instance: a failure is counted there, and
//! each instance keeps a copy of the bans in force that the hot path reads without a query,
//! read again by the first request that finds it older than `bans.shared_refresh_ms` (the
//! others wait for that one read). So a ban made on one instance holds on another within
//! `bans.shared_refresh_ms` (default one second) plus one query; its own instance applies it
//! at once. Should the database not answer, the copy is kept (bans already known still hold).

use crate::state::AppState;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;
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

    /// The failure a stored reason names.
    pub fn parse(s: &str) -> Failure {
        match s {
            "signature" => Failure::Signature,
            "sign_in" => Failure::SignIn,
            _ => Failure::Authorization,
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
    /// Kept in the database for every instance (PostgreSQL); `inner.bans` is then a copy.
    shared: bool,
    refresh: std::time::Duration,
    /// When the copy was last read, and when ended records were last purged.
    synced: Mutex<Option<(Instant, Instant)>>,
    /// One refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
}

/// How often an instance purges ended bans and counters from the database.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Counters kept at most (older windows are dropped first when full).
const MAX_TRACKED: usize = 100_000;

impl Bans {
    /// Bans by `c`; `shared`: kept in the database (see the module's notes).
    pub fn new(c: &confide_app::config::BansConfig, shared: bool) -> Bans {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000));
        Bans {
            threshold: c.threshold,
            window: secs(c.window_secs),
            duration: secs(c.duration_secs),
            inner: Mutex::new(Inner::default()),
            shared: shared && c.threshold > 0,
            refresh: std::time::Duration::from_millis(c.shared_refresh_ms),
            synced: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether bans are shared through the database.
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// Whether the copy of shared bans is older than `bans.shared_refresh_ms`.
    fn stale(&self) -> bool {
        self.shared
            && self
                .synced
                .lock()
                .map(|s| s.is_none_or(|(at, _)| at.elapsed() >= self.refresh))
                .unwrap_or(false)
    }

    /// Replaces the copy of shared bans with those in force.
    fn replace(&self, bans: Vec<Ban>) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.bans = bans.into_iter().map(|b| (b.address, b)).collect();
        }
    }

    /// Adds a ban to this instance's bans (one just made).
    fn insert(&self, ban: Ban) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.bans.insert(ban.address, ban);
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
    fn of(b: confide_app::bans::AddressBan) -> Ban {
        Ban {
            address: b.address,
            reason: Failure::parse(&b.reason),
            failures: b.failures,
            since: b.since,
            until: b.until,
        }
    }

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

/// Reads the shared bans in force again when this instance's copy is stale (PostgreSQL); the
/// first request to find it stale reads, the others wait for that read.
pub async fn refresh(state: &AppState) {
    let bans = &state.edge.bans;
    if !bans.stale() {
        return;
    }
    let _one = bans.refreshing.lock().await;
    if !bans.stale() {
        return;
    }
    let now = state.clock.now();
    match state.address_bans(now).await {
        Ok(list) => bans.replace(list.into_iter().map(Ban::of).collect()),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the shared bans; keeping the last ones")
        }
    }
    let purge_due = bans
        .synced
        .lock()
        .map(|s| s.is_none_or(|(_, purged)| purged.elapsed() >= PURGE_EVERY))
        .unwrap_or(false);
    if purge_due && let Err(e) = state.purge_address_records(now).await {
        tracing::warn!(error = %e, "could not purge ended bans");
    }
    if let Ok(mut s) = bans.synced.lock() {
        let purged = match *s {
            Some((_, purged)) if !purge_due => purged,
            _ => Instant::now(),
        };
        *s = Some((Instant::now(), purged));
    }
}

/// Counts a failure of `ip` (in the database when shared); raises the security event of the ban
/// it made, if any.
pub async fn record(state: &AppState, ip: IpAddr, failure: Failure) {
    let now = state.clock.now();
    let bans = &state.edge.bans;
    let ban = if bans.shared {
        match state.count_address_failure(ip, failure.as_str(), now).await {
            Ok(Some(b)) => {
                let ban = Ban::of(b);
                bans.insert(ban.clone());
                Some(ban)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "could not count a failure for bans");
                None
            }
        }
    } else {
        bans.record(ip, failure, now)
    };
    if let Some(ban) = ban {
        raise(&state.metrics, &ban);
    }
}

/// The bans in force for operators: every instance's when shared.
pub async fn list(state: &AppState) -> Vec<Ban> {
    let now = state.clock.now();
    let bans = &state.edge.bans;
    if bans.shared {
        match state.address_bans(now).await {
            Ok(list) => return list.into_iter().map(Ban::of).collect(),
            Err(e) => tracing::warn!(error = %e, "could not read the shared bans"),
        }
    }
    bans.list(now)
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
        let bans = Bans::new(
            &BansConfig {
                threshold: 3,
                window_secs: 60,
                duration_secs: 600,
                shared_refresh_ms: 1_000,
            },
            false,
        );
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
