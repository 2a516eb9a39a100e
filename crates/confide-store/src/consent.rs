//! The consent ledger: append-only events per contact and purpose. The latest event for a
//! purpose is the contact's current consent; the ledger itself is never rewritten.

use crate::error::StoreError;
use crate::scope::Scope;
use confide_core::ids::{ConsentEventId, ContactId};
use serde::Serialize;
use sqlx::Row;

const TABLE: &str = "consent_events";

/// One consent event to append.
#[derive(Debug, Clone)]
pub struct NewConsent {
    /// `marketing`, `utility` or `service`.
    pub purpose: String,
    /// `opted_in` or `opted_out`.
    pub status: String,
    /// Where it came from, e.g. `whatsapp_user_preferences`, `api`, `import`, `keyword`, or an
    /// operator's words (sealed: free text may describe the person).
    pub source: String,
    /// Free-form evidence (sealed: it may quote the person).
    pub evidence: Option<String>,
    /// Who recorded it (`meta`, `user:<id>`, ...).
    pub actor: String,
    pub at_micros: i64,
    /// Identifies an event that may be delivered again (a webhook); a second append with the
    /// same key is ignored. Callers pass a keyed hash, never personal data.
    pub dedupe_key: Option<Vec<u8>>,
}

/// A stored consent event, decrypted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConsentEvent {
    pub id: ConsentEventId,
    pub contact_id: ContactId,
    pub purpose: String,
    pub status: String,
    pub source: String,
    pub evidence: Option<String>,
    pub actor: String,
    pub created_at: i64,
}

impl<'s> Scope<'s> {
    /// The tenant's consent ledger.
    pub fn consent(&mut self) -> Consent<'_, 's> {
        Consent { scope: self }
    }
}

/// What can be done to the consent ledger, in the scope's transaction: append an event, read a
/// contact's history. Nothing else: the ledger is append-only.
pub struct Consent<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Consent<'_, '_> {
    /// Appends an event; `None` when its dedupe key was already recorded.
    pub async fn append(
        &mut self,
        contact: ContactId,
        c: NewConsent,
    ) -> Result<Option<ConsentEventId>, StoreError> {
        let id = ConsentEventId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let row = id.to_string();
        let evidence = c
            .evidence
            .as_deref()
            .map(|e| self.scope.seal_str(TABLE, "evidence", &row, e))
            .transpose()?;
        let source = self.scope.seal_str(TABLE, "source", &row, &c.source)?;
        let t = self.scope.tenant_str().to_string();
        // `source` (clear) stays empty: it held the source before sources were sealed.
        let res = sqlx::query(
            "INSERT INTO consent_events (tenant_id, event_id, contact_id, purpose, status, source, source_ct, evidence_ct, actor, created_at, dedupe_key) \
             VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(t)
        .bind(row)
        .bind(contact.to_string())
        .bind(c.purpose)
        .bind(c.status)
        .bind(source)
        .bind(evidence)
        .bind(c.actor)
        .bind(c.at_micros)
        .bind(c.dedupe_key)
        .execute(self.scope.conn())
        .await?;
        Ok((res.rows_affected() == 1).then_some(id))
    }

    /// A contact's ledger, oldest first.
    pub async fn history(&mut self, contact: ContactId) -> Result<Vec<ConsentEvent>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows = sqlx::query(
            "SELECT event_id, purpose, status, source, evidence_ct, actor, created_at, source_ct FROM consent_events \
             WHERE tenant_id = $1 AND contact_id = $2 ORDER BY created_at, event_id",
        )
        .bind(t)
        .bind(contact.to_string())
        .fetch_all(self.scope.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let evidence: Option<Vec<u8>> = r.try_get(4)?;
                let sealed_source: Option<Vec<u8>> = r.try_get(7)?;
                let source = match sealed_source {
                    Some(ct) => self.scope.open_string(TABLE, "source", &id, &ct)?,
                    None => r.try_get(3)?,
                };
                Ok(ConsentEvent {
                    evidence: evidence
                        .map(|e| self.scope.open_string(TABLE, "evidence", &id, &e))
                        .transpose()?,
                    id: id
                        .parse()
                        .map_err(|_| StoreError::Corrupt("consent id".into()))?,
                    contact_id: contact,
                    purpose: r.try_get(1)?,
                    status: r.try_get(2)?,
                    source,
                    actor: r.try_get(5)?,
                    created_at: r.try_get(6)?,
                })
            })
            .collect()
    }
}
