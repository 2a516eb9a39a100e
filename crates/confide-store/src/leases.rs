//! Dispatcher leases: each channel's outbound queue is dispatched by one instance at a time.
//!
//! A lease is a row per channel naming its holder (a random id per dispatcher process) and when
//! it expires. The holder renews it while it dispatches; another instance takes it over only once
//! it has expired. Claiming an outbox entry checks the lease in the same statement
//! ([`crate::outbox::Outbox::claim`]), so a holder whose lease lapsed claims nothing more. On
//! SQLite there is one instance: it clears the leases of earlier processes when it starts.

use crate::backend::Backend;
use crate::error::StoreError;
use crate::store::Store;
use confide_core::ids::ChannelId;

/// What [`Store::acquire_dispatch_lease`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Held by the caller (until the `expires_at` asked for).
    Held,
    /// Another holder's lease has not expired yet.
    Busy,
}

impl Store {
    /// Takes (when free or expired) or renews (when already the caller's) the dispatch lease of
    /// `channel` for `holder` until `expires_at`; `now` decides whether another holder's lease
    /// has expired.
    pub async fn acquire_dispatch_lease(
        &self,
        channel: ChannelId,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Lease, StoreError> {
        let n = sqlx::query(
            "INSERT INTO dispatch_leases (channel_id, holder, expires_at, acquired_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (channel_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
             acquired_at = CASE WHEN dispatch_leases.holder = excluded.holder THEN dispatch_leases.acquired_at ELSE excluded.acquired_at END \
             WHERE dispatch_leases.holder = excluded.holder OR dispatch_leases.expires_at <= $4",
        )
        .bind(channel.to_string())
        .bind(holder.to_string())
        .bind(expires_at)
        .bind(now)
        .execute(self.write_pool())
        .await?
        .rows_affected();
        Ok(if n == 1 { Lease::Held } else { Lease::Busy })
    }

    /// Gives up `holder`'s lease of `channel` (on a clean stop, or when the channel is idle), so
    /// another instance can take it at once.
    pub async fn release_dispatch_lease(
        &self,
        channel: ChannelId,
        holder: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dispatch_leases WHERE channel_id = $1 AND holder = $2")
            .bind(channel.to_string())
            .bind(holder.to_string())
            .execute(self.write_pool())
            .await?;
        Ok(())
    }

    /// The current holder of `channel`'s lease and its expiry, if any.
    pub async fn dispatch_lease(
        &self,
        channel: ChannelId,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT holder, expires_at FROM dispatch_leases WHERE channel_id = $1")
                .bind(channel.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(row)
    }

    /// SQLite only (one instance): forgets the leases of earlier processes, so sends they left in
    /// flight are held for review at once. Does nothing on PostgreSQL, where other instances may
    /// be alive.
    pub async fn clear_stale_dispatch_leases(&self) -> Result<(), StoreError> {
        if self.backend() == Backend::Sqlite {
            sqlx::query("DELETE FROM dispatch_leases")
                .execute(self.write_pool())
                .await?;
        }
        Ok(())
    }
}
