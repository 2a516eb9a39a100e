//! The audit log in the database: appended in the caller's transaction ([`Scope::audit`]), read
//! back and verified with `confide_core::audit`.

use crate::error::StoreError;
use crate::keys::KeyringSealer;
use crate::scope::Scope;
use crate::store::Store;
use crate::tx::Access;
use confide_core::audit::{AuditEntry, AuditEvent, ChainBreak, next_entry, verify_chain};
use confide_core::ids::TenantId;
use sqlx::{AnyConnection, Row};

fn hash32(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(v.as_slice())
        .map_err(|_| StoreError::Corrupt("audit hash is not 32 bytes".into()))
}

impl Scope<'_> {
    /// Appends an entry to the tenant's audit chain, in this transaction.
    pub async fn audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError> {
        let tenant = self.tenant_str().to_string();
        let at = self.now();
        let sealer = self.store.keys().audit_sealer();
        append(self.conn(), &sealer, &tenant, at, event).await
    }
}

/// Appends an entry to `tenant`'s chain in a transaction that is not a [`Scope`] (one that
/// outlives the tenant's keys: erasure).
pub(crate) async fn append_in(
    store: &Store,
    conn: &mut AnyConnection,
    tenant: &str,
    event: &AuditEvent,
) -> Result<i64, StoreError> {
    let sealer = store.keys().audit_sealer();
    let at = store.clock().now_micros();
    append(conn, &sealer, tenant, at, event).await
}

/// Appends one entry after the tenant's head, updating the head in the same transaction. The
/// head row is the lock that serialises appends of one tenant.
async fn append(
    conn: &mut AnyConnection,
    sealer: &KeyringSealer,
    tenant: &str,
    at_micros: i64,
    event: &AuditEvent,
) -> Result<i64, StoreError> {
    // Take the head row's lock first (a no-op update) so concurrent appends queue up here.
    let locked = sqlx::query("UPDATE audit_heads SET seq = seq WHERE tenant_id = $1")
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await?;
    let head = if locked.rows_affected() == 0 {
        None
    } else {
        let row = sqlx::query("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_one(&mut *conn)
            .await?;
        Some((row.try_get::<i64, _>(0)?, hash32(row.try_get(1)?)?))
    };
    let e = next_entry(tenant, head, at_micros, event, sealer);
    sqlx::query(
        "INSERT INTO audit_entries (tenant_id, seq, at, actor, action, target, request_id, details, prev_hash, hash, seal) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.tenant_id.clone())
    .bind(e.seq)
    .bind(e.at_micros)
    .bind(e.actor.clone())
    .bind(e.action.clone())
    .bind(e.target.clone())
    .bind(e.request_id.clone())
    .bind(e.details.clone())
    .bind(e.prev_hash.to_vec())
    .bind(e.hash.to_vec())
    .bind(e.seal.to_vec())
    .execute(&mut *conn)
    .await?;
    let q = if head.is_none() {
        "INSERT INTO audit_heads (seq, hash, tenant_id) VALUES ($1, $2, $3)"
    } else {
        "UPDATE audit_heads SET seq = $1, hash = $2 WHERE tenant_id = $3"
    };
    sqlx::query(q)
        .bind(e.seq)
        .bind(e.hash.to_vec())
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(e.seq)
}

pub(crate) fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        tenant_id: r.try_get("tenant_id")?,
        seq: r.try_get("seq")?,
        at_micros: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        request_id: r.try_get("request_id")?,
        details: r.try_get("details")?,
        prev_hash: hash32(r.try_get("prev_hash")?)?,
        hash: hash32(r.try_get("hash")?)?,
        seal: hash32(r.try_get("seal")?)?,
    })
}

const SELECT_ENTRIES: &str = "SELECT tenant_id, seq, at, actor, action, target, request_id, details, prev_hash, hash, seal \
     FROM audit_entries WHERE tenant_id = $1";

/// The result of walking a tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact { entries: u64 },
    Broken(ChainBreak),
}

impl Store {
    /// A page of a tenant's audit entries, newest first, before `before_seq` when given.
    pub async fn audit_page(
        &self,
        tenant: TenantId,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_list(tenant, None, before_seq, limit).await
    }

    /// A page of a tenant's audit entries, newest first: only those whose action is exactly
    /// `action` when given, and only those before `before_seq` when given. At most `limit`
    /// (clamped to 1..=500) entries.
    pub async fn audit_list(
        &self,
        tenant: TenantId,
        action: Option<&str>,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut s = self.read_scope(tenant).await?;
        let t = s.tenant_str().to_string();
        let before = before_seq.unwrap_or(i64::MAX);
        let limit = limit.clamp(1, 500);
        let rows = match action {
            None => {
                let sql = format!("{SELECT_ENTRIES} AND seq < $2 ORDER BY seq DESC LIMIT $3");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(t)
                    .bind(before)
                    .bind(limit)
                    .fetch_all(s.conn())
                    .await?
            }
            Some(action) => {
                let sql = format!(
                    "{SELECT_ENTRIES} AND action = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(t)
                    .bind(action.to_string())
                    .bind(before)
                    .bind(limit)
                    .fetch_all(s.conn())
                    .await?
            }
        };
        s.commit().await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// How many audit entries the tenant's log holds.
    pub async fn audit_count(&self, tenant: TenantId) -> Result<u64, StoreError> {
        let mut s = self.read_scope(tenant).await?;
        let t = s.tenant_str().to_string();
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM audit_entries WHERE tenant_id = $1")
            .bind(t)
            .fetch_one(s.conn())
            .await?
            .try_get(0)?;
        s.commit().await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Walks the tenant's whole chain and its head, naming the first bad entry.
    pub async fn audit_verify(&self, tenant: TenantId) -> Result<Verification, StoreError> {
        let t = tenant.to_string();
        let mut tx = self.begin_tenant_tx(&t, Access::Read).await?;
        let head = match sqlx::query("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(t.clone())
            .fetch_optional(&mut *tx)
            .await?
        {
            Some(r) => Some((r.try_get::<i64, _>(0)?, hash32(r.try_get(1)?)?)),
            None => None,
        };
        let sql = format!("{SELECT_ENTRIES} ORDER BY seq ASC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t.clone())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            entries.push(entry_from_row(r)?);
        }
        let sealer = self.keys().audit_sealer();
        Ok(match verify_chain(&t, entries, head, &sealer) {
            Ok(n) => Verification::Intact { entries: n },
            Err(b) => Verification::Broken(b),
        })
    }
}
