//! Contacts resolved one identity at a time (BSUID first, then phone), identity moves, and
//! what a webhook teaches about a contact (a BSUID for one known by phone, a phone for one known
//! by BSUID, a new profile name or username). [`super::senders`] resolves a batch at once and
//! falls back to these for anything unusual.

use super::WaIdentity;
use crate::contacts::{PHONE_INDEX, WA_USER_INDEX};
use crate::error::StoreError;
use crate::scope::Scope;
use crate::tables::{self, contacts::ContactRow};
use confide_core::ids::ContactId;
use confide_core::phone::Phone;
use sqlx::Row;

const TABLE: &str = "contacts";

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
                if column == "name" {
                    self.index_contact_name(&id, Some(v.as_str())).await?;
                }
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
        let contact = ContactRow {
            id: row,
            wa_user_bidx: user_bidx.clone(),
            wa_user_ct: wa_ct,
            phone_bidx: phone_bidx.clone(),
            phone_ct,
            username_ct,
            name_ct,
            labels_ct: None,
            attributes_ct: attrs_ct,
            at: self.now(),
        };
        let t = self.tenant_str().to_string();
        let res = tables::insert(self.store.backend(), &t, &[contact])
            .execute(self.conn())
            .await?;
        if res.rows_affected() == 1 {
            let tokens = self.name_token_rows(&id.to_string(), who.name.as_deref());
            self.insert_name_tokens(&tokens).await?;
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
