//! Login throttling policy. The counters live in the database (`login_throttle`), so every
//! instance sees the same state; this module decides what they mean.
//!
//! Three counters per attempt, each a keyed hash:
//! - **account** (the login email's index, known or not, so unknown emails behave the same):
//!   consecutive failures from IPs the account has not signed in from recently. Free for
//!   [`FREE_FAILURES`], then a delay doubling from 1 s up to [`MAX_DELAY_SECS`]; at
//!   [`HARD_CAP`] the account is locked for every such IP until the reset path
//!   (`confide user reset-password`, or an owner's reset) clears it.
//! - **pair** (account × IP): the same rules, applied from every IP, known or not.
//! - **ip**: failures from one client IP over all accounts, free for [`IP_FREE_FAILURES`], then
//!   a doubling delay up to [`IP_MAX_DELAY_SECS`]; forgotten after [`IP_FORGET_SECS`] of quiet.
//!
//! The victim-lockout bound: failures from an attacker's IP count against the account only for
//! IPs the owner has not signed in from in the last [`KNOWN_IP_DAYS`] days. From an IP the owner
//! has used, the attacker adds no delay at all (only that IP's own pair and ip counters apply);
//! from a new IP the owner waits at most [`MAX_DELAY_SECS`] per attempt before the cap, and after
//! the cap until the reset path. The reset path does not clear the attacker's pair and ip
//! counters, so the attacker stays throttled.

use confide_store::throttle::Counter;

pub const FREE_FAILURES: i64 = 5;
pub const MAX_DELAY_SECS: i64 = 15 * 60;
pub const HARD_CAP: i64 = 100;
pub const IP_FREE_FAILURES: i64 = 20;
pub const IP_MAX_DELAY_SECS: i64 = 60 * 60;
pub const IP_FORGET_SECS: i64 = 24 * 60 * 60;
pub const KNOWN_IP_DAYS: i64 = 90;

/// The delay after `failures` failures, with `free` free ones, doubling up to `max` seconds.
pub fn delay_secs(failures: i64, free: i64, max: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let exp = (failures - free).min(30);
    (1i64 << exp).min(max)
}

/// Whether an attempt may go ahead now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Try again after this many seconds.
    Wait(i64),
    /// The hard cap is reached: only the reset path helps.
    Locked,
}

/// The decision for an attempt given the three counters, whether the IP is known for the
/// account, and the time (Unix microseconds).
pub fn decide(account: Counter, pair: Counter, ip: Counter, known_ip: bool, now: i64) -> Decision {
    if pair.failures >= HARD_CAP || (!known_ip && account.failures >= HARD_CAP) {
        return Decision::Locked;
    }
    let wait = |c: Counter, free: i64, max: i64| -> i64 {
        if c.failures == 0 {
            return 0;
        }
        let until = c.last_failure_at + delay_secs(c.failures, free, max) * 1_000_000;
        ((until - now) + 999_999).div_euclid(1_000_000).max(0)
    };
    let ip_counter = if now - ip.last_failure_at > IP_FORGET_SECS * 1_000_000 {
        Counter::default()
    } else {
        ip
    };
    let mut secs = wait(pair, FREE_FAILURES, MAX_DELAY_SECS).max(wait(
        ip_counter,
        IP_FREE_FAILURES,
        IP_MAX_DELAY_SECS,
    ));
    if !known_ip {
        secs = secs.max(wait(account, FREE_FAILURES, MAX_DELAY_SECS));
    }
    if secs > 0 {
        Decision::Wait(secs)
    } else {
        Decision::Allow
    }
}

/// Throttle keys: distinct prefixes keep the three kinds apart.
pub fn account_key(email_lookup: &[u8]) -> Vec<u8> {
    let mut k = b"acct:".to_vec();
    k.extend_from_slice(email_lookup);
    k
}

pub fn ip_key(ip_index: &[u8]) -> Vec<u8> {
    let mut k = b"ip:".to_vec();
    k.extend_from_slice(ip_index);
    k
}

pub fn pair_key(email_lookup: &[u8], ip_index: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(email_lookup);
    h.update(ip_index);
    let mut k = b"pair:".to_vec();
    k.extend_from_slice(&h.finalize());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(failures: i64, at: i64) -> Counter {
        Counter {
            failures,
            last_failure_at: at,
        }
    }

    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(delay_secs(4, 5, 900), 0);
        assert_eq!(delay_secs(5, 5, 900), 1);
        assert_eq!(delay_secs(6, 5, 900), 2);
        assert_eq!(delay_secs(10, 5, 900), 32);
        assert_eq!(delay_secs(50, 5, 900), 900);
        assert_eq!(delay_secs(10_000, 5, 900), 900);
    }

    #[test]
    fn known_ip_ignores_the_account_counter_but_not_its_own() {
        let now = 1_000_000_000;
        let acct = c(HARD_CAP, now);
        assert_eq!(decide(acct, c(0, 0), c(0, 0), false, now), Decision::Locked);
        assert_eq!(decide(acct, c(0, 0), c(0, 0), true, now), Decision::Allow);
        assert_eq!(
            decide(c(0, 0), c(HARD_CAP, now), c(0, 0), true, now),
            Decision::Locked
        );
        assert_eq!(
            decide(c(0, 0), c(6, now), c(0, 0), true, now),
            Decision::Wait(2)
        );
        assert_eq!(
            decide(c(0, 0), c(6, now), c(0, 0), true, now + 2_000_000),
            Decision::Allow
        );
    }

    #[test]
    fn ip_counter_is_forgotten_after_a_quiet_day() {
        let now = 10_000_000_000_000;
        let ip = c(40, now - (IP_FORGET_SECS + 1) * 1_000_000);
        assert_eq!(decide(c(0, 0), c(0, 0), ip, false, now), Decision::Allow);
        let ip = c(40, now - 10_000_000);
        assert!(matches!(
            decide(c(0, 0), c(0, 0), ip, false, now),
            Decision::Wait(_)
        ));
    }
}
