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

const BACKFILL_TASK: &str = "index_contact_names";
/// Contacts read per statement while backfilling.
const BACKFILL_BATCH: i64 = 1_000;

impl crate::store::Store {
    /// Gives every named contact stored before name search (this version) its name tokens; run
    /// once, after the migrations, by [`crate::store::Store::open`], a no-op once done. Each
    /// tenant's names are decrypted in its own scope, a batch at a time.
    pub(crate) async fn index_legacy_names(&self) -> Result<(), StoreError> {
        use sqlx::Row;
        let done = sqlx::query("SELECT 1 FROM maintenance_done WHERE name = $1")
            .bind(BACKFILL_TASK)
            .fetch_optional(self.pool())
            .await?;
        if done.is_some() {
            return Ok(());
        }
        let tenants = sqlx::query("SELECT tenant_id FROM tenants")
            .fetch_all(self.pool())
            .await?;
        let mut indexed = 0usize;
        for r in &tenants {
            let t: String = r.try_get(0)?;
            let tenant: confide_core::ids::TenantId = t
                .parse()
                .map_err(|_| StoreError::Corrupt("tenant id".into()))?;
            let mut after = String::new();
            loop {
                let mut s = self.scope(tenant).await?;
                let rows = sqlx::query(
                    "SELECT contact_id, name_ct FROM contacts WHERE tenant_id = $1 AND contact_id > $2 \
                     AND name_ct IS NOT NULL ORDER BY contact_id LIMIT $3",
                )
                .bind(t.clone())
                .bind(after.clone())
                .bind(BACKFILL_BATCH)
                .fetch_all(s.conn())
                .await?;
                let Some(last) = rows.last() else {
                    s.commit().await?;
                    break;
                };
                after = last.try_get(0)?;
                let mut tokens = Vec::new();
                for row in &rows {
                    let id: String = row.try_get(0)?;
                    let ct: Vec<u8> = row.try_get(1)?;
                    let name = s.open_string("contacts", "name", &id, &ct)?;
                    tokens.extend(s.name_token_rows(&id, Some(&name)));
                    indexed += 1;
                }
                s.insert_name_tokens(&tokens).await?;
                s.commit().await?;
            }
        }
        sqlx::query(
            "INSERT INTO maintenance_done (name, done_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(BACKFILL_TASK)
        .bind(self.clock().now_micros())
        .execute(self.write_pool())
        .await?;
        if indexed > 0 {
            tracing::info!(
                contacts = indexed,
                "indexed the names of existing contacts for search"
            );
        }
        Ok(())
    }
}
