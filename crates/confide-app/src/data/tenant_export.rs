//! Full export (GDPR Art. 15 and 20, claim C13): `POST /api/v1/exports` queues a job for the
//! whole tenant or one contact (a data-subject access request in one call), audited
//! `export.requested`; a background worker ([`worker`]) runs it ([`super::export_job`]) into a
//! zip sealed in the media store; `GET /api/v1/exports/{id}` shows its progress and, once ready,
//! a short-lived signed download link (`/x/<token>`, the media link machinery with its own path
//! in the MAC); fetching it is audited `export.downloaded`. Exports are deleted
//! [`EXPORT_LIFETIME_SECS`] after they finish (zip and row, audited `export.expired`), and all of a
//! tenant's exports go when one of its contacts is erased.

use super::export_job::{Job, JobError};
use crate::error::{AppError, Code};
use crate::media::store::{MediaStore, MediaStoreError};
use crate::principal::Principal;
use crate::runtime::App;
use bytes::Bytes;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::clock::SharedClock;
use confide_core::ids::{ContactId, ExportId, MediaId, TenantId};
use confide_core::permissions::Permission;
use confide_crypto::media_link::{EXPORT_PATH_PREFIX, LinkClaims};
use confide_store::Store;
use confide_store::exports::ExportJob;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How long a finished (or failed) export is kept before its zip and row are deleted.
pub const EXPORT_LIFETIME_SECS: i64 = 24 * 3_600;
/// A running job not heard of for this long is taken over by another worker (its own died).
const STALE_SECS: i64 = 10 * 60;
/// How often the worker looks for work it was not woken for, and sweeps expired exports.
const IDLE: Duration = Duration::from_secs(60);

/// `POST /api/v1/exports`'s body: nothing (the whole tenant) or one contact.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Export only this contact's data (a data-subject access request).
    #[serde(default)]
    pub contact_id: Option<String>,
}

/// Rows written and rows to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExportProgress {
    pub done: i64,
    pub total: i64,
}

/// An export job as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExportView {
    pub id: String,
    /// `queued`, `running`, `ready` or `failed`.
    pub status: String,
    /// `tenant` or `contact`.
    pub scope: String,
    pub progress: ExportProgress,
    /// RFC 3339.
    pub created_at: String,
    /// When `status` is `ready`: a short-lived signed link (a path on this server, relative to
    /// its public URL) that serves the zip; `null` otherwise.
    pub download_url: Option<String>,
}

/// What `GET /x/{token}` serves.
pub struct ServedExport {
    pub file_name: String,
    pub total: u64,
    pub body: BoxStream<'static, Result<Bytes, MediaStoreError>>,
}

/// Why a download link serves nothing (every case is answered the same way as media links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportLinkRefused {
    /// Malformed, tampered, expired, another key or method, or the export is not ready.
    Invalid,
    /// The export is gone (expired and deleted, or withdrawn by an erasure).
    Gone,
    Unavailable,
}

fn view(job: &ExportJob, download_url: Option<String>) -> ExportView {
    ExportView {
        id: job.id.to_string(),
        status: job.status.clone(),
        scope: job.scope.clone(),
        progress: ExportProgress {
            done: job.done,
            total: job.total.max(job.done),
        },
        created_at: super::export::rfc3339(job.created_at),
        download_url,
    }
}

impl App {
    /// Queues an export of the caller's tenant, or of one of its contacts (`data.export`),
    /// audited `export.requested`.
    pub async fn request_export(
        &self,
        p: &Principal,
        request: ExportRequest,
        request_id: Option<String>,
    ) -> Result<ExportView, AppError> {
        p.require(Permission::DataExport)?;
        let contact = match request.contact_id.as_deref() {
            None => None,
            Some(c) => Some(c.parse::<ContactId>().map_err(|_| invalid_contact())?),
        };
        let mut s = self.store.scope(p.tenant).await?;
        let job = match s.exports().create(contact, &p.actor().to_string()).await {
            Ok(j) => j,
            Err(confide_store::StoreError::NotFound) => return Err(invalid_contact()),
            Err(e) => return Err(e.into()),
        };
        let target = match contact {
            Some(c) => format!("contact:{c}"),
            None => format!("tenant:{}", p.tenant),
        };
        s.audit(
            &AuditEvent::new(p.actor(), "export.requested", target)
                .with_details(json!({"export_id": job.id.to_string(), "scope": job.scope}))
                .with_request_id(request_id),
        )
        .await?;
        s.commit().await?;
        self.exporter.wake();
        Ok(view(&job, None))
    }

    /// An export of the caller's tenant (`data.export`), with a fresh download link once ready.
    pub async fn export_status(&self, p: &Principal, id: &str) -> Result<ExportView, AppError> {
        p.require(Permission::DataExport)?;
        let id: ExportId = id.parse().map_err(|_| AppError::not_found())?;
        let job = {
            let mut s = self.store.read_scope(p.tenant).await?;
            s.exports().get(id).await?
        };
        let url = if job.status == "ready" {
            let expires = self.clock.now().unix_timestamp() + self.config.media.link_ttl_secs;
            let claims = LinkClaims {
                tenant: *p.tenant.as_uuid().as_bytes(),
                object: *id.as_uuid().as_bytes(),
                link_id: confide_core::entropy::random_array(self.entropy.as_ref()),
                expires_at: expires,
                single_use: false,
                inline: false,
            };
            let token = self.store.sign_export_link(&claims)?;
            Some(format!("{EXPORT_PATH_PREFIX}{token}"))
        } else {
            None
        };
        Ok(view(&job, url))
    }

    /// Serves a download link: the signature and expiry first, then the export (ready, the
    /// tenant's), audited `export.downloaded`, then the zip, decrypted chunk by chunk.
    pub async fn open_export_link(
        &self,
        method: &str,
        token: &str,
        request_id: Option<String>,
    ) -> Result<ServedExport, ExportLinkRefused> {
        let now = self.clock.now().unix_timestamp();
        let claims = match self.store.verify_export_link(method, token, now) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::info!(reason = %e, "export link refused");
                return Err(ExportLinkRefused::Invalid);
            }
            Err(e) => {
                tracing::error!(error = %e, "export link check failed");
                return Err(ExportLinkRefused::Unavailable);
            }
        };
        let tenant = TenantId::from_uuid(uuid::Uuid::from_bytes(claims.tenant));
        let id = ExportId::from_uuid(uuid::Uuid::from_bytes(claims.object));
        let unavailable = |e: AppError| {
            tracing::error!(code = %e.code, "export link could not be served");
            ExportLinkRefused::Unavailable
        };
        let mut s = match self.store.scope(tenant).await {
            Ok(s) => s,
            Err(confide_store::StoreError::NotFound) => return Err(ExportLinkRefused::Gone),
            Err(e) => return Err(unavailable(e.into())),
        };
        let job = match s.exports().get(id).await {
            Ok(j) => j,
            Err(confide_store::StoreError::NotFound) => return Err(ExportLinkRefused::Gone),
            Err(e) => return Err(unavailable(e.into())),
        };
        let (Some(key), Some(size)) = (job.storage_key.clone(), job.byte_size) else {
            return Err(ExportLinkRefused::Invalid);
        };
        if job.status != "ready" {
            return Err(ExportLinkRefused::Invalid);
        }
        s.audit(
            &AuditEvent::new(Actor::System, "export.downloaded", format!("export:{id}"))
                .with_details(json!({
                    "scope": job.scope,
                    "contact_id": job.contact.map(|c| c.to_string()),
                    "requested_by": job.requested_by,
                    "bytes": size,
                }))
                .with_request_id(request_id),
        )
        .await
        .map_err(|e| unavailable(e.into()))?;
        let keys = s.media_keys();
        s.commit().await.map_err(|e| unavailable(e.into()))?;
        let total = u64::try_from(size).unwrap_or(0);
        let body = match self
            .media
            .read(&key, &keys, MediaId::from_uuid(id.as_uuid()), total, None)
            .await
        {
            Ok(b) => b,
            Err(MediaStoreError::Missing) => return Err(ExportLinkRefused::Gone),
            Err(e) => {
                tracing::error!(error = %e, "export zip could not be read");
                return Err(ExportLinkRefused::Unavailable);
            }
        };
        Ok(ServedExport {
            file_name: format!("confide-export-{id}.zip"),
            total,
            body,
        })
    }

    /// Runs queued export jobs until none is left (the worker's pass; tests call it): how many
    /// ran.
    pub async fn run_exports_once(&self) -> Result<usize, AppError> {
        self.exporter.run_once().await
    }

    /// Deletes the exports whose time is up (see [`Exporter::sweep`]): how many.
    pub async fn sweep_exports(&self) -> Result<usize, AppError> {
        self.exporter.sweep().await
    }
}

/// Runs export jobs and deletes expired exports: what the worker holds (never the whole
/// [`App`], which would keep the ingest queue open).
#[derive(Clone)]
pub struct Exporter {
    store: Store,
    media: MediaStore,
    clock: SharedClock,
    wake: Arc<Notify>,
}

impl Exporter {
    pub(crate) fn new(store: Store, media: MediaStore, clock: SharedClock) -> Exporter {
        Exporter {
            store,
            media,
            clock,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wakes the worker (a job was queued).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs queued jobs until none is left: how many ran.
    pub async fn run_once(&self) -> Result<usize, AppError> {
        let mut ran = 0;
        loop {
            let now = self.clock.now_micros();
            let Some(job) = self
                .store
                .claim_export(now, now - STALE_SECS * 1_000_000)
                .await?
            else {
                return Ok(ran);
            };
            self.run_export(&job).await;
            ran += 1;
        }
    }

    /// Runs one claimed job to its end: ready (with its expiry) or failed (with a plain reason).
    async fn run_export(&self, job: &ExportJob) {
        let j = Job {
            store: &self.store,
            media: &self.media,
            clock: &self.clock,
            job,
        };
        let key = confide_store::exports::storage_key(job.tenant, job.id);
        let result = j.run().await;
        let now = self.clock.now_micros();
        let expires = now + EXPORT_LIFETIME_SECS * 1_000_000;
        let kept = match result {
            Ok((size, done)) => {
                let size = i64::try_from(size).unwrap_or(i64::MAX);
                match self
                    .store
                    .finish_export(job.tenant, job.id, &key, size, done, now, expires)
                    .await
                {
                    Ok(true) => true,
                    // Withdrawn while it ran (an erasure): the zip goes too.
                    Ok(false) => false,
                    Err(e) => {
                        tracing::error!(error = %e, "an export finished but could not be recorded");
                        false
                    }
                }
            }
            Err(JobError::Gone) => false,
            Err(e) => {
                tracing::error!(error = %e, export = %job.id, "export failed");
                if let Err(e) = self
                    .store
                    .fail_export(
                        job.tenant,
                        job.id,
                        "The export could not be completed; ask for a new one.",
                        now,
                        expires,
                    )
                    .await
                {
                    tracing::error!(error = %e, "a failed export could not be recorded");
                }
                false
            }
        };
        if !kept && let Err(e) = self.media.delete(&key).await {
            tracing::warn!(error = %e, "an unfinished export zip was not deleted; the media sweep will");
        }
    }

    /// Deletes the exports whose time is up (zips first, then rows), each audited
    /// `export.expired` in its tenant's log: how many.
    pub async fn sweep(&self) -> Result<usize, AppError> {
        let now = self.clock.now_micros();
        let expired = self.store.expired_exports(now).await?;
        let mut deleted = 0;
        for job in &expired {
            let key = confide_store::exports::storage_key(job.tenant, job.id);
            if let Err(e) = self.media.delete(&key).await {
                tracing::warn!(error = %e, "an expired export zip could not be deleted; retrying later");
                continue;
            }
            let mut s = self.store.scope(job.tenant).await?;
            s.audit(
                &AuditEvent::new(
                    Actor::System,
                    "export.expired",
                    format!("export:{}", job.id),
                )
                .with_details(json!({"scope": job.scope, "status": job.status})),
            )
            .await?;
            s.commit().await?;
            self.store.delete_export(job.tenant, job.id).await?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

fn invalid_contact() -> AppError {
    AppError::invalid(
        Code::InvalidContact,
        "contact_id names no contact of this account.",
    )
}

/// The export worker: runs queued jobs when woken (or every [`IDLE`]) and sweeps expired
/// exports, until `stop`.
pub(crate) async fn worker(exporter: Exporter, mut stop: watch::Receiver<bool>) {
    let wake = exporter.wake.clone();
    loop {
        if let Err(e) = exporter.run_once().await {
            tracing::warn!(error = %e.message, "export pass failed; retrying shortly");
        }
        if let Err(e) = exporter.sweep().await {
            tracing::warn!(error = %e.message, "export sweep failed; retrying later");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(IDLE) => {}
        }
    }
}
