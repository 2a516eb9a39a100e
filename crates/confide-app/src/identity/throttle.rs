//! Throttling of password checks: sign-in (tenant users and platform admins) and the
//! current-password checks of one's own account (`/api/v1/me/...`, the platform admin's password
//! change), which count exactly like sign-ins. The counters live in the database
//! (`login_throttle`), so every instance sees the same state; this module decides what they mean.
//!
//! Three counters per attempt, each a keyed hash:
//! - **account** (the login email's index, known or not, so unknown emails behave the same):
//!   consecutive failures. Free for [`FREE_FAILURES`], then a delay doubling from 1 s up to
//!   [`MAX_DELAY_SECS`]; at [`HARD_CAP`] the account is locked until the reset path
//!   (`confide user reset-password`, or an owner's reset) clears it. It applies only from
//!   addresses that are neither *known* nor *clean* (below).
//! - **pair** (account × address): the same rules, applied from every address.
//! - **ip**: failures from one client address over all accounts, free for [`IP_FREE_FAILURES`],
//!   then a doubling delay up to [`IP_MAX_DELAY_SECS`]; forgotten after [`IP_FORGET_SECS`] of
//!   quiet.
//!
//! The client address is the one the HTTP edge computes (`confide_server::auth::client`): the
//! TCP peer, or behind a trusted proxy the address the proxy saw.
//!
//! **Atomic.** An attempt reserves before the password is verified ([`reserve`]): one write
//! transaction reads its counters, decides and, if it may go ahead, counts it as a failure at
//! once. Concurrent guesses therefore queue on the counters and each sees the ones before it:
//! N concurrent guesses cost N failures, and no more get through than would one after another.
//! A success then settles the reservation ([`Attempt::succeeded`]: the pair counter, and the
//! account counter from an address that is not known, are cleared as a success always cleared
//! them; the others get the reserved failure back); a failure confirms it.
//!
//! **The victim-lockout bound.** The account counter cannot lock the owner out:
//! - from an address the owner has signed in from in the last [`KNOWN_IP_DAYS`] days (a *known*
//!   address) it adds no delay at all: only that address's own pair and ip counters apply;
//! - from a *clean* address (fewer than [`ADDRESS_ALLOWANCE`] failures over all accounts in the
//!   last [`IP_FORGET_SECS`], and fewer than that many against this account ever) it adds no
//!   delay below the cap, and at the cap it never locks: the clean address waits at most
//!   [`MAX_DELAY_SECS`] after the account's last failure. So an attacker who has failed 100 times
//!   from elsewhere delays the owner on a new address by at most 15 minutes, and never locks them
//!   out; the reset path is not needed to get in.
//! - from any other address (one that has failed a few times already) the account counter's
//!   delays apply, and at the cap it is locked until the reset path.
//!
//! The price of the clean-address allowance: an attacker with many addresses gets
//! [`ADDRESS_ALLOWANCE`] guesses per address and day below the cap, and after the cap one guess
//! per [`MAX_DELAY_SECS`] for the whole account (each one spends a clean address). The reset path
//! does not clear the attacker's pair and ip counters, so the attacker stays throttled.

use crate::error::{AppError, Code};
use confide_store::throttle::{Charge, Counter, KnownIp, Reservation};
use confide_store::{Store, StoreError};

pub const FREE_FAILURES: i64 = 5;
pub const MAX_DELAY_SECS: i64 = 15 * 60;
pub const HARD_CAP: i64 = 100;
pub const IP_FREE_FAILURES: i64 = 20;
pub const IP_MAX_DELAY_SECS: i64 = 60 * 60;
pub const IP_FORGET_SECS: i64 = 24 * 60 * 60;
pub const KNOWN_IP_DAYS: i64 = 90;
/// Failures an address may have (over all accounts in the last [`IP_FORGET_SECS`], and against
/// the account) and still count as clean: from a clean address the account counter neither
/// delays (below the cap) nor locks (at the cap).
pub const ADDRESS_ALLOWANCE: i64 = 3;

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
    /// The hard cap is reached: only the reset path helps (from this address).
    Locked,
}

impl Decision {
    /// The `Retry-After` of a refusal (`None` for [`Decision::Allow`]).
    pub fn retry_after(self) -> Option<i64> {
        match self {
            Decision::Allow => None,
            Decision::Wait(s) => Some(s),
            Decision::Locked => Some(MAX_DELAY_SECS),
        }
    }
}

/// The decision for an attempt given the three counters, whether the address is known for the
/// account, and the time (Unix microseconds).
pub fn decide(account: Counter, pair: Counter, ip: Counter, known_ip: bool, now: i64) -> Decision {
    if pair.failures >= HARD_CAP {
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
    let clean = ip_counter.failures < ADDRESS_ALLOWANCE && pair.failures < ADDRESS_ALLOWANCE;
    let capped = account.failures >= HARD_CAP;
    if !known_ip && !clean && capped {
        return Decision::Locked;
    }
    let mut secs = wait(pair, FREE_FAILURES, MAX_DELAY_SECS).max(wait(
        ip_counter,
        IP_FREE_FAILURES,
        IP_MAX_DELAY_SECS,
    ));
    // Known: never. Clean: only at the cap (at most one maximum delay). Otherwise: always.
    if !known_ip && (!clean || capped) {
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

/// The counters of one attempt.
#[derive(Debug, Clone)]
pub struct Keys {
    pub account: Vec<u8>,
    pub pair: Vec<u8>,
    pub ip: Vec<u8>,
    /// The client address's keyed hash (for the known-address table).
    pub ip_index: Vec<u8>,
    /// Whether addresses the account signed in from are remembered and count as known (tenant
    /// users; platform admins have no known addresses).
    pub known_addresses: bool,
}

impl Keys {
    /// A tenant user's attempt: `email_lookup` is the login email's index (or, for an email
    /// that does not parse, a hash of the text), `ip_index` the client address's keyed hash.
    pub fn tenant(email_lookup: &[u8], ip_index: Vec<u8>) -> Keys {
        Keys {
            account: account_key(email_lookup),
            pair: pair_key(email_lookup, &ip_index),
            ip: ip_key(&ip_index),
            ip_index,
            known_addresses: true,
        }
    }

    /// A platform admin's attempt.
    pub fn platform(email_lookup: &[u8], ip_index: Vec<u8>) -> Keys {
        let mut account = b"platform:".to_vec();
        account.extend_from_slice(&account_key(email_lookup));
        Keys {
            pair: pair_key(&account, &ip_index),
            ip: ip_key(&ip_index),
            account,
            ip_index,
            known_addresses: false,
        }
    }
}

/// An attempt that may go ahead: its reservation is counted as a failure until settled.
#[derive(Debug)]
pub struct Attempt {
    pub keys: Keys,
    pub reservation: Reservation,
}

impl Attempt {
    /// Whether the account has signed in from this address recently.
    pub fn known_ip(&self) -> bool {
        self.reservation.known_ip
    }

    /// The account's failures before this attempt.
    pub fn account_failures_before(&self) -> i64 {
        self.reservation.before.first().map_or(0, |c| c.failures)
    }

    /// Whether this attempt, as a failure, is the one that brought the account to the cap.
    pub fn reached_cap(&self) -> bool {
        self.account_failures_before() + 1 == HARD_CAP
    }

    /// What a success clears: the pair, and the account unless the address is known (a success
    /// from a known address leaves the account's failures from elsewhere counted).
    fn cleared_by_success(&self) -> Vec<Vec<u8>> {
        let mut keys = vec![self.keys.pair.clone()];
        if !self.known_ip() {
            keys.push(self.keys.account.clone());
        }
        keys
    }

    /// Settles a success in a tenant transaction (with the session or change it allows).
    pub async fn succeeded_in(&self, s: &mut confide_store::Scope<'_>) -> Result<(), StoreError> {
        s.throttle_settle(&self.reservation, &self.cleared_by_success())
            .await
    }

    /// Settles a success on its own transaction.
    pub async fn succeeded(&self, store: &Store) -> Result<(), StoreError> {
        store
            .throttle_settle(&self.reservation, &self.cleared_by_success())
            .await
    }

    /// Gives the reservation back without clearing anything: the attempt was neither a failure
    /// nor a success (a right password that still needs its second factor).
    pub async fn withdrawn(&self, store: &Store) -> Result<(), StoreError> {
        store.throttle_settle(&self.reservation, &[]).await
    }

    /// Confirms a failure in a tenant transaction (with its audit entry).
    pub async fn failed_in(&self, s: &mut confide_store::Scope<'_>) -> Result<(), StoreError> {
        s.throttle_confirm_failure(&self.reservation).await
    }

    /// Confirms a failure on its own transaction (no tenant: an unknown email, a platform
    /// admin).
    pub async fn failed(&self, store: &Store) -> Result<(), StoreError> {
        store.throttle_confirm_failure(&self.reservation).await
    }
}

/// Reserves an attempt (see the module comment): `Ok(attempt)` to go ahead and check the
/// password, `Err(seconds)` when throttled (answer [`too_many`]; nothing was counted).
pub async fn reserve(
    store: &Store,
    keys: Keys,
    now: i64,
) -> Result<Result<Attempt, i64>, StoreError> {
    let ip_forget = now - IP_FORGET_SECS * 1_000_000;
    let charges = [
        Charge {
            key: keys.account.clone(),
            forget_before: i64::MIN,
        },
        Charge {
            key: keys.pair.clone(),
            forget_before: i64::MIN,
        },
        Charge {
            key: keys.ip.clone(),
            forget_before: ip_forget,
        },
    ];
    let known = keys.known_addresses.then(|| KnownIp {
        account: &keys.account,
        ip: &keys.ip_index,
        since: now - KNOWN_IP_DAYS * 86_400 * 1_000_000,
    });
    let (decision, reservation) = store
        .throttle_reserve(&charges, known, |c, known_ip| {
            let d = decide(c[0], c[1], c[2], known_ip, now);
            (d, d == Decision::Allow)
        })
        .await?;
    Ok(match decision.retry_after() {
        Some(secs) => Err(secs),
        None => Ok(Attempt { keys, reservation }),
    })
}

/// `too_many_attempts` (429) with `Retry-After` (at least 1 second).
pub fn too_many(retry_after: i64) -> AppError {
    AppError::new(
        Code::TooManyAttempts,
        "Too many failed sign-ins; wait before trying again, or ask an owner to reset the password.",
    )
    .with_retry_after(u64::try_from(retry_after.max(1)).unwrap_or(1))
}
