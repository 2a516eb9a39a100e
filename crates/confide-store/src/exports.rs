//! Export jobs (`exports`): what was asked, by whom, how far it got, where the sealed zip is and
//! when it goes. Ids, states, counts and times only. The API reads a tenant's jobs through its
//! scope; the export worker claims queued jobs across tenants (a conditional update, so two
//! instances never run the same job) and records progress, the result and the expiry.

use crate::error::{StoreError, parse_id};
use crate::scope::Scope;
use crate::store::Store;
use confide_core::ids::{ContactId, ExportId, TenantId};
use sqlx::Row;

/// An export job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportJob {
    pub id: ExportId,
    pub tenant: TenantId,
    /// `tenant` or `contact`.
    pub scope: String,
    pub contact: Option<ContactId>,
    pub requested_by: String,
    /// `queued`, `running`, `ready` or `failed`.
    pub status: String,
    pub done: i64,
    pub total: i64,
    pub storage_key: Option<String>,
    pub byte_size: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
}

/// Where a job's sealed zip lives in the media store: under the tenant's prefix (so a tenant's
/// erasure takes it), apart from media objects.
pub fn storage_key(tenant: TenantId, id: ExportId) -> String {
    format!("{tenant}/exports/{id}")
}

const COLUMNS: &str = "export_id, tenant_id, scope, contact_id, requested_by, status, done, total, storage_key, byte_size, error, created_at, updated_at, expires_at";

fn job_from_row(r: &sqlx::any::AnyRow) -> Result<ExportJob, StoreError> {
    let contact: Option<String> = r.try_get(3)?;
    Ok(ExportJob {
        id: parse_id(r.try_get(0)?, "export")?,
        tenant: parse_id(r.try_get(1)?, "tenant")?,
        scope: r.try_get(2)?,
        contact: contact.map(|c| parse_id(c, "contact")).transpose()?,
        requested_by: r.try_get(4)?,
        status: r.try_get(5)?,
        done: r.try_get(6)?,
        total: r.try_get(7)?,
        storage_key: r.try_get(8)?,
        byte_size: r.try_get(9)?,
        error: r.try_get(10)?,
        created_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
        expires_at: r.try_get(13)?,
    })
}

impl<'s> Scope<'s> {
    /// The tenant's export jobs.
    pub fn exports(&mut self) -> Exports<'_, 's> {
        Exports { scope: self }
    }
}

/// Export jobs, in the scope's transaction.
pub struct Exports<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Exports<'_, '_> {
    /// Queues a job. The contact of a contact export must be the tenant's
    /// ([`StoreError::NotFound`] otherwise).
    pub async fn create(
        &mut self,
        contact: Option<ContactId>,
        requested_by: &str,
    ) -> Result<ExportJob, StoreError> {
        if let Some(c) = contact {
            self.scope.contacts().get(c).await?;
        }
        let id = ExportId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let now = self.scope.now();
        let scope = if contact.is_some() {
            "contact"
        } else {
            "tenant"
        };
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO exports (tenant_id, export_id, scope, contact_id, requested_by, status, done, total, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', 0, 0, $6, $6)",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(scope.to_string())
        .bind(contact.map(|c| c.to_string()))
        .bind(requested_by.to_string())
        .bind(now)
        .execute(self.scope.conn())
        .await?;
        self.get(id).await
    }

    /// One of the tenant's jobs ([`StoreError::NotFound`] for anything else).
    pub async fn get(&mut self, id: ExportId) -> Result<ExportJob, StoreError> {
        let r = self
            .scope
            .tenant_row(
                format!("SELECT {COLUMNS} FROM exports WHERE tenant_id = $1 AND export_id = $2"),
                id.to_string(),
            )
            .await?;
        job_from_row(&r)
    }

    /// Deletes every job of the tenant (a contact's erasure: a finished export may hold that
    /// person's data); the storage keys of their zips, for the caller to delete after commit.
    pub async fn delete_all(&mut self) -> Result<Vec<String>, StoreError> {
        let keys = self.storage_keys().await?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query("DELETE FROM exports WHERE tenant_id = $1")
            .bind(t)
            .execute(self.scope.conn())
            .await?;
        Ok(keys)
    }

    /// The storage keys of the tenant's jobs' zips, written or still being written (the media
    /// sweep keeps them).
    pub async fn storage_keys(&mut self) -> Result<Vec<String>, StoreError> {
        let tenant = self.scope.tenant();
        let rows = self
            .scope
            .tenant_rows("SELECT export_id FROM exports WHERE tenant_id = $1".to_string())
            .await?;
        rows.iter()
            .map(|r| {
                let id: ExportId = parse_id(r.try_get(0)?, "export")?;
                Ok(storage_key(tenant, id))
            })
            .collect()
    }
}

impl Store {
    /// Claims the oldest queued job (or a running one not heard of since `stale_before`, whose
    /// worker died), marking it running at `now`. `None` when there is nothing to do.
    pub async fn claim_export(
        &self,
        now: i64,
        stale_before: i64,
    ) -> Result<Option<ExportJob>, StoreError> {
        const DUE: &str = "(status = 'queued' OR (status = 'running' AND updated_at < $1))";
        for _ in 0..8 {
            let Some(r) = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT tenant_id, export_id FROM exports WHERE {DUE} ORDER BY created_at LIMIT 1"
            )))
            .bind(stale_before)
            .fetch_optional(self.write_pool())
            .await?
            else {
                return Ok(None);
            };
            let tenant: String = r.try_get(0)?;
            let id: String = r.try_get(1)?;
            let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE exports SET status = 'running', done = 0, updated_at = $2 \
                 WHERE tenant_id = $3 AND export_id = $4 AND {DUE}"
            )))
            .bind(stale_before)
            .bind(now)
            .bind(tenant.clone())
            .bind(id.clone())
            .execute(self.write_pool())
            .await?
            .rows_affected();
            if claimed == 1 {
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM exports WHERE tenant_id = $1 AND export_id = $2"
                )))
                .bind(tenant)
                .bind(id)
                .fetch_one(self.write_pool())
                .await?;
                return Ok(Some(job_from_row(&r)?));
            }
        }
        Ok(None)
    }

    /// Records a running job's progress; false when the job is gone (deleted by an erasure) or
    /// no longer running.
    pub async fn export_progress(
        &self,
        tenant: TenantId,
        id: ExportId,
        done: i64,
        total: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE exports SET done = $1, total = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND export_id = $5 AND status = 'running'",
        )
        .bind(done)
        .bind(total)
        .bind(now)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(self.write_pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Marks a job ready (its zip at `storage_key`, `byte_size` bytes, deleted at `expires_at`);
    /// false when the job is gone meanwhile (the caller then deletes the zip).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_export(
        &self,
        tenant: TenantId,
        id: ExportId,
        storage_key: &str,
        byte_size: i64,
        done: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE exports SET status = 'ready', storage_key = $1, byte_size = $2, done = $3, total = $3, \
             updated_at = $4, expires_at = $5 WHERE tenant_id = $6 AND export_id = $7 AND status = 'running'",
        )
        .bind(storage_key.to_string())
        .bind(byte_size)
        .bind(done)
        .bind(now)
        .bind(expires_at)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(self.write_pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Marks a job failed with a plain reason; it is deleted at `expires_at` like a finished one.
    pub async fn fail_export(
        &self,
        tenant: TenantId,
        id: ExportId,
        reason: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE exports SET status = 'failed', error = $1, updated_at = $2, expires_at = $3 \
             WHERE tenant_id = $4 AND export_id = $5",
        )
        .bind(reason.chars().take(300).collect::<String>())
        .bind(now)
        .bind(expires_at)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    /// Jobs whose time is up at `now` (every tenant).
    pub async fn expired_exports(&self, now: i64) -> Result<Vec<ExportJob>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM exports WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT 500"
        )))
        .bind(now)
        .fetch_all(self.write_pool())
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Deletes a job's row (after its zip).
    pub async fn delete_export(&self, tenant: TenantId, id: ExportId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM exports WHERE tenant_id = $1 AND export_id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(self.write_pool())
            .await?;
        Ok(())
    }
}
