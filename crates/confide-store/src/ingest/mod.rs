//! What inbound WhatsApp traffic writes: contacts resolved by identity (BSUID first, then phone),
//! identity moves, the senders' open conversations, messages stored once per wamid, delivery
//! statuses that never go backwards, template status changes. Every statement here is idempotent
//! (`ON CONFLICT DO NOTHING`, guarded updates), so a batch Meta redelivers, or that two instances
//! race on, changes nothing the second time.
//!
//! A webhook delivery carries up to 1,000 changes; written one by one, most of the time goes to
//! round trips, not to the database. So the writes also come in bulk, a statement per chunk of a
//! batch, each idempotent exactly like its one-by-one counterpart; anything unusual (a new
//! contact, an identity to fill in, a profile name that changed) falls back to that counterpart.
//! Both take their SQL from the same statement builder per table (`src/tables/`).
//!
//! These are methods of [`Scope`] itself rather than of one aggregate's handle: a round writes
//! contacts, conversations, messages and statuses together.
//!
//! - `contacts`: contacts one identity at a time, identity moves;
//! - `contact_batches`: contacts a batch at a time;
//! - `conversations`: the senders' open conversations, their times;
//! - `messages`: messages and delivery statuses, one at a time or in batches.

mod contact_batches;
mod contacts;
mod conversations;
mod messages;

use crate::error::StoreError;
use crate::scope::Scope;
use confide_core::ids::ChannelId;
use confide_core::phone::Phone;

/// Who a WhatsApp user is, as a webhook tells it. Any part may be absent: a user with a username
/// may withhold the phone; payloads before April 2026 carry no BSUID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WaIdentity {
    pub user_id: Option<String>,
    pub phone: Option<Phone>,
    pub username: Option<String>,
    pub name: Option<String>,
}

/// What recording a delivery status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// `(wamid, status)` was already recorded.
    Duplicate,
    /// Recorded; `advanced` when the message's current status moved forward.
    Recorded { advanced: bool },
}

/// One delivery status to record.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub wamid: String,
    pub status: String,
    pub rank: i64,
    pub at_micros: i64,
    pub details: Option<String>,
}

impl Scope<'_> {
    /// Applies a `message_template_status_update`: the template's status on this channel.
    pub async fn set_template_status(
        &mut self,
        channel: ChannelId,
        name: &str,
        language: &str,
        status: &str,
    ) -> Result<bool, StoreError> {
        let t = self.tenant_str().to_string();
        let res = sqlx::query(
            "UPDATE templates SET status = $1, updated_at = $2 WHERE tenant_id = $3 AND channel_id = $4 AND name = $5 AND language = $6",
        )
        .bind(status.to_string())
        .bind(self.now())
        .bind(t)
        .bind(channel.to_string())
        .bind(name.to_string())
        .bind(language.to_string())
        .execute(self.conn())
        .await?;
        Ok(res.rows_affected() > 0)
    }
}
