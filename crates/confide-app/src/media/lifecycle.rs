//! What happens to media over time: usage per tenant, deletion with the rows that own it (contact
//! and tenant erasure call [`App::delete_media`]), and a sweep that removes objects no row refers to
//! (an upload whose record failed, a crash between the two).

use super::store::{MediaStore, MediaStoreError};
use crate::error::AppError;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::ids::{MediaId, TenantId};
use confide_core::permissions::Permission;
use confide_store::Store;
use confide_store::media_objects::MediaUsage;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::watch;

/// An object younger than this is never swept: its row may still be on its way.
pub const SWEEP_GRACE_SECS: i64 = 3_600;
/// How often the sweep runs.
const SWEEP_EVERY: Duration = Duration::from_secs(6 * 3_600);

/// The tenant's media usage, as `GET /api/v1/media/usage` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UsageView {
    pub objects: i64,
    pub bytes: i64,
}

impl From<MediaUsage> for UsageView {
    fn from(u: MediaUsage) -> Self {
        UsageView {
            objects: u.objects,
            bytes: u.bytes,
        }
    }
}

impl App {
    /// How many media objects, and bytes, the caller's tenant stores.
    pub async fn media_usage(&self, p: &Principal) -> Result<UsageView, AppError> {
        p.require(Permission::MediaUpload)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        Ok(s.media_objects().usage().await?.into())
    }

    /// Deletes media objects of a tenant: the rows first (committed), then the bytes. Bytes
    /// whose deletion fails are left to the sweep, which finds them without a row.
    pub async fn delete_media(&self, tenant: TenantId, ids: &[MediaId]) -> Result<usize, AppError> {
        let mut s = self.store.scope(tenant).await?;
        let mut keys = Vec::new();
        for id in ids {
            match s.media_objects().get(*id).await {
                Ok(o) => {
                    s.media_objects().delete(*id).await?;
                    keys.push(o.storage_key);
                }
                Err(confide_store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        s.commit().await?;
        for key in &keys {
            if let Err(e) = self.media.delete(key).await {
                tracing::warn!(error = %e, "media bytes not deleted; the sweep will retry");
            }
        }
        Ok(keys.len())
    }

    /// One sweep over every tenant; the number of orphaned objects deleted.
    pub async fn sweep_orphaned_media(&self) -> Result<usize, AppError> {
        sweep(&self.store, &self.media, self.clock.now().unix_timestamp())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "media sweep failed");
                AppError::unavailable()
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SweepError {
    #[error(transparent)]
    Store(#[from] confide_store::StoreError),
    #[error(transparent)]
    Media(#[from] MediaStoreError),
}

pub(crate) async fn sweep(
    store: &Store,
    media: &MediaStore,
    now: i64,
) -> Result<usize, SweepError> {
    let mut deleted = 0;
    for tenant in store.list_tenants().await? {
        let Ok(tenant) = tenant.id.parse::<TenantId>() else {
            continue;
        };
        let known: HashSet<String> = {
            let mut s = store.read_scope(tenant).await?;
            let mut known: HashSet<String> = s
                .media_objects()
                .storage_keys()
                .await?
                .into_iter()
                .collect();
            // Export zips (`<tenant>/exports/<id>`) have a job row instead; the export sweep
            // deletes them when they expire.
            known.extend(s.exports().storage_keys().await?);
            known
        };
        for (key, written) in media.list_tenant(tenant).await? {
            if !known.contains(&key) && written < now - SWEEP_GRACE_SECS {
                media.delete(&key).await?;
                deleted += 1;
            }
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "orphaned media objects swept");
    }
    Ok(deleted)
}

/// The sweep, every few hours, until `stop`.
pub(crate) async fn run_sweeps(
    store: Store,
    media: MediaStore,
    clock: confide_core::clock::SharedClock,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        if let Err(e) = sweep(&store, &media, clock.now().unix_timestamp()).await {
            tracing::warn!(error = %e, "media sweep failed; it runs again later");
        }
    }
}
