//! The contact book. A contact's identity is its WhatsApp user id (BSUID) when known, else its
//! phone number; both are sealed and found through per-tenant blind indexes.

use crate::StoreError;
use crate::scope::Scope;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::ContactId;
use confide_core::phone::Phone;
use serde::Serialize;
use sqlx::Row;

const TABLE: &str = "contacts";
pub const PHONE_INDEX: &str = "contact-phone";
pub const WA_USER_INDEX: &str = "contact-wa-user";

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

const COLUMNS: &str = "contact_id, wa_user_ct, phone_ct, username_ct, name_ct, labels, attributes_ct, created_at, updated_at";

impl Scope<'_> {
    pub async fn create_contact(
        &mut self,
        new: NewContact,
        actor: Actor,
    ) -> Result<Contact, StoreError> {
        let id = ContactId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
        let row = id.to_string();
        let now = self.now();
        let seal_opt = |s: &Self, col: &str, v: &Option<String>| {
            v.as_ref()
                .map(|v| s.seal_str(TABLE, col, &row, v))
                .transpose()
        };
        let phone_text = new.phone.as_ref().map(|p| p.as_str().to_string());
        let phone_ct = seal_opt(self, "phone", &phone_text)?;
        let phone_bidx = new
            .phone
            .as_ref()
            .map(|p| self.blind_index(PHONE_INDEX, p.as_str().as_bytes()));
        let wa_ct = seal_opt(self, "wa_user", &new.wa_user_id)?;
        let wa_bidx = new
            .wa_user_id
            .as_ref()
            .map(|w| self.blind_index(WA_USER_INDEX, w.as_bytes()));
        let username_ct = seal_opt(self, "username", &new.username)?;
        let name_ct = seal_opt(self, "name", &new.name)?;
        let attrs = serde_json::Value::Object(new.attributes.clone()).to_string();
        let attrs_ct = self.seal_str(TABLE, "attributes", &row, &attrs)?;
        let labels = serde_json::json!(new.labels).to_string();
        let t = self.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO contacts (tenant_id, contact_id, wa_user_bidx, wa_user_ct, phone_bidx, phone_ct, username_ct, name_ct, \
             labels, attributes_ct, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(t)
        .bind(row.clone())
        .bind(wa_bidx)
        .bind(wa_ct)
        .bind(phone_bidx)
        .bind(phone_ct)
        .bind(username_ct)
        .bind(name_ct)
        .bind(labels)
        .bind(attrs_ct)
        .bind(now)
        .execute(self.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "a contact with this phone number or WhatsApp user"))?;
        self.audit(&AuditEvent::new(
            actor,
            "contact.created",
            format!("contact:{row}"),
        ))
        .await?;
        self.get_contact(id).await
    }

    pub async fn get_contact(&mut self, id: ContactId) -> Result<Contact, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND contact_id = $2");
        let t = self.tenant_str().to_string();
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(id.to_string())
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        self.contact_from_row(&r)
    }

    /// Finds a contact by phone number (blind index; the number is never searched in clear).
    pub async fn find_contact_by_phone(
        &mut self,
        phone: &Phone,
    ) -> Result<Option<Contact>, StoreError> {
        let bidx = self.blind_index(PHONE_INDEX, phone.as_str().as_bytes());
        self.find_by("phone_bidx", bidx).await
    }

    /// Finds a contact by WhatsApp user id (BSUID).
    pub async fn find_contact_by_wa_user(
        &mut self,
        wa_user_id: &str,
    ) -> Result<Option<Contact>, StoreError> {
        let bidx = self.blind_index(WA_USER_INDEX, wa_user_id.as_bytes());
        self.find_by("wa_user_bidx", bidx).await
    }

    async fn find_by(
        &mut self,
        column: &'static str,
        bidx: Vec<u8>,
    ) -> Result<Option<Contact>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND {column} = $2");
        let t = self.tenant_str().to_string();
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(bidx)
            .fetch_optional(self.conn())
            .await?;
        r.map(|r| self.contact_from_row(&r)).transpose()
    }

    fn contact_from_row(&self, r: &sqlx::any::AnyRow) -> Result<Contact, StoreError> {
        let id: String = r.try_get(0)?;
        let open = |i: usize, col: &str| -> Result<Option<String>, StoreError> {
            let v: Option<Vec<u8>> = r.try_get(i)?;
            v.map(|v| self.open_string(TABLE, col, &id, &v)).transpose()
        };
        let phone = open(2, "phone")?
            .map(|p| Phone::parse(&p).map_err(|_| StoreError::Corrupt("stored phone".into())))
            .transpose()?;
        let labels: String = r.try_get(5)?;
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
