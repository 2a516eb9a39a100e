//! Contact import, one checked row at a time in the caller's transaction: a row whose phone
//! number or WhatsApp user id (found through their blind indexes) is already a contact's updates
//! that contact, any other creates one, so a file re-imported, or naming one person twice, makes
//! no duplicates. The caller audits once per transaction (`contacts.imported`, counts only).
//!
//! Also the tenant's data settings: the default region of phone numbers written without their
//! country code, and the retention periods.

use crate::consent::NewConsent;
use crate::contacts::{ContactChange, NewContact, PHONE_INDEX, WA_USER_INDEX};
use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use confide_core::ids::{ContactId, TenantId};
use confide_core::phone::Phone;
use serde_json::{Map, Value};
use sqlx::Row;

/// One checked row of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportContact {
    pub phone: Option<Phone>,
    pub wa_user_id: Option<String>,
    pub name: Option<String>,
    /// `None`: the file has no labels for the row (kept as they are).
    pub labels: Option<Vec<String>>,
    /// Merged into the contact's attributes.
    pub attributes: Map<String, Value>,
    /// A consent event to record: purpose, status, source, evidence.
    pub consent: Option<(String, String, String, Option<String>)>,
}

/// What became of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created(ContactId),
    Updated(ContactId),
}

/// The tenant's data settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSettings {
    /// ISO 3166 alpha-2 region for numbers written without a country code (e.g. `BR`).
    pub default_region: Option<String>,
    /// Messages older than this many days are purged; `None` keeps them.
    pub retention_messages_days: Option<i64>,
    /// Ended sessions older than this many days are purged; `None` keeps them.
    pub retention_security_days: Option<i64>,
}

impl Scope<'_> {
    /// Creates or updates the contact a checked row names (see the module documentation);
    /// `Conflict` when its phone number and its WhatsApp user id belong to two contacts.
    pub async fn import_contact(
        &mut self,
        row: ImportContact,
        actor: &str,
    ) -> Result<Imported, StoreError> {
        let by_phone = match &row.phone {
            Some(p) => {
                let bidx = self.blind_index(PHONE_INDEX, p.as_str().as_bytes());
                self.contacts().id_by("phone_bidx", bidx).await?
            }
            None => None,
        };
        let by_wa = match &row.wa_user_id {
            Some(w) => {
                let bidx = self.blind_index(WA_USER_INDEX, w.as_bytes());
                self.contacts().id_by("wa_user_bidx", bidx).await?
            }
            None => None,
        };
        let outcome = match (by_phone, by_wa) {
            (Some(a), Some(b)) if a != b => {
                return Err(StoreError::Conflict(
                    "its phone number and its WhatsApp user id name two different contacts",
                ));
            }
            (Some(id), _) | (None, Some(id)) => {
                let current = self.contacts().get(id).await?;
                let mut attributes = current.attributes.clone();
                attributes.extend(row.attributes);
                let change = ContactChange {
                    // A phone number found through the WhatsApp user id fills a missing one.
                    phone: match (&current.phone, row.phone) {
                        (None, Some(p)) => Some(Some(p)),
                        _ => None,
                    },
                    name: row.name.map(Some),
                    labels: row.labels,
                    attributes: Some(attributes),
                };
                self.contacts().change(id, change).await?;
                Imported::Updated(id)
            }
            (None, None) => {
                let id = self
                    .contacts()
                    .insert(NewContact {
                        phone: row.phone,
                        wa_user_id: row.wa_user_id,
                        username: None,
                        name: row.name,
                        labels: row.labels.unwrap_or_default(),
                        attributes: row.attributes,
                    })
                    .await?;
                Imported::Created(id)
            }
        };
        if let Some((purpose, status, source, evidence)) = row.consent {
            let (Imported::Created(id) | Imported::Updated(id)) = outcome;
            // The same consent imported again (the same file twice) is recorded once.
            let key = format!(
                "{id}\u{1f}{purpose}\u{1f}{status}\u{1f}{source}\u{1f}{}",
                evidence.as_deref().unwrap_or("")
            );
            let dedupe = self.blind_index("import-consent", key.as_bytes());
            let at = self.now();
            self.consent()
                .append(
                    id,
                    NewConsent {
                        purpose,
                        status,
                        source,
                        evidence,
                        actor: actor.to_string(),
                        at_micros: at,
                        dedupe_key: Some(dedupe),
                    },
                )
                .await?;
        }
        Ok(outcome)
    }

    /// The tenant's data settings.
    pub async fn data_settings(&mut self) -> Result<DataSettings, StoreError> {
        let t = self.tenant_str().to_string();
        let r = sqlx::query(
            "SELECT default_region, retention_messages_days, retention_security_days FROM tenants WHERE tenant_id = $1",
        )
        .bind(t)
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(DataSettings {
            default_region: r.try_get(0)?,
            retention_messages_days: r.try_get(1)?,
            retention_security_days: r.try_get(2)?,
        })
    }

    /// Replaces the tenant's data settings (the caller validated and audits them).
    pub async fn set_data_settings(&mut self, s: &DataSettings) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        sqlx::query(
            "UPDATE tenants SET default_region = $1, retention_messages_days = $2, retention_security_days = $3 WHERE tenant_id = $4",
        )
        .bind(s.default_region.clone())
        .bind(s.retention_messages_days)
        .bind(s.retention_security_days)
        .bind(t)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Every tenant with a retention period set, and its settings (the retention job's list).
    pub async fn tenants_with_retention(
        &self,
    ) -> Result<Vec<(TenantId, DataSettings)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant_id, default_region, retention_messages_days, retention_security_days FROM tenants \
             WHERE status = 'active' AND (retention_messages_days IS NOT NULL OR retention_security_days IS NOT NULL) \
             ORDER BY tenant_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    crate::error::parse_id(r.try_get(0)?, "tenant")?,
                    DataSettings {
                        default_region: r.try_get(1)?,
                        retention_messages_days: r.try_get(2)?,
                        retention_security_days: r.try_get(3)?,
                    },
                ))
            })
            .collect()
    }
}
