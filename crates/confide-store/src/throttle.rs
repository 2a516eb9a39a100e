//! Login throttling state, shared by every instance through the database. Keys are keyed hashes
//! (of an account's login-email index, a client IP, or both); the policy (which keys, what
//! delays) lives with the login code.

use crate::scope::Scope;
use crate::{Store, StoreError};
use sqlx::{AnyConnection, Row};

/// One throttle counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    /// Failures counted (0 when there is no row).
    pub failures: i64,
    /// Time of the last failure (Unix microseconds; 0 when none).
    pub last_failure_at: i64,
}

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

async fn clear(conn: &mut AnyConnection, key: &[u8]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1")
        .bind(key.to_vec())
        .execute(conn)
        .await?;
    Ok(())
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

impl Store {
    /// The counters of `keys`, in order (zero for keys without a row).
    pub async fn throttle_counters(&self, keys: &[Vec<u8>]) -> Result<Vec<Counter>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let row = sqlx::query(
                "SELECT failures, last_failure_at FROM login_throttle WHERE throttle_key = $1",
            )
            .bind(k.clone())
            .fetch_optional(self.pool())
            .await?;
            out.push(match row {
                Some(r) => Counter {
                    failures: r.try_get(0)?,
                    last_failure_at: r.try_get(1)?,
                },
                None => Counter::default(),
            });
        }
        Ok(out)
    }

    /// Whether the account has signed in from this IP since `since`.
    pub async fn throttle_known_ip(
        &self,
        account: &[u8],
        ip: &[u8],
        since: i64,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM login_known_ips WHERE account_key = $1 AND ip_key = $2 AND last_success_at >= $3")
            .bind(account.to_vec())
            .bind(ip.to_vec())
            .bind(since)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Counts a failure against each key in one transaction (for attempts with no tenant: an
    /// unknown email). Each key comes with a time: a counter whose last failure is before it
    /// restarts at 1.
    pub async fn throttle_record_failures(
        &self,
        keys: &[(Vec<u8>, i64)],
    ) -> Result<(), StoreError> {
        let now = self.clock().now_micros();
        let mut tx = self.begin_tx(crate::scope::Access::Write).await?;
        for (k, forget_before) in keys {
            record(&mut tx, k, now, *forget_before).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Clears counters (the reset path, or a success).
    pub async fn throttle_clear(&self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        let mut tx = self.begin_tx(crate::scope::Access::Write).await?;
        for k in keys {
            clear(&mut tx, k).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Scope<'_> {
    /// Counts a failure against each key, in this scope's transaction (with its audit entry).
    pub async fn throttle_record_failures(
        &mut self,
        keys: &[(Vec<u8>, i64)],
    ) -> Result<(), StoreError> {
        let now = self.now();
        for (k, forget_before) in keys {
            record(self.conn(), k, now, *forget_before).await?;
        }
        Ok(())
    }

    /// Clears counters, in this scope's transaction.
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
