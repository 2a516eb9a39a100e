//! Name search over sealed names: for each normalised word of a contact's name and each of its
//! prefixes ([`confide_core::names`]), a keyed blind index (HMAC with the tenant's index key,
//! purpose [`NAME_INDEX`]) in `contact_name_tokens`. The words themselves are never stored; a
//! query is turned into tokens the same way and matched by equality. What this leaks to someone
//! holding the database but not the keyring is in docs/threat-model.md (token equality and
//! frequency: which contacts share a name word or prefix, and how common it is).

use crate::error::StoreError;
use crate::scope::Scope;
use crate::tables::{self, CHUNK, name_tokens::NameTokenRow};

/// The blind-index purpose of name tokens.
pub const NAME_INDEX: &str = "contact-name-token";

impl Scope<'_> {
    /// The token rows of a contact's name.
    pub(crate) fn name_token_rows(&self, contact: &str, name: Option<&str>) -> Vec<NameTokenRow> {
        name.map(confide_core::names::index_tokens)
            .unwrap_or_default()
            .into_iter()
            .map(|t| NameTokenRow {
                token: self.blind_index(NAME_INDEX, t.as_bytes()),
                contact: contact.to_string(),
            })
            .collect()
    }

    /// Inserts token rows, many per statement.
    pub(crate) async fn insert_name_tokens(
        &mut self,
        rows: &[NameTokenRow],
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        for chunk in rows.chunks(CHUNK) {
            tables::insert(self.store.backend(), &t, chunk)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Replaces the name tokens of a contact (none for `None`).
    pub async fn index_contact_name(
        &mut self,
        contact: &str,
        name: Option<&str>,
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        sqlx::query("DELETE FROM contact_name_tokens WHERE tenant_id = $1 AND contact_id = $2")
            .bind(t)
            .bind(contact.to_string())
            .execute(self.conn())
            .await?;
        let rows = self.name_token_rows(contact, name);
        self.insert_name_tokens(&rows).await
    }

    /// The blind indexes a name query must all match (empty: the query has no word).
    pub fn name_query_tokens(&self, query: &str) -> Vec<Vec<u8>> {
        confide_core::names::query_tokens(query)
            .into_iter()
            .map(|t| self.blind_index(NAME_INDEX, t.as_bytes()))
            .collect()
    }

    /// How many token rows a contact has (tests and the erasure proof).
    pub async fn name_token_count(&mut self, contact: &str) -> Result<i64, StoreError> {
        use sqlx::Row;
        let t = self.tenant_str().to_string();
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM contact_name_tokens WHERE tenant_id = $1 AND contact_id = $2",
        )
        .bind(t)
        .bind(contact.to_string())
        .fetch_one(self.conn())
        .await?
        .try_get(0)?)
    }
}
