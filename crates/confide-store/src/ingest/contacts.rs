//! What inbound WhatsApp traffic writes: contacts resolved by identity (BSUID first, then phone),
//! identity moves, delivery statuses that never go backwards, template status changes. Every
//! statement here is idempotent (`ON CONFLICT DO NOTHING`, guarded updates), so a batch Meta
//! redelivers, or that two instances race on, changes nothing the second time.

use crate::StoreError;
use crate::contacts::{PHONE_INDEX, WA_USER_INDEX};
use crate::scope::Scope;
use confide_core::ids::{ChannelId, ContactId};
use confide_core::phone::Phone;
use sqlx::Row;

const TABLE: &str = "contacts";

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

impl Scope<'_> {
    async fn contact_by_bidx(
        &mut self,
        column: &'static str,
        bidx: &[u8],
    ) -> Result<Option<Found>, StoreError> {
        let sql = format!(
            "SELECT contact_id, wa_user_bidx IS NULL, phone_bidx IS NULL, name_ct, username_ct FROM contacts \
             WHERE tenant_id = $1 AND {column} = $2"
        );
        let t = self.tenant_str().to_string();
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(bidx.to_vec())
            .fetch_optional(self.conn())
            .await?;
        row.map(|r| {
            Ok(Found {
                id: r.try_get(0)?,
                no_user: flag(&r, 1)?,
                no_phone: flag(&r, 2)?,
                name_ct: r.try_get(3)?,
                username_ct: r.try_get(4)?,
            })
        })
        .transpose()
    }

    /// The contact a WhatsApp identity belongs to, created when new. Attributes learned now (a
    /// BSUID for a contact known by phone, a phone for one known by BSUID, a new profile name or
    /// username) are filled in.
    pub async fn resolve_wa_contact(&mut self, who: &WaIdentity) -> Result<ContactId, StoreError> {
        let user_bidx = who
            .user_id
            .as_ref()
            .map(|u| self.blind_index(WA_USER_INDEX, u.as_bytes()));
        let phone_bidx = who
            .phone
            .as_ref()
            .map(|p| self.blind_index(PHONE_INDEX, p.as_str().as_bytes()));
        let mut found = None;
        if let Some(b) = &user_bidx {
            found = self.contact_by_bidx("wa_user_bidx", b).await?;
        }
        if found.is_none()
            && let Some(b) = &phone_bidx
        {
            found = self.contact_by_bidx("phone_bidx", b).await?;
        }
        let Some(Found {
            id,
            no_user,
            no_phone,
            name_ct,
            username_ct,
        }) = found
        else {
            return self.insert_wa_contact(who, user_bidx, phone_bidx).await;
        };
        if no_user && let (Some(u), Some(b)) = (&who.user_id, &user_bidx) {
            self.set_contact_identity(&id, "wa_user", "wa_user_bidx", u, b)
                .await?;
        }
        if no_phone && let (Some(p), Some(b)) = (&who.phone, &phone_bidx) {
            self.set_contact_identity(&id, "phone", "phone_bidx", p.as_str(), b)
                .await?;
        }
        for (column, value, stored) in [
            ("name", &who.name, name_ct),
            ("username", &who.username, username_ct),
        ] {
            if let Some(v) = value {
                // Rewrite only what changed (a profile name is sent with every message).
                let current = stored
                    .map(|ct| self.open_string(TABLE, column, &id, &ct))
                    .transpose()?;
                if current.as_deref() == Some(v.as_str()) {
                    continue;
                }
                let ct = self.seal_str(TABLE, column, &id, v)?;
                let sql = format!(
                    "UPDATE contacts SET {column}_ct = $1 WHERE tenant_id = $2 AND contact_id = $3"
                );
                let t = self.tenant_str().to_string();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(ct)
                    .bind(t)
                    .bind(id.clone())
                    .execute(self.conn())
                    .await?;
            }
        }
        id.parse()
            .map_err(|_| StoreError::Corrupt("contact id".into()))
    }

    async fn insert_wa_contact(
        &mut self,
        who: &WaIdentity,
        user_bidx: Option<Vec<u8>>,
        phone_bidx: Option<Vec<u8>>,
    ) -> Result<ContactId, StoreError> {
        let id = ContactId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
        let row = id.to_string();
        let seal = |s: &Self, col: &str, v: Option<&str>| {
            v.map(|v| s.seal_str(TABLE, col, &row, v)).transpose()
        };
        let wa_ct = seal(self, "wa_user", who.user_id.as_deref())?;
        let phone_ct = seal(self, "phone", who.phone.as_ref().map(Phone::as_str))?;
        let username_ct = seal(self, "username", who.username.as_deref())?;
        let name_ct = seal(self, "name", who.name.as_deref())?;
        let attrs_ct = self.seal_str(TABLE, "attributes", &row, "{}")?;
        let now = self.now();
        let t = self.tenant_str().to_string();
        let res = sqlx::query(
            "INSERT INTO contacts (tenant_id, contact_id, wa_user_bidx, wa_user_ct, phone_bidx, phone_ct, username_ct, name_ct, \
             labels, attributes_ct, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '[]', $9, $10, $10) \
             ON CONFLICT DO NOTHING",
        )
        .bind(t)
        .bind(row)
        .bind(user_bidx.clone())
        .bind(wa_ct)
        .bind(phone_bidx.clone())
        .bind(phone_ct)
        .bind(username_ct)
        .bind(name_ct)
        .bind(attrs_ct)
        .bind(now)
        .execute(self.conn())
        .await?;
        if res.rows_affected() == 1 {
            return Ok(id);
        }
        // Another writer created it first: use theirs.
        for (column, bidx) in [("wa_user_bidx", user_bidx), ("phone_bidx", phone_bidx)] {
            if let Some(b) = bidx
                && let Some(other) = self.contact_by_bidx(column, &b).await?
            {
                return other
                    .id
                    .parse()
                    .map_err(|_| StoreError::Corrupt("contact id".into()));
            }
        }
        Err(StoreError::Conflict("a contact with this identity"))
    }

    /// Sets a contact's BSUID or phone unless another contact of the tenant already holds it.
    async fn set_contact_identity(
        &mut self,
        id: &str,
        column: &'static str,
        bidx_column: &'static str,
        value: &str,
        bidx: &[u8],
    ) -> Result<bool, StoreError> {
        let ct = self.seal_str(TABLE, column, id, value)?;
        let sql = format!(
            "UPDATE contacts SET {column}_ct = $1, {bidx_column} = $2 WHERE tenant_id = $3 AND contact_id = $4 \
             AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.tenant_id = $3 AND o.{bidx_column} = $2)"
        );
        let t = self.tenant_str().to_string();
        let res = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ct)
            .bind(bidx.to_vec())
            .bind(t)
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// A user changed number (and so BSUID): the contact known by `previous_user_id` (or, for
    /// older payloads, by the old phone) takes the new identity, keeping its conversations,
    /// consent and labels. Returns the contact, or `None` when the old identity is unknown.
    pub async fn move_wa_identity(
        &mut self,
        previous_user_id: Option<&str>,
        previous_phone: Option<&Phone>,
        new: &WaIdentity,
    ) -> Result<Option<ContactId>, StoreError> {
        let mut found = None;
        if let Some(u) = previous_user_id {
            let b = self.blind_index(WA_USER_INDEX, u.as_bytes());
            found = self.contact_by_bidx("wa_user_bidx", &b).await?;
        }
        if found.is_none()
            && let Some(p) = previous_phone
        {
            let b = self.blind_index(PHONE_INDEX, p.as_str().as_bytes());
            found = self.contact_by_bidx("phone_bidx", &b).await?;
        }
        let Some(Found { id, .. }) = found else {
            return Ok(None);
        };
        let t = self.tenant_str().to_string();
        // A contact already created under the new identity (a message that overtook the system
        // notice) gives its identity up; its history stays where it is.
        if let Some(u) = &new.user_id {
            let b = self.blind_index(WA_USER_INDEX, u.as_bytes());
            sqlx::query("UPDATE contacts SET wa_user_bidx = NULL, wa_user_ct = NULL WHERE tenant_id = $1 AND wa_user_bidx = $2 AND contact_id <> $3")
                .bind(t.clone())
                .bind(b.clone())
                .bind(id.clone())
                .execute(self.conn())
                .await?;
            let ct = self.seal_str(TABLE, "wa_user", &id, u)?;
            sqlx::query("UPDATE contacts SET wa_user_bidx = $1, wa_user_ct = $2, updated_at = $3 WHERE tenant_id = $4 AND contact_id = $5")
                .bind(b)
                .bind(ct)
                .bind(self.now())
                .bind(t.clone())
                .bind(id.clone())
                .execute(self.conn())
                .await?;
        }
        if let Some(p) = &new.phone {
            let b = self.blind_index(PHONE_INDEX, p.as_str().as_bytes());
            sqlx::query("UPDATE contacts SET phone_bidx = NULL, phone_ct = NULL WHERE tenant_id = $1 AND phone_bidx = $2 AND contact_id <> $3")
                .bind(t.clone())
                .bind(b.clone())
                .bind(id.clone())
                .execute(self.conn())
                .await?;
            let ct = self.seal_str(TABLE, "phone", &id, p.as_str())?;
            sqlx::query("UPDATE contacts SET phone_bidx = $1, phone_ct = $2 WHERE tenant_id = $3 AND contact_id = $4")
                .bind(b)
                .bind(ct)
                .bind(t)
                .bind(id.clone())
                .execute(self.conn())
                .await?;
        }
        Ok(Some(
            id.parse()
                .map_err(|_| StoreError::Corrupt("contact id".into()))?,
        ))
    }

    /// Records a delivery status once per `(wamid, status)` and moves the message's status
    /// forward only (a late `delivered` never replaces `read`).
    pub async fn record_status(
        &mut self,
        wamid: &str,
        status: &str,
        rank: i64,
        at_micros: i64,
        details: Option<&serde_json::Value>,
    ) -> Result<StatusOutcome, StoreError> {
        let t = self.tenant_str().to_string();
        let res = sqlx::query(
            "INSERT INTO message_statuses (tenant_id, wamid, status, at, details) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(t.clone())
        .bind(wamid.to_string())
        .bind(status.to_string())
        .bind(at_micros)
        .bind(details.map(|d| d.to_string()))
        .execute(self.conn())
        .await?;
        if res.rows_affected() == 0 {
            return Ok(StatusOutcome::Duplicate);
        }
        let moved = sqlx::query(
            "UPDATE messages SET status = $1, status_rank = $2 WHERE tenant_id = $3 AND wamid = $4 AND status_rank < $2",
        )
        .bind(status.to_string())
        .bind(rank)
        .bind(t)
        .bind(wamid.to_string())
        .execute(self.conn())
        .await?;
        Ok(StatusOutcome::Recorded {
            advanced: moved.rows_affected() > 0,
        })
    }

    /// The current status of a message by wamid (for tests and the inbox).
    pub async fn message_status(&mut self, wamid: &str) -> Result<Option<String>, StoreError> {
        let t = self.tenant_str().to_string();
        let row = sqlx::query("SELECT status FROM messages WHERE tenant_id = $1 AND wamid = $2")
            .bind(t)
            .bind(wamid.to_string())
            .fetch_optional(self.conn())
            .await?;
        row.map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .transpose()
    }

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

/// A contact found by a blind index, with what resolving needs.
struct Found {
    id: String,
    no_user: bool,
    no_phone: bool,
    name_ct: Option<Vec<u8>>,
    username_ct: Option<Vec<u8>>,
}

/// Reads a boolean expression column (SQLite gives an integer, PostgreSQL a boolean).
fn flag(r: &sqlx::any::AnyRow, i: usize) -> Result<bool, StoreError> {
    match r.try_get::<bool, _>(i) {
        Ok(b) => Ok(b),
        Err(_) => Ok(r.try_get::<i64, _>(i)? != 0),
    }
}
