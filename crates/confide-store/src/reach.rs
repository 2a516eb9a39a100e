//! Who a channel reached outside a customer service window (business-initiated sends), for the
//! messaging-limit tier; and a tenant's opt-out keyword settings. Ids, times and a JSON document
//! of words only.

use crate::error::StoreError;
use crate::scope::Scope;
use confide_core::ids::{ChannelId, ContactId};
use sqlx::Row;

/// What the send gate needs about a channel's reach at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReachCount {
    /// Unique contacts reached outside a window since the cut-off.
    pub reached: u64,
    /// Whether the contact asked about is one of them.
    pub contact_reached: bool,
}

impl Scope<'_> {
    /// Unique contacts `channel` reached outside a window at or after `since`, and whether
    /// `contact` is one of them: one index range count and one primary-key lookup.
    pub async fn reach_since(
        &mut self,
        channel: ChannelId,
        contact: ContactId,
        since: i64,
    ) -> Result<ReachCount, StoreError> {
        let t = self.tenant_str().to_string();
        let reached: i64 = sqlx::query(
            "SELECT COUNT(*) FROM messaging_reach WHERE tenant_id = $1 AND channel_id = $2 AND reached_at >= $3",
        )
        .bind(t.clone())
        .bind(channel.to_string())
        .bind(since)
        .fetch_one(self.conn())
        .await?
        .try_get(0)?;
        let contact_reached = sqlx::query(
            "SELECT 1 FROM messaging_reach WHERE tenant_id = $1 AND channel_id = $2 AND contact_id = $3 AND reached_at >= $4",
        )
        .bind(t)
        .bind(channel.to_string())
        .bind(contact.to_string())
        .bind(since)
        .fetch_optional(self.conn())
        .await?
        .is_some();
        Ok(ReachCount {
            reached: u64::try_from(reached).unwrap_or(0),
            contact_reached,
        })
    }

    /// Records a business-initiated send to `contact` on `channel` at `at` (the latest counts).
    pub async fn record_reach(
        &mut self,
        channel: ChannelId,
        contact: ContactId,
        at: i64,
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO messaging_reach (tenant_id, channel_id, contact_id, reached_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, channel_id, contact_id) DO UPDATE SET reached_at = \
             CASE WHEN messaging_reach.reached_at > excluded.reached_at THEN messaging_reach.reached_at ELSE excluded.reached_at END",
        )
        .bind(t)
        .bind(channel.to_string())
        .bind(contact.to_string())
        .bind(at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The tenant's opt-out keyword settings (a JSON document), if set.
    pub async fn opt_out_settings(&mut self) -> Result<Option<String>, StoreError> {
        let t = self.tenant_str().to_string();
        let row = sqlx::query("SELECT opt_out_settings FROM tenants WHERE tenant_id = $1")
            .bind(t)
            .fetch_optional(self.conn())
            .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    /// Replaces the tenant's opt-out keyword settings.
    pub async fn set_opt_out_settings(&mut self, json: &str) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        sqlx::query("UPDATE tenants SET opt_out_settings = $1 WHERE tenant_id = $2")
            .bind(json.to_string())
            .bind(t)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
