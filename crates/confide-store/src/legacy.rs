//! Sealing what older versions wrote in clear. Contact labels and consent sources used to be
//! stored as plain text; migration 7 added sealed columns, and this pass (run once, after the
//! migrations, by [`crate::store::Store::open`]) seals every old value and empties its clear column.
//!
//! Labels are rewritten through a tenant [`crate::Scope`] like any update. The consent ledger
//! is append-only for the application role (no UPDATE privilege on PostgreSQL, and a trigger
//! refusing UPDATE on both engines), so its rewrite runs as the migration (login) role, with the
//! trigger set aside inside that one transaction only.

use crate::backend::{Backend, StoreOptions, connect_options};
use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use confide_core::ids::TenantId;
use sqlx::{ConnectOptions, Connection, Row};

const TASK: &str = "seal_legacy_plaintext";
const CONSENT_TABLE: &str = "consent_events";

impl Store {
    /// Seals clear labels and consent sources left by older versions; a no-op once done.
    pub(crate) async fn seal_legacy_plaintext(
        &self,
        options: &StoreOptions,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("SELECT 1 FROM maintenance_done WHERE name = $1")
            .bind(TASK)
            .fetch_optional(self.pool())
            .await?;
        if done.is_some() {
            return Ok(());
        }
        let tenants = sqlx::query("SELECT tenant_id FROM tenants")
            .fetch_all(self.pool())
            .await?;
        let mut sealed_labels = 0usize;
        let mut sealed_sources = 0usize;
        for r in &tenants {
            let t: String = r.try_get(0)?;
            let tenant: TenantId = t
                .parse()
                .map_err(|_| StoreError::Corrupt("tenant id".into()))?;
            let mut s = self.scope(tenant).await?;
            sealed_labels += s.seal_legacy_labels().await?;
            let sources = s.seal_legacy_sources().await?;
            s.commit().await?;
            if !sources.is_empty() {
                sealed_sources += sources.len();
                self.rewrite_consent_sources(options, &t, &sources).await?;
            }
        }
        sqlx::query(
            "INSERT INTO maintenance_done (name, done_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(TASK)
        .bind(self.clock().now_micros())
        .execute(self.write_pool())
        .await?;
        if sealed_labels + sealed_sources > 0 {
            tracing::info!(
                contacts = sealed_labels,
                consent_events = sealed_sources,
                "sealed labels and consent sources written in clear by an older version"
            );
        }
        Ok(())
    }

    /// Writes sealed consent sources as the login role, the append-only trigger set aside for
    /// this transaction only.
    async fn rewrite_consent_sources(
        &self,
        options: &StoreOptions,
        tenant: &str,
        sources: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let backend = self.backend();
        let mut conn = connect_options(options, backend)?.connect().await?;
        let mut tx = conn.begin().await?;
        let (off, on) = match backend {
            Backend::Postgres => (
                "ALTER TABLE consent_events DISABLE TRIGGER consent_events_no_update",
                "ALTER TABLE consent_events ENABLE TRIGGER consent_events_no_update",
            ),
            Backend::Sqlite => (
                "DROP TRIGGER consent_events_no_update",
                "CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events \
                 BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END",
            ),
        };
        if backend == Backend::Postgres {
            sqlx::query("SELECT set_config('confide.tenant_id', $1, true)")
                .bind(tenant.to_string())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(off).execute(&mut *tx).await?;
        for (event, ct) in sources {
            sqlx::query(
                "UPDATE consent_events SET source_ct = $1, source = '' \
                 WHERE tenant_id = $2 AND event_id = $3 AND source_ct IS NULL",
            )
            .bind(ct.clone())
            .bind(tenant.to_string())
            .bind(event.clone())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(on).execute(&mut *tx).await?;
        tx.commit().await?;
        conn.close().await?;
        Ok(())
    }
}

impl Scope<'_> {
    /// Seals this tenant's clear labels and indexes them; returns how many contacts changed.
    async fn seal_legacy_labels(&mut self) -> Result<usize, StoreError> {
        let t = self.tenant_str().to_string();
        let rows = sqlx::query(
            "SELECT contact_id, labels FROM contacts WHERE tenant_id = $1 AND labels_ct IS NULL AND labels <> '[]'",
        )
        .bind(t.clone())
        .fetch_all(self.conn())
        .await?;
        for r in &rows {
            let id: String = r.try_get(0)?;
            let text: String = r.try_get(1)?;
            let labels: Vec<String> =
                serde_json::from_str(&text).map_err(|_| StoreError::Corrupt("labels".into()))?;
            let ct = self.seal_str("contacts", "labels", &id, &text)?;
            sqlx::query(
                "UPDATE contacts SET labels_ct = $1, labels = '[]' WHERE tenant_id = $2 AND contact_id = $3",
            )
            .bind(ct)
            .bind(t.clone())
            .bind(id.clone())
            .execute(self.conn())
            .await?;
            self.contacts().index_labels(&id, &labels).await?;
        }
        Ok(rows.len())
    }

    /// This tenant's clear consent sources, sealed (written by the caller as the login role).
    async fn seal_legacy_sources(&mut self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let t = self.tenant_str().to_string();
        let rows = sqlx::query(
            "SELECT event_id, source FROM consent_events WHERE tenant_id = $1 AND source_ct IS NULL AND source <> ''",
        )
        .bind(t)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let source: String = r.try_get(1)?;
                let ct = self.seal_str(CONSENT_TABLE, "source", &id, &source)?;
                Ok((id, ct))
            })
            .collect()
    }
}
