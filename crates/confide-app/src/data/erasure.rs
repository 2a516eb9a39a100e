//! Erasure on request (GDPR Art. 17, claim C13).
//!
//! A contact's erasure deletes every row of that person in one transaction (see
//! `confide_store::erasure`), keeping only a consent tombstone per opted-out purpose so an
//! opt-out is still honoured, then deletes the person's media objects ([`erase_media`]) and, on
//! SQLite, empties the write-ahead log. A tenant's erasure destroys the tenant's keys first
//! (crypto-shredding), then deletes its rows and its media. Both are audited with counts only.

use crate::error::AppError;
use crate::media::store::MediaStore;
use crate::principal::{Principal, PrincipalKind};
use crate::runtime::App;
use confide_core::audit::Actor;
use confide_core::ids::{ContactId, TenantId};
use confide_core::permissions::Permission;
use confide_store::Store;
use confide_store::erasure::{ErasedContact, ErasedTenant};

/// The media hook of erasure (and retention): deletes the bytes of media objects whose rows
/// are already gone. A failure is logged, never hidden; the media sweep
/// (`crate::media::lifecycle`) finds such bytes without a row and deletes them later.
pub async fn erase_media(media: &MediaStore, keys: &[String]) -> u64 {
    let mut deleted = 0;
    for key in keys {
        match media.delete(key).await {
            Ok(()) => deleted += 1,
            Err(e) => {
                tracing::error!(error = %e, "a media object of erased data could not be deleted; the sweep will retry");
            }
        }
    }
    deleted
}

/// After an erasure on SQLite: empties the write-ahead log so no page image of the erased rows
/// stays in it (best effort: a reader holding an old snapshot postpones it to the next one).
async fn fold_log(store: &Store) {
    match store.truncate_log().await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "the write-ahead log could not be emptied after an erasure (a reader was busy); the next checkpoint folds it"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "the write-ahead log could not be emptied after an erasure")
        }
    }
}

impl App {
    /// Erases a contact and everything of that person (`DELETE /api/v1/contacts/{id}`): needs
    /// `data.erase`. 404 unless the contact is the caller's tenant's.
    pub async fn erase_contact(
        &self,
        p: &Principal,
        id: &str,
        request_id: Option<String>,
    ) -> Result<ErasedContact, AppError> {
        p.require(Permission::DataErase)?;
        // A person erases only soon after proving who they are (the UI asks for the password
        // again); an API key holding `data.erase` may (a data-subject request pipeline).
        if matches!(p.kind, PrincipalKind::User { .. }) {
            self.require_recent_human(p).await?;
        }
        let id: ContactId = id.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.scope(p.tenant).await?;
        let erased = s.erase_contact(id, p.actor(), request_id).await?;
        s.commit().await?;
        erase_media(&self.media, &erased.media).await;
        erase_media(&self.media, &erased.exports).await;
        fold_log(&self.store).await;
        Ok(erased)
    }
}

/// Erases a whole tenant (`confide tenant erase`, the local operator's command: no principal):
/// its keys first, then its rows and its media.
pub async fn erase_tenant(
    store: &Store,
    media: &MediaStore,
    tenant: TenantId,
) -> Result<ErasedTenant, AppError> {
    let erased = store.erase_tenant(tenant, Actor::Cli).await?;
    match media.list_tenant(tenant).await {
        Ok(objects) => {
            let keys: Vec<String> = objects.into_iter().map(|(k, _)| k).collect();
            erase_media(media, &keys).await;
        }
        Err(e) => {
            tracing::error!(error = %e, tenant = %tenant, "the media of an erased tenant could not be listed; the sweep will retry");
        }
    }
    fold_log(store).await;
    Ok(erased)
}
