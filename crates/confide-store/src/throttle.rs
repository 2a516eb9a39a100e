//! Login throttling state, shared by every instance through the database. Keys are keyed hashes
//! (of an account's login-email index, a client IP, or both); the policy (which keys, what
//! delays) lives with the login code.
//!
//! An attempt goes through two steps:
//!
//! 1. **Reserve** ([`Store::throttle_reserve`]), before the password is checked: one write
//!    transaction locks the attempt's counters (creating missing ones), reads them and whether the
//!    account knows the IP, asks the caller's policy, and, when the policy lets the attempt go
//!    ahead, counts it as a failure at once. Concurrent attempts on the same counters queue on the
//!    row locks (PostgreSQL) or the write lock (SQLite), so each one sees the ones before it: N
//!    concurrent guesses cost N failures and no more of them get through than would one after
//!    another.
//! 2. **Settle**, once the outcome is known: a failure is confirmed
//!    ([`Store::throttle_confirm_failure`]: it is already counted; its time moves to when it was
//!    established); a success clears the counters the policy says a success clears and gives back
//!    the reservation on the others ([`Store::throttle_settle`]). A reservation that is never
//!    settled (the process died, the request failed) stays a failure: the safe side.

use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use crate::tx::Access;
use sqlx::{AnyConnection, Row};

/// One throttle counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct Counter {
    /// Failures counted (0 when there is no row).
    pub failures: i64,
    /// Time of the last failure (Unix microseconds; 0 when none).
    pub last_failure_at: i64,
}

/// A counter an attempt charges: its key, and the time before which earlier failures are
/// forgotten (a counter whose last failure is older restarts at 1; `i64::MIN` for never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub key: Vec<u8>,
    pub forget_before: i64,
}

/// The question "has this account signed in from this IP since `since`?", answered inside the
/// reservation's transaction.
#[derive(Debug, Clone, Copy)]
pub struct KnownIp<'a> {
    pub account: &'a [u8],
    pub ip: &'a [u8],
    pub since: i64,
}

/// What a reservation saw and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// When it was made: the failure time it wrote (Unix microseconds).
    pub at: i64,
    /// The counters just before it, in the order of the charges.
    pub before: Vec<Counter>,
    /// Whether the account has signed in from the IP (false when not asked).
    pub known_ip: bool,
    /// Whether the counters were incremented (the policy let the attempt go ahead).
    pub taken: bool,
    keys: Vec<Vec<u8>>,
}

impl Reservation {
    /// The keys charged, in order.
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }

    /// The indices of the keys in the one order every transaction locks counters in.
    fn lock_order(&self) -> Vec<usize> {
        lock_order(&self.keys)
    }
}

/// The indices of `keys` sorted by key: the global order in which counters are locked, so that
/// transactions touching the same counters queue instead of deadlocking (PostgreSQL).
fn lock_order<K: AsRef<[u8]>>(keys: &[K]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|a, b| keys[*a].as_ref().cmp(keys[*b].as_ref()));
    order
}

/// Locks a counter's row, creating it (at zero) when missing, and returns its values.
async fn lock(conn: &mut AnyConnection, key: &[u8]) -> Result<Counter, StoreError> {
    Ok(sqlx::query_as(
        "INSERT INTO login_throttle (throttle_key, failures, last_failure_at) VALUES ($1, 0, 0) \
         ON CONFLICT (throttle_key) DO UPDATE SET failures = login_throttle.failures \
         RETURNING failures, last_failure_at",
    )
    .bind(key.to_vec())
    .fetch_one(conn)
    .await?)
}

/// Counts one failure at `now` (restarting a counter whose last failure is before
/// `forget_before`).
async fn record(
    conn: &mut AnyConnection,
    key: &[u8],
    now: i64,
    forget_before: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO login_throttle (throttle_key, failures, last_failure_at) VALUES ($1, 1, $2) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
         failures = CASE WHEN login_throttle.last_failure_at < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
         last_failure_at = $2",
    )
    .bind(key.to_vec())
    .bind(now)
    .bind(forget_before)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives back one reserved failure: one fewer, and the previous failure time again unless
/// another failure has been counted since (a row left at zero is removed: it means nothing).
async fn release(
    conn: &mut AnyConnection,
    key: &[u8],
    reserved_at: i64,
    previous_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE login_throttle SET \
         failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, \
         last_failure_at = CASE WHEN last_failure_at = $2 THEN $3 ELSE last_failure_at END \
         WHERE throttle_key = $1",
    )
    .bind(key.to_vec())
    .bind(reserved_at)
    .bind(previous_at)
    .execute(&mut *conn)
    .await?;
    drop_empty(conn, key).await
}

/// Removes a counter at zero (no failures: the same as no row).
async fn drop_empty(conn: &mut AnyConnection, key: &[u8]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1 AND failures = 0")
        .bind(key.to_vec())
        .execute(conn)
        .await?;
    Ok(())
}

async fn clear(conn: &mut AnyConnection, key: &[u8]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1")
        .bind(key.to_vec())
        .execute(conn)
        .await?;
    Ok(())
}

async fn known_ip(conn: &mut AnyConnection, q: KnownIp<'_>) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT 1 FROM login_known_ips WHERE account_key = $1 AND ip_key = $2 AND last_success_at >= $3",
    )
    .bind(q.account.to_vec())
    .bind(q.ip.to_vec())
    .bind(q.since)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

async fn remember(
    conn: &mut AnyConnection,
    account: &[u8],
    ip: &[u8],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO login_known_ips (account_key, ip_key, last_success_at) VALUES ($1, $2, $3) \
         ON CONFLICT (account_key, ip_key) DO UPDATE SET last_success_at = $3",
    )
    .bind(account.to_vec())
    .bind(ip.to_vec())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Settles a successful attempt: `clear` keys are deleted, every other reserved key is given
/// back.
async fn settle(
    conn: &mut AnyConnection,
    r: &Reservation,
    clear_keys: &[Vec<u8>],
) -> Result<(), StoreError> {
    if !r.taken {
        return Ok(());
    }
    for i in r.lock_order() {
        let (key, before) = (&r.keys[i], &r.before[i]);
        if clear_keys.contains(key) {
            clear(conn, key).await?;
        } else {
            release(conn, key, r.at, before.last_failure_at).await?;
        }
    }
    Ok(())
}

/// Confirms a failed attempt: it is already counted; its time becomes `now` (when the failure
/// was established) unless a later failure has been counted since.
async fn confirm_failure(
    conn: &mut AnyConnection,
    r: &Reservation,
    now: i64,
) -> Result<(), StoreError> {
    if !r.taken {
        return Ok(());
    }
    for i in r.lock_order() {
        let key = &r.keys[i];
        sqlx::query(
            "UPDATE login_throttle SET last_failure_at = $2 \
             WHERE throttle_key = $1 AND last_failure_at = $3",
        )
        .bind(key.clone())
        .bind(now.max(r.at))
        .bind(r.at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// The counters of `keys`, in order (zero for keys without a row). For inspection: an attempt
    /// reads its counters through [`Store::throttle_reserve`].
    pub async fn throttle_counters(&self, keys: &[Vec<u8>]) -> Result<Vec<Counter>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let counter: Option<Counter> = sqlx::query_as(
                "SELECT failures, last_failure_at FROM login_throttle WHERE throttle_key = $1",
            )
            .bind(k.clone())
            .fetch_optional(self.pool())
            .await?;
            out.push(counter.unwrap_or_default());
        }
        Ok(out)
    }

    /// Reserves an attempt, atomically: in one write transaction, locks the counters of
    /// `charges` (in one global order, so concurrent reservations queue rather than deadlock),
    /// reads them and, when `known` is given, whether the account knows the IP; then asks
    /// `policy` (the counters in the order of `charges`, and the known-IP answer), which returns
    /// its verdict and whether the attempt goes ahead. If it does, every counter is charged one
    /// failure now, before the transaction commits. Returns the verdict and the reservation to
    /// settle.
    pub async fn throttle_reserve<T>(
        &self,
        charges: &[Charge],
        known: Option<KnownIp<'_>>,
        policy: impl FnOnce(&[Counter], bool) -> (T, bool),
    ) -> Result<(T, Reservation), StoreError> {
        let now = self.clock().now_micros();
        let mut tx = self.begin_tx(Access::Write).await?;
        let keys: Vec<Vec<u8>> = charges.iter().map(|c| c.key.clone()).collect();
        let mut before = vec![Counter::default(); charges.len()];
        for i in lock_order(&keys) {
            before[i] = lock(&mut tx, &charges[i].key).await?;
        }
        let known_ip = match known {
            Some(q) => known_ip(&mut tx, q).await?,
            None => false,
        };
        let (verdict, go) = policy(&before, known_ip);
        for i in lock_order(&keys) {
            let c = &charges[i];
            if go {
                record(&mut tx, &c.key, now, c.forget_before).await?;
            } else {
                drop_empty(&mut tx, &c.key).await?;
            }
        }
        tx.commit().await?;
        Ok((
            verdict,
            Reservation {
                at: now,
                before,
                known_ip,
                taken: go,
                keys,
            },
        ))
    }

    /// Settles a successful attempt on its own transaction (see [`Scope::throttle_settle`]).
    pub async fn throttle_settle(
        &self,
        r: &Reservation,
        clear_keys: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_tx(Access::Write).await?;
        settle(&mut tx, r, clear_keys).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Confirms a failed attempt on its own transaction (see
    /// [`Scope::throttle_confirm_failure`]).
    pub async fn throttle_confirm_failure(&self, r: &Reservation) -> Result<(), StoreError> {
        let now = self.clock().now_micros();
        let mut tx = self.begin_tx(Access::Write).await?;
        confirm_failure(&mut tx, r, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A platform admin's email lookup key (what the platform sign-in throttles on), so their
    /// other password checks count against the same counters.
    pub async fn throttle_platform_lookup(&self, admin_id: &str) -> Result<Vec<u8>, StoreError> {
        let row = sqlx::query("SELECT email_lookup FROM platform_admins WHERE admin_id = $1")
            .bind(admin_id.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(row.try_get(0)?)
    }

    /// Clears counters (the reset path).
    pub async fn throttle_clear(&self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        let mut tx = self.begin_tx(Access::Write).await?;
        for k in keys {
            clear(&mut tx, k).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Scope<'_> {
    /// Settles a successful attempt in this scope's transaction: the counters in `clear_keys`
    /// are deleted, the reservation on every other counter is given back (one failure fewer, the
    /// previous failure time again unless another failure came since).
    pub async fn throttle_settle(
        &mut self,
        r: &Reservation,
        clear_keys: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        settle(self.conn(), r, clear_keys).await
    }

    /// Confirms a failed attempt in this scope's transaction (with its audit entry): the failure
    /// is already counted; its time becomes the time it was established.
    pub async fn throttle_confirm_failure(&mut self, r: &Reservation) -> Result<(), StoreError> {
        let now = self.now();
        confirm_failure(self.conn(), r, now).await
    }

    /// Clears counters, in this scope's transaction (the reset path).
    pub async fn throttle_clear(&mut self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        for k in keys {
            clear(self.conn(), k).await?;
        }
        Ok(())
    }

    /// Remembers that the account signed in from this IP.
    pub async fn throttle_remember_ip(
        &mut self,
        account: &[u8],
        ip: &[u8],
    ) -> Result<(), StoreError> {
        let now = self.now();
        remember(self.conn(), account, ip, now).await
    }
}
