//! Erasure (GDPR Art. 17): a contact and everything of that person, and a whole tenant
//! (crypto-shredding), plus the consent tombstones an erased contact leaves behind.
//!
//! An erased contact's rows are deleted, not blanked: the contact, its label index rows, its
//! conversations with their messages, statuses, notes, outbox entries and media fetches, and (by
//! the foreign key's cascade, the only way rows leave the append-only ledger) its consent events.
//! What remains is a **tombstone** per identity and purpose it had opted out of: the tenant's
//! keyed blind index of its phone number and WhatsApp user id, the purpose and when. That cannot
//! be read back into the number, yet a contact who comes back with the same number carries the
//! opt-out ([`Scope::consent_rows`], which the send gate folds). Audit entries stay: they hold
//! ids, actions and counts only, so the chain still verifies.
//!
//! On SQLite the writer deletes with `secure_delete` on (freed content is overwritten with
//! zeros), and [`Store::truncate_log`] folds the write-ahead log back and empties it, so no old
//! page image of the erased rows is left in the files.

use crate::backend::Backend;
use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use crate::tx::{Access, set_tenant};
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::{ContactId, TenantId};
use confide_core::send_gate::{ConsentLedger, ConsentStatus, Purpose};
use serde::Serialize;
use sqlx::Row;

/// What one contact's erasure removed (counts only: this is what the audit entry records).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ErasedContact {
    pub conversations: u64,
    pub messages: u64,
    pub statuses: u64,
    pub notes: u64,
    pub consent_events: u64,
    /// Purposes whose opt-out outlives the erasure (one tombstone per identity each).
    pub tombstoned_purposes: Vec<String>,
    /// Storage keys of the person's media objects, whose rows are deleted: the bytes go from the
    /// media store after the commit.
    #[serde(skip)]
    pub media: Vec<String>,
    /// Storage keys of the tenant's export zips, deleted with it (an export may hold the
    /// person's data).
    #[serde(skip)]
    pub exports: Vec<String>,
}

/// What a tenant's erasure removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ErasedTenant {
    /// Wrapped keys destroyed (first, in their own committed transaction).
    pub keys: u64,
    /// Rows deleted, per table.
    pub rows: Vec<(String, u64)>,
}

/// The conversations of contact `$2` of tenant `$1`.
const CONVERSATIONS_OF: &str =
    "SELECT conversation_id FROM conversations WHERE tenant_id = $1 AND contact_id = $2";

impl Scope<'_> {
    /// The rows the send gate folds for a contact, in ledger order: first the opt-outs that
    /// tombstones of an erased contact with the same phone number or WhatsApp user id keep
    /// (they predate this contact), then its own ledger. `(purpose, status, at)`.
    pub async fn consent_rows(
        &mut self,
        contact: ContactId,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let t = self.tenant_str().to_string();
        let tombs = sqlx::query(
            "SELECT t.purpose, t.opted_out_at FROM consent_tombstones t JOIN contacts c \
               ON c.tenant_id = t.tenant_id \
              AND (t.identity_bidx = c.phone_bidx OR t.identity_bidx = c.wa_user_bidx) \
             WHERE c.tenant_id = $1 AND c.contact_id = $2 ORDER BY t.opted_out_at, t.purpose",
        )
        .bind(t)
        .bind(contact.to_string())
        .fetch_all(self.conn())
        .await?;
        let mut rows = Vec::with_capacity(tombs.len());
        for r in &tombs {
            rows.push((
                r.try_get::<String, _>(0)?,
                ConsentStatus::OptedOut.as_str().to_string(),
                r.try_get::<i64, _>(1)?,
            ));
        }
        for e in self.consent().history(contact).await? {
            rows.push((e.purpose, e.status, e.created_at));
        }
        Ok(rows)
    }

    /// Erases a contact and everything of that person (see the module documentation), audited
    /// as `contact.erased` with counts only. `NotFound` unless the contact is this tenant's.
    pub async fn erase_contact(
        &mut self,
        id: ContactId,
        actor: Actor,
        request_id: Option<String>,
    ) -> Result<ErasedContact, StoreError> {
        let t = self.tenant_str().to_string();
        let c = id.to_string();
        let row = sqlx::query(
            "SELECT phone_bidx, wa_user_bidx FROM contacts WHERE tenant_id = $1 AND contact_id = $2",
        )
        .bind(t.clone())
        .bind(c.clone())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let identities: Vec<Vec<u8>> = [
            row.try_get::<Option<Vec<u8>>, _>(0)?,
            row.try_get::<Option<Vec<u8>>, _>(1)?,
        ]
        .into_iter()
        .flatten()
        .collect();

        // The tombstones: what the ledger (with older tombstones) says now, per purpose.
        let rows = self.consent_rows(id).await?;
        let ledger =
            ConsentLedger::from_rows(rows.iter().map(|(p, s, at)| (p.as_str(), s.as_str(), *at)))
                .map_err(|e| StoreError::Corrupt(format!("consent ledger: {e}")))?;
        let mut erased = ErasedContact::default();
        for purpose in Purpose::ALL {
            let current = ledger.current(purpose);
            for bidx in &identities {
                match current {
                    Some(cur) if cur.status == ConsentStatus::OptedOut => {
                        sqlx::query(
                            "INSERT INTO consent_tombstones (tenant_id, identity_bidx, purpose, opted_out_at) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, identity_bidx, purpose) \
                             DO UPDATE SET opted_out_at = excluded.opted_out_at",
                        )
                        .bind(t.clone())
                        .bind(bidx.clone())
                        .bind(purpose.as_str().to_string())
                        .bind(cur.since)
                        .execute(self.conn())
                        .await?;
                    }
                    // Opted in again since (or never opted out): no opt-out to keep.
                    _ => {
                        sqlx::query(
                            "DELETE FROM consent_tombstones WHERE tenant_id = $1 AND identity_bidx = $2 AND purpose = $3",
                        )
                        .bind(t.clone())
                        .bind(bidx.clone())
                        .bind(purpose.as_str().to_string())
                        .execute(self.conn())
                        .await?;
                    }
                }
            }
            if current.is_some_and(|cur| cur.status == ConsentStatus::OptedOut)
                && !identities.is_empty()
            {
                erased
                    .tombstoned_purposes
                    .push(purpose.as_str().to_string());
            }
        }

        let of_messages = format!(
            "SELECT message_id FROM messages WHERE tenant_id = $1 AND conversation_id IN ({CONVERSATIONS_OF})"
        );
        // The person's media objects (those that came with their messages): rows now, bytes
        // once this commits.
        erased.media = self.delete_media_of(&of_messages, &c).await?;
        // Exports made before may hold the person's data: every export of the tenant goes
        // (rows now, zips after the commit with the media).
        erased.exports = self.exports().delete_all().await?;
        erased.statuses = self
            .delete(
                format!(
                    "DELETE FROM message_statuses WHERE tenant_id = $1 AND wamid IN \
                 (SELECT wamid FROM messages WHERE tenant_id = $1 AND wamid IS NOT NULL \
                  AND conversation_id IN ({CONVERSATIONS_OF}))"
                ),
                &c,
            )
            .await?;
        self.delete(
            "DELETE FROM outbox WHERE tenant_id = $1 AND contact_id = $2".to_string(),
            &c,
        )
        .await?;
        self.delete(
            format!(
                "DELETE FROM media_fetches WHERE tenant_id = $1 AND message_id IN ({of_messages})"
            ),
            &c,
        )
        .await?;
        erased.notes = self
            .delete(
                format!("DELETE FROM notes WHERE tenant_id = $1 AND conversation_id IN ({CONVERSATIONS_OF})"),
                &c,
            )
            .await?;
        erased.messages = self
            .delete(
                format!("DELETE FROM messages WHERE tenant_id = $1 AND conversation_id IN ({CONVERSATIONS_OF})"),
                &c,
            )
            .await?;
        erased.conversations = self
            .delete(
                "DELETE FROM conversations WHERE tenant_id = $1 AND contact_id = $2".to_string(),
                &c,
            )
            .await?;
        self.delete(
            "DELETE FROM contact_labels WHERE tenant_id = $1 AND contact_id = $2".to_string(),
            &c,
        )
        .await?;
        self.delete(
            "DELETE FROM contact_name_tokens WHERE tenant_id = $1 AND contact_id = $2".to_string(),
            &c,
        )
        .await?;
        self.delete(
            "DELETE FROM messaging_reach WHERE tenant_id = $1 AND contact_id = $2".to_string(),
            &c,
        )
        .await?;
        let events: i64 = sqlx::query(
            "SELECT COUNT(*) FROM consent_events WHERE tenant_id = $1 AND contact_id = $2",
        )
        .bind(t.clone())
        .bind(c.clone())
        .fetch_one(self.conn())
        .await?
        .try_get(0)?;
        erased.consent_events = u64::try_from(events).unwrap_or(0);
        // The consent events go with the contact (the foreign key's cascade: the application
        // itself may never delete from the ledger).
        self.delete(
            "DELETE FROM contacts WHERE tenant_id = $1 AND contact_id = $2".to_string(),
            &c,
        )
        .await?;
        self.audit(
            &AuditEvent::new(actor, "contact.erased", format!("contact:{c}"))
                .with_details(serde_json::json!({
                    "conversations": erased.conversations,
                    "messages": erased.messages,
                    "notes": erased.notes,
                    "consent_events": erased.consent_events,
                    "media": erased.media.len(),
                    "opt_outs_kept": erased.tombstoned_purposes,
                }))
                .with_request_id(request_id),
        )
        .await?;
        Ok(erased)
    }

    /// Runs a `DELETE` whose `$1` is this tenant and `$2` the given id; rows deleted.
    async fn delete(&mut self, sql: String, id: &str) -> Result<u64, StoreError> {
        let t = self.tenant_str().to_string();
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(id.to_string())
            .execute(self.conn())
            .await?
            .rows_affected())
    }
}

/// Tenant tables in the order their rows are deleted (children before parents). The consent
/// ledger goes with the contacts (the cascade: the application may not delete from it). The
/// audit log and its head stay: they hold no personal data and must still verify.
const TENANT_TABLES: &[&str] = &[
    "exports",
    "media_link_uses",
    "media_objects",
    "media_fetches",
    "outbox",
    "notes",
    "message_statuses",
    "charges",
    "messages",
    "conversations",
    "contact_labels",
    "contact_name_tokens",
    "messaging_reach",
    "consent_tombstones",
    "contacts",
    "broadcasts",
    "canned_responses",
    "templates",
    "recovery_codes",
    "sessions",
    "support_sessions",
    "support_grants",
    "api_keys",
    "principals",
    "users",
    "roles",
    "channel_routes",
    "channels",
    "tenant_keys",
];

impl Store {
    /// Erases a tenant: its wrapped keys are destroyed first, in a transaction of their own, so
    /// whatever is left (a backup, a row a crash leaves behind) no longer decrypts; then every
    /// row of the tenant is deleted, table by table, and the tenant itself. Its audit log stays
    /// (ids and counts only) and records `tenant.erased`. `NotFound` for an unknown tenant.
    pub async fn erase_tenant(
        &self,
        tenant: TenantId,
        actor: Actor,
    ) -> Result<ErasedTenant, StoreError> {
        let t = tenant.to_string();
        let mut tx = self.begin_tenant_tx(&t, Access::Write).await?;
        let exists = sqlx::query("SELECT COUNT(*) FROM tenants WHERE tenant_id = $1")
            .bind(t.clone())
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>(0)?;
        if exists == 0 {
            return Err(StoreError::NotFound);
        }
        let keys = sqlx::query("DELETE FROM tenant_keys WHERE tenant_id = $1")
            .bind(t.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE tenants SET status = 'erasing' WHERE tenant_id = $1")
            .bind(t.clone())
            .execute(&mut *tx)
            .await?;
        crate::audit::append_in(
            self,
            &mut tx,
            &t,
            &AuditEvent::new(
                actor.clone(),
                "tenant.keys_destroyed",
                format!("tenant:{t}"),
            )
            .with_details(serde_json::json!({"keys": keys})),
        )
        .await?;
        tx.commit().await?;
        self.keys().forget(tenant);

        let mut erased = ErasedTenant {
            keys,
            rows: Vec::new(),
        };
        let mut tx = self.begin_tx(Access::Write).await?;
        set_tenant(&mut tx, self.backend(), &t).await?;
        for table in TENANT_TABLES {
            let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1"
            )))
            .bind(t.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            erased.rows.push(((*table).to_string(), n));
        }
        sqlx::query("DELETE FROM tenants WHERE tenant_id = $1")
            .bind(t.clone())
            .execute(&mut *tx)
            .await?;
        let total: u64 = erased.rows.iter().map(|(_, n)| n).sum();
        crate::audit::append_in(
            self,
            &mut tx,
            &t,
            &AuditEvent::new(actor, "tenant.erased", format!("tenant:{t}"))
                .with_details(serde_json::json!({"rows": total})),
        )
        .await?;
        tx.commit().await?;
        Ok(erased)
    }

    /// SQLite: folds the write-ahead log into the database file and empties it (after an
    /// erasure, so no page image of the erased rows stays in the log). Best effort while
    /// readers hold old snapshots: `false` when the log could not be emptied. Nothing to do on
    /// PostgreSQL (its dead rows are reclaimed by vacuum).
    pub async fn truncate_log(&self) -> Result<bool, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(true);
        }
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(self.write_pool())
            .await?;
        Ok(row.try_get::<i64, _>(0)? == 0)
    }
}

/// What one retention pass purged from a tenant (counts only: the audit entry's details).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Purged {
    pub messages: u64,
    pub statuses: u64,
    pub sessions: u64,
    /// Storage keys of the purged messages' media objects (the bytes go after the commit).
    #[serde(skip)]
    pub media: Vec<String>,
}

impl Scope<'_> {
    /// Deletes the media objects (and their used-link records) of the messages `of_messages`
    /// selects (`$1` the tenant, `$2` the given bind); their storage keys.
    async fn delete_media_of<B>(
        &mut self,
        of_messages: &str,
        bind: &B,
    ) -> Result<Vec<String>, StoreError>
    where
        B: Clone + Send + for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + 'static,
    {
        let t = self.tenant_str().to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT storage_key FROM media_objects WHERE tenant_id = $1 AND message_id IN ({of_messages})"
        )))
        .bind(t.clone())
        .bind(bind.clone())
        .fetch_all(self.conn())
        .await?;
        let keys = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM media_link_uses WHERE tenant_id = $1 AND media_id IN \
             (SELECT media_id FROM media_objects WHERE tenant_id = $1 AND message_id IN ({of_messages}))"
        )))
        .bind(t.clone())
        .bind(bind.clone())
        .execute(self.conn())
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM media_objects WHERE tenant_id = $1 AND message_id IN ({of_messages})"
        )))
        .bind(t)
        .bind(bind.clone())
        .execute(self.conn())
        .await?;
        Ok(keys)
    }

    /// Retention: takes the job's lease for this tenant (PostgreSQL: a transaction-scoped
    /// advisory lock, so one instance at a time purges it; SQLite has one writer anyway). False
    /// when another instance holds it.
    pub async fn retention_lease(&mut self) -> Result<bool, StoreError> {
        if self.store.backend() != Backend::Postgres {
            return Ok(true);
        }
        let t = self.tenant_str().to_string();
        let r = sqlx::query(
            "SELECT pg_try_advisory_xact_lock(hashtext('confide.retention'), hashtext($1))",
        )
        .bind(t)
        .fetch_one(self.conn())
        .await?;
        Ok(r.try_get::<bool, _>(0)?)
    }

    /// Retention: deletes the messages created before `messages_before` (with their statuses,
    /// media fetches, outbox entries) and the sessions that ended before `sessions_before`
    /// (Unix micros; `None` keeps them).
    pub async fn purge(
        &mut self,
        messages_before: Option<i64>,
        sessions_before: Option<i64>,
    ) -> Result<Purged, StoreError> {
        let t = self.tenant_str().to_string();
        let mut purged = Purged::default();
        if let Some(cutoff) = messages_before {
            purged.media = self
                .delete_media_of(
                    "SELECT message_id FROM messages WHERE tenant_id = $1 AND created_at < $2",
                    &cutoff,
                )
                .await?;
            let run = |sql: &'static str| sqlx::query(sql).bind(t.clone()).bind(cutoff);
            purged.statuses = run(
                "DELETE FROM message_statuses WHERE tenant_id = $1 AND wamid IN \
                 (SELECT wamid FROM messages WHERE tenant_id = $1 AND created_at < $2 AND wamid IS NOT NULL)",
            )
            .execute(self.conn())
            .await?
            .rows_affected();
            run("DELETE FROM outbox WHERE tenant_id = $1 AND message_id IN (SELECT message_id FROM messages WHERE tenant_id = $1 AND created_at < $2)")
                .execute(self.conn())
                .await?;
            run("DELETE FROM media_fetches WHERE tenant_id = $1 AND message_id IN (SELECT message_id FROM messages WHERE tenant_id = $1 AND created_at < $2)")
                .execute(self.conn())
                .await?;
            purged.messages = run("DELETE FROM messages WHERE tenant_id = $1 AND created_at < $2")
                .execute(self.conn())
                .await?
                .rows_affected();
        }
        if let Some(cutoff) = sessions_before {
            purged.sessions =
                sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND expires_at < $2")
                    .bind(t.clone())
                    .bind(cutoff)
                    .execute(self.conn())
                    .await?
                    .rows_affected();
            purged.sessions += sqlx::query(
                "DELETE FROM support_sessions WHERE tenant_id = $1 AND expires_at < $2",
            )
            .bind(t)
            .bind(cutoff)
            .execute(self.conn())
            .await?
            .rows_affected();
        }
        Ok(purged)
    }
}
