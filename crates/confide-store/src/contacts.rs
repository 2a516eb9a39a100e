//! The contact book. A contact's identity is its WhatsApp user id (BSUID) when known, else its
//! phone number; both are sealed and found through per-tenant blind indexes.

use crate::error::StoreError;
use crate::page::{Page, next_cursor, page_size};
use crate::scope::Scope;
use crate::tables::{self, contacts::ContactRow};
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::ContactId;
use confide_core::phone::Phone;
use serde::Serialize;
use sqlx::Row;

const TABLE: &str = "contacts";
pub const PHONE_INDEX: &str = "contact-phone";
pub const WA_USER_INDEX: &str = "contact-wa-user";
/// Labels are sealed in the contact row (`labels_ct`) and found through one blind-index row per
/// label in `contact_labels`.
pub const LABEL_INDEX: &str = "contact-label";

/// A contact to create.
#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub phone: Option<Phone>,
    pub wa_user_id: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub labels: Vec<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// A contact, decrypted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub phone: Option<Phone>,
    pub wa_user_id: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub labels: Vec<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a page of contacts ends: its last row's `created_at` and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactCursor {
    pub created_at: i64,
    pub id: ContactId,
}

/// A change to a contact: `None` leaves a field as it is; `Some(None)` clears a phone or name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactChange {
    pub phone: Option<Option<Phone>>,
    pub name: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `labels` (index 9) is the clear JSON of rows written before labels were sealed; it is read only
/// while `labels_ct` is empty, and emptied by [`crate::store::Store::seal_legacy_plaintext`].
const COLUMNS: &str = "contact_id, wa_user_ct, phone_ct, username_ct, name_ct, labels_ct, attributes_ct, created_at, updated_at, labels";

impl<'s> Scope<'s> {
    /// The tenant's contact book.
    pub fn contacts(&mut self) -> Contacts<'_, 's> {
        Contacts { scope: self }
    }
}

/// What can be done to the tenant's contacts, in the scope's transaction: create, read, list a page
/// (by label), change, find by phone or BSUID. Contacts that WhatsApp traffic brings in are
/// resolved by [`crate::ingest`].
pub struct Contacts<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Contacts<'_, '_> {
    pub async fn create(&mut self, new: NewContact, actor: Actor) -> Result<Contact, StoreError> {
        let id = self.insert(new).await?;
        let row = id.to_string();
        self.scope
            .audit(&AuditEvent::new(
                actor,
                "contact.created",
                format!("contact:{row}"),
            ))
            .await?;
        self.get(id).await
    }

    /// Inserts a contact (sealed, with its label index rows), unaudited: the caller audits (one
    /// entry per contact from the API, one per batch from an import).
    pub(crate) async fn insert(&mut self, new: NewContact) -> Result<ContactId, StoreError> {
        let id = ContactId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let row = id.to_string();
        let now = self.scope.now();
        let seal_opt = |s: &Scope<'_>, col: &str, v: &Option<String>| {
            v.as_ref()
                .map(|v| s.seal_str(TABLE, col, &row, v))
                .transpose()
        };
        let phone_text = new.phone.as_ref().map(|p| p.as_str().to_string());
        let phone_ct = seal_opt(self.scope, "phone", &phone_text)?;
        let phone_bidx = new
            .phone
            .as_ref()
            .map(|p| self.scope.blind_index(PHONE_INDEX, p.as_str().as_bytes()));
        let wa_ct = seal_opt(self.scope, "wa_user", &new.wa_user_id)?;
        let wa_bidx = new
            .wa_user_id
            .as_ref()
            .map(|w| self.scope.blind_index(WA_USER_INDEX, w.as_bytes()));
        let username_ct = seal_opt(self.scope, "username", &new.username)?;
        let name_ct = seal_opt(self.scope, "name", &new.name)?;
        let attrs = serde_json::Value::Object(new.attributes.clone()).to_string();
        let attrs_ct = self.scope.seal_str(TABLE, "attributes", &row, &attrs)?;
        let labels_ct = self.seal_labels(&row, &new.labels)?;
        let contact = ContactRow {
            id: row.clone(),
            wa_user_bidx: wa_bidx,
            wa_user_ct: wa_ct,
            phone_bidx,
            phone_ct,
            username_ct,
            name_ct,
            labels_ct,
            attributes_ct: attrs_ct,
            at: now,
        };
        let t = self.scope.tenant_str().to_string();
        let inserted = tables::insert(self.scope.store.backend(), &t, &[contact])
            .execute(self.scope.conn())
            .await?
            .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Conflict(
                "a contact with this phone number or WhatsApp user",
            ));
        }
        self.index_labels(&row, &new.labels).await?;
        let tokens = self.scope.name_token_rows(&row, new.name.as_deref());
        self.scope.insert_name_tokens(&tokens).await?;
        Ok(id)
    }

    pub async fn get(&mut self, id: ContactId) -> Result<Contact, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND contact_id = $2");
        let t = self.scope.tenant_str().to_string();
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(id.to_string())
            .fetch_optional(self.scope.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        self.contact_from_row(&r)
    }

    /// A page of the tenant's contacts, newest first (`created_at` then id, both descending),
    /// after `after`; with `label`, only contacts carrying exactly that label (found through its
    /// blind index). `limit` is clamped to 1..=200.
    pub async fn list(
        &mut self,
        label: Option<&str>,
        after: Option<ContactCursor>,
        limit: i64,
    ) -> Result<Page<Contact, ContactCursor>, StoreError> {
        self.search(label, None, after, limit).await
    }

    /// [`Self::list`], and with `name`, only contacts with a word of their name starting with
    /// each word of it (see [`confide_core::names`]), found through the name tokens' blind
    /// indexes without decrypting a name. A `name` without any word finds nobody.
    pub async fn search(
        &mut self,
        label: Option<&str>,
        name: Option<&str>,
        after: Option<ContactCursor>,
        limit: i64,
    ) -> Result<Page<Contact, ContactCursor>, StoreError> {
        let limit = page_size(limit);
        let mut sql = format!("SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1");
        let mut n = 1;
        let label_bidx = label.map(|l| self.scope.blind_index(LABEL_INDEX, l.as_bytes()));
        if label_bidx.is_some() {
            n += 1;
            sql.push_str(&format!(
                " AND contact_id IN (SELECT contact_id FROM contact_labels WHERE tenant_id = $1 AND label_bidx = ${n})"
            ));
        }
        let name_tokens = name.map(|q| self.scope.name_query_tokens(q));
        if let Some(tokens) = &name_tokens {
            if tokens.is_empty() {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
            for _ in tokens {
                n += 1;
                sql.push_str(&format!(
                    " AND contact_id IN (SELECT contact_id FROM contact_name_tokens WHERE tenant_id = $1 AND token = ${n})"
                ));
            }
        }
        if after.is_some() {
            sql.push_str(&format!(
                " AND (created_at < ${a} OR (created_at = ${a} AND contact_id < ${b}))",
                a = n + 1,
                b = n + 2
            ));
            n += 2;
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, contact_id DESC LIMIT ${}",
            n + 1
        ));
        let t = self.scope.tenant_str().to_string();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(t);
        if let Some(b) = label_bidx {
            q = q.bind(b);
        }
        for token in name_tokens.into_iter().flatten() {
            q = q.bind(token);
        }
        if let Some(c) = after {
            q = q.bind(c.created_at).bind(c.id.to_string());
        }
        let rows = q.bind(limit + 1).fetch_all(self.scope.conn()).await?;
        let mut items = rows
            .iter()
            .map(|r| self.contact_from_row(r))
            .collect::<Result<Vec<_>, _>>()?;
        let next = next_cursor(&mut items, limit, |c| ContactCursor {
            created_at: c.created_at,
            id: c.id,
        });
        Ok(Page { items, next })
    }

    /// Seals a contact's labels (`None` when there are none).
    fn seal_labels(&self, row: &str, labels: &[String]) -> Result<Option<Vec<u8>>, StoreError> {
        if labels.is_empty() {
            return Ok(None);
        }
        let json = serde_json::json!(labels).to_string();
        Ok(Some(self.scope.seal_str(TABLE, "labels", row, &json)?))
    }

    /// Replaces the blind-index rows of a contact's labels.
    pub(crate) async fn index_labels(
        &mut self,
        row: &str,
        labels: &[String],
    ) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        sqlx::query("DELETE FROM contact_labels WHERE tenant_id = $1 AND contact_id = $2")
            .bind(t.clone())
            .bind(row.to_string())
            .execute(self.scope.conn())
            .await?;
        let mut seen = std::collections::BTreeSet::new();
        for label in labels {
            let bidx = self.scope.blind_index(LABEL_INDEX, label.as_bytes());
            if !seen.insert(bidx.clone()) {
                continue;
            }
            sqlx::query(
                "INSERT INTO contact_labels (tenant_id, contact_id, label_bidx) VALUES ($1, $2, $3)",
            )
            .bind(t.clone())
            .bind(row.to_string())
            .bind(bidx)
            .execute(self.scope.conn())
            .await?;
        }
        Ok(())
    }

    /// Changes a contact and audits `contact.updated` with the names of the fields that changed
    /// (never their values); nothing changed, nothing written. Returns the contact and those
    /// names. 404 for an id that is not the tenant's; `Conflict` when the new phone is another
    /// contact's.
    pub async fn update(
        &mut self,
        id: ContactId,
        change: ContactChange,
        actor: Actor,
    ) -> Result<(Contact, Vec<&'static str>), StoreError> {
        let fields = self.change(id, change).await?;
        let current = self.get(id).await?;
        if fields.is_empty() {
            return Ok((current, fields));
        }
        self.scope
            .audit(
                &AuditEvent::new(actor, "contact.updated", format!("contact:{id}"))
                    .with_details(serde_json::json!({ "fields": fields })),
            )
            .await?;
        Ok((current, fields))
    }

    /// Changes a contact, unaudited (see [`Self::update`]); the names of the fields that changed.
    pub(crate) async fn change(
        &mut self,
        id: ContactId,
        change: ContactChange,
    ) -> Result<Vec<&'static str>, StoreError> {
        let current = self.get(id).await?;
        let row = id.to_string();
        let mut sets: Vec<String> = Vec::new();
        let mut binds: Vec<Option<Vec<u8>>> = Vec::new();
        let mut new_labels: Option<Vec<String>> = None;
        let mut new_name: Option<Option<String>> = None;
        let mut fields: Vec<&'static str> = Vec::new();
        if let Some(phone) = change.phone.filter(|p| *p != current.phone) {
            let ct = phone
                .as_ref()
                .map(|p| self.scope.seal_str(TABLE, "phone", &row, p.as_str()))
                .transpose()?;
            let bidx = phone
                .as_ref()
                .map(|p| self.scope.blind_index(PHONE_INDEX, p.as_str().as_bytes()));
            sets.push("phone_ct".into());
            binds.push(ct);
            sets.push("phone_bidx".into());
            binds.push(bidx);
            fields.push("phone");
        }
        if let Some(name) = change.name.filter(|n| *n != current.name) {
            let ct = name
                .as_ref()
                .map(|n| self.scope.seal_str(TABLE, "name", &row, n))
                .transpose()?;
            sets.push("name_ct".into());
            binds.push(ct);
            new_name = Some(name);
            fields.push("name");
        }
        if let Some(attrs) = change.attributes.filter(|a| *a != current.attributes) {
            let text = serde_json::Value::Object(attrs).to_string();
            sets.push("attributes_ct".into());
            binds.push(Some(self.scope.seal_str(
                TABLE,
                "attributes",
                &row,
                &text,
            )?));
            fields.push("attributes");
        }
        if let Some(labels) = change.labels.filter(|l| *l != current.labels) {
            sets.push("labels_ct".into());
            binds.push(self.seal_labels(&row, &labels)?);
            new_labels = Some(labels);
            fields.push("labels");
        }
        if fields.is_empty() {
            return Ok(fields);
        }
        let assignments: Vec<String> = sets
            .iter()
            .enumerate()
            .map(|(i, col)| format!("{col} = ${}", i + 1))
            .collect();
        let n = sets.len();
        let sql = format!(
            "UPDATE contacts SET {}, updated_at = ${} WHERE tenant_id = ${} AND contact_id = ${}",
            assignments.join(", "),
            n + 1,
            n + 2,
            n + 3
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        q.bind(now)
            .bind(t)
            .bind(row.clone())
            .execute(self.scope.conn())
            .await
            .map_err(|e| StoreError::from_insert(e, "a contact with this phone number"))?;
        if let Some(labels) = &new_labels {
            self.index_labels(&row, labels).await?;
        }
        if let Some(name) = &new_name {
            self.scope.index_contact_name(&row, name.as_deref()).await?;
        }
        Ok(fields)
    }

    /// The id of the contact holding a phone number or WhatsApp user id (blind index), without
    /// decrypting anything.
    pub(crate) async fn id_by(
        &mut self,
        column: &'static str,
        bidx: Vec<u8>,
    ) -> Result<Option<ContactId>, StoreError> {
        let sql = format!("SELECT contact_id FROM contacts WHERE tenant_id = $1 AND {column} = $2");
        let t = self.scope.tenant_str().to_string();
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(bidx)
            .fetch_optional(self.scope.conn())
            .await?;
        r.map(|r| crate::error::parse_id(r.try_get(0)?, "contact"))
            .transpose()
    }

    /// Finds a contact by phone number (blind index; the number is never searched in clear).
    pub async fn find_by_phone(&mut self, phone: &Phone) -> Result<Option<Contact>, StoreError> {
        let bidx = self
            .scope
            .blind_index(PHONE_INDEX, phone.as_str().as_bytes());
        self.find_by("phone_bidx", bidx).await
    }

    /// Finds a contact by WhatsApp user id (BSUID).
    pub async fn find_by_wa_user(
        &mut self,
        wa_user_id: &str,
    ) -> Result<Option<Contact>, StoreError> {
        let bidx = self.scope.blind_index(WA_USER_INDEX, wa_user_id.as_bytes());
        self.find_by("wa_user_bidx", bidx).await
    }

    async fn find_by(
        &mut self,
        column: &'static str,
        bidx: Vec<u8>,
    ) -> Result<Option<Contact>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND {column} = $2");
        let t = self.scope.tenant_str().to_string();
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(bidx)
            .fetch_optional(self.scope.conn())
            .await?;
        r.map(|r| self.contact_from_row(&r)).transpose()
    }

    fn contact_from_row(&self, r: &sqlx::any::AnyRow) -> Result<Contact, StoreError> {
        let id: String = r.try_get(0)?;
        let open = |i: usize, col: &str| -> Result<Option<String>, StoreError> {
            let v: Option<Vec<u8>> = r.try_get(i)?;
            v.map(|v| self.scope.open_string(TABLE, col, &id, &v))
                .transpose()
        };
        let phone = open(2, "phone")?
            .map(|p| Phone::parse(&p).map_err(|_| StoreError::Corrupt("stored phone".into())))
            .transpose()?;
        let labels = match open(5, "labels")? {
            Some(json) => json,
            None => r.try_get::<String, _>(9)?,
        };
        let attrs = open(6, "attributes")?.unwrap_or_else(|| "{}".into());
        Ok(Contact {
            id: id
                .parse()
                .map_err(|_| StoreError::Corrupt("contact id".into()))?,
            wa_user_id: open(1, "wa_user")?,
            phone,
            username: open(3, "username")?,
            name: open(4, "name")?,
            labels: serde_json::from_str(&labels)
                .map_err(|_| StoreError::Corrupt("labels".into()))?,
            attributes: serde_json::from_str(&attrs)
                .map_err(|_| StoreError::Corrupt("attributes".into()))?,
            created_at: r.try_get(7)?,
            updated_at: r.try_get(8)?,
        })
    }
}
