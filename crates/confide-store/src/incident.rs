//! Incident response (GDPR Art. 33/34, claim C31): cut every way into a tenant at once, and read
//! back what its audit log says happened in a time range. Neither needs the tenant's data keys
//! (the audit log holds ids, actions and counts only).

use crate::error::StoreError;
use crate::store::Store;
use crate::tx::Access;
use confide_core::audit::{Actor, AuditEntry, AuditEvent};
use confide_core::ids::TenantId;
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

/// What `incident revoke` ended.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Revoked {
    pub sessions: u64,
    pub support_sessions: u64,
    pub support_grants: u64,
    pub api_keys: u64,
    /// Channels whose secrets (access token, app secret, verify token) must be replaced.
    pub channels_to_rotate: u64,
}

impl Store {
    /// Ends every session (members' and support's) of a tenant, revokes every API key and
    /// support grant, and marks every channel's secrets for rotation, in one transaction audited
    /// as `incident.revoked` (counts only). `NotFound` for an unknown tenant.
    pub async fn revoke_tenant_access(
        &self,
        tenant: TenantId,
        actor: Actor,
    ) -> Result<Revoked, StoreError> {
        let t = tenant.to_string();
        let now = self.clock().now_micros();
        let mut tx = self.begin_tenant_tx(&t, Access::Write).await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM tenants WHERE tenant_id = $1")
            .bind(t.clone())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let mut run = async |sql: &str, with_now: bool| -> Result<u64, StoreError> {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
            let q = if with_now { q.bind(now) } else { q };
            Ok(q.bind(t.clone()).execute(&mut *tx).await?.rows_affected())
        };
        let revoked = Revoked {
            sessions: run("DELETE FROM sessions WHERE tenant_id = $1", false).await?,
            support_sessions: run("DELETE FROM support_sessions WHERE tenant_id = $1", false)
                .await?,
            support_grants: run(
                "UPDATE support_grants SET revoked_at = $1 WHERE tenant_id = $2 AND revoked_at IS NULL",
                true,
            )
            .await?,
            api_keys: run(
                "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND revoked_at IS NULL",
                true,
            )
            .await?,
            channels_to_rotate: run(
                &format!(
                    "UPDATE channels SET secrets_rotation_requested_at = $1, \
                     secrets_rotation_pending = '{}' WHERE tenant_id = $2",
                    crate::channels::ROTATABLE_SECRETS
                ),
                true,
            )
            .await?,
        };
        // Servers drop their cached channels (secrets and rotation state) at commit
        // (PostgreSQL; a SQLite server's cache expires within seconds).
        if self.backend() == crate::backend::Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, channel_id) FROM channels WHERE tenant_id = $2")
                .bind(crate::notify::CHANNEL_CHANGES)
                .bind(t.clone())
                .fetch_all(&mut *tx)
                .await?;
        }
        crate::audit::append_in(
            self,
            &mut tx,
            &t,
            &AuditEvent::new(actor, "incident.revoked", format!("tenant:{t}"))
                .with_details(serde_json::json!(revoked)),
        )
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// A tenant's audit entries with `since <= at < until` (Unix micros), oldest first.
    pub async fn audit_range(
        &self,
        tenant: TenantId,
        since: i64,
        until: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let t = tenant.to_string();
        let mut tx = self.begin_tenant_tx(&t, Access::Read).await?;
        let rows = sqlx::query(
            "SELECT tenant_id, seq, at, actor, action, target, request_id, details, prev_hash, hash, seal \
             FROM audit_entries WHERE tenant_id = $1 AND at >= $2 AND at < $3 ORDER BY seq",
        )
        .bind(t)
        .bind(since)
        .bind(until)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(crate::audit::entry_from_row).collect()
    }

    /// The contact of each of these conversations that still exists (an incident report names
    /// the people a conversation's entries touched).
    pub async fn conversation_contacts(
        &self,
        tenant: TenantId,
        conversations: &[String],
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let t = tenant.to_string();
        let mut tx = self.begin_tenant_tx(&t, Access::Read).await?;
        let mut out = BTreeMap::new();
        for c in conversations {
            if let Some(r) = sqlx::query(
                "SELECT contact_id FROM conversations WHERE tenant_id = $1 AND conversation_id = $2",
            )
            .bind(t.clone())
            .bind(c.clone())
            .fetch_optional(&mut *tx)
            .await?
            {
                out.insert(c.clone(), r.try_get::<String, _>(0)?);
            }
        }
        tx.commit().await?;
        Ok(out)
    }
}
