//! Automatic bans and their failure counters, shared by every instance on one database
//! (the edge uses them on PostgreSQL; one SQLite process keeps its own in memory). Rows hold a
//! client address, never a tenant's data. The policy (threshold, window, duration) is the
//! caller's; times are Unix microseconds from the caller's clock.

use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Access;
use sqlx::Row;

/// A ban as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBan {
    pub address: String,
    pub reason: String,
    pub failures: i64,
    pub since: i64,
    pub until: i64,
}

/// What counting one failure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// Below the threshold: the failures counted in the window so far.
    Below(i64),
    /// This failure reached the threshold: the new ban (its counter is cleared).
    Banned(StoredBan),
}

fn ban_of(r: &sqlx::any::AnyRow) -> Result<StoredBan, StoreError> {
    Ok(StoredBan {
        address: r.try_get(0)?,
        reason: r.try_get(1)?,
        failures: r.try_get(2)?,
        since: r.try_get(3)?,
        until: r.try_get(4)?,
    })
}

impl Store {
    /// Counts one failure of `address` at `now`: a counter whose window started `window` or
    /// longer ago starts again at 1. The failure that reaches `threshold` bans the address until
    /// `now + duration` (one transaction; concurrent failures queue on the counter's row, so
    /// exactly one of them makes the ban).
    pub async fn count_address_failure(
        &self,
        address: &str,
        reason: &str,
        now: i64,
        window: i64,
        threshold: i64,
        duration: i64,
    ) -> Result<Counted, StoreError> {
        let mut tx = self.begin_tx(Access::Write).await?;
        let failures: i64 = sqlx::query(
            "INSERT INTO address_failures (address, window_start, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (address) DO UPDATE SET \
               failures = CASE WHEN $2 - address_failures.window_start >= $3 THEN 1 \
                               ELSE address_failures.failures + 1 END, \
               window_start = CASE WHEN $2 - address_failures.window_start >= $3 THEN $2 \
                                   ELSE address_failures.window_start END \
             RETURNING failures",
        )
        .bind(address.to_string())
        .bind(now)
        .bind(window)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if failures < threshold {
            tx.commit().await?;
            return Ok(Counted::Below(failures));
        }
        sqlx::query("DELETE FROM address_failures WHERE address = $1")
            .bind(address.to_string())
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO address_bans (address, reason, failures, since, until) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (address) DO UPDATE SET reason = $2, failures = $3, since = $4, until = $5 \
             RETURNING address, reason, failures, since, until",
        )
        .bind(address.to_string())
        .bind(reason.to_string())
        .bind(failures)
        .bind(now)
        .bind(now + duration)
        .fetch_one(&mut *tx)
        .await?;
        let ban = ban_of(&row)?;
        tx.commit().await?;
        Ok(Counted::Banned(ban))
    }

    /// The bans in force at `now`, soonest to end first.
    pub async fn bans_in_force(&self, now: i64) -> Result<Vec<StoredBan>, StoreError> {
        let rows = sqlx::query(
            "SELECT address, reason, failures, since, until FROM address_bans \
             WHERE until > $1 ORDER BY until, address",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(ban_of).collect()
    }

    /// Ends the ban of `address` early; whether there was one in force.
    pub async fn lift_address_ban(&self, address: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM address_bans WHERE address = $1 AND until > $2")
            .bind(address.to_string())
            .bind(now)
            .execute(self.write_pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets bans that ended and counters whose window ended before `now`.
    pub async fn purge_address_records(&self, now: i64, window: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_tx(Access::Write).await?;
        sqlx::query("DELETE FROM address_bans WHERE until <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM address_failures WHERE window_start <= $1")
            .bind(now - window)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
