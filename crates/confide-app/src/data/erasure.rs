//! Erasure on request (GDPR Art. 17, claim C13).
//!
//! A contact's erasure deletes every row of that person in one transaction (see
//! `confide_store::erasure`), keeping only a consent tombstone per opted-out purpose so an
//! opt-out is still honoured, then deletes the person's media objects ([`erase_media`]) and, on
//! SQLite, empties the write-ahead log. A tenant's erasure destroys the tenant's keys first
//! (crypto-shredding), then deletes its rows and its media. Both are audited with counts only.

use crate::error::AppError;
use crate::media::vault::MediaVault;
use crate::principal::{Principal, PrincipalKind};
use crate::runtime::App;
use confide_core::audit::Actor;
use confide_core::ids::{ContactId, MessageId, TenantId};
use confide_core::permissions::Permission;
use confide_store::Store;
use confide_store::erasure::{ErasedContact, ErasedTenant};

/// The media hook of erasure: deletes the media objects of erased messages from the media
/// store. (Retention uses it too.) A failure is logged and counted, never hidden: the rows are
/// already gone, and the object, sealed with the tenant's key, is listed for the operator.
pub fn erase_media(vault: &MediaVault, tenant: TenantId, messages: &[MessageId]) -> u64 {
    let mut deleted = 0;
    for m in messages {
        match vault.delete(tenant, *m) {
            Ok(true) => deleted += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, tenant = %tenant, message = %m, "a media object of an erased message could not be deleted");
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
        erase_media(&self.vault, p.tenant, &erased.media);
        fold_log(&self.store).await;
        Ok(erased)
    }
}

/// Erases a whole tenant (`confide tenant erase`, the local operator's command: no principal):
/// its keys first, then its rows and its media.
pub async fn erase_tenant(
    store: &Store,
    vault: &MediaVault,
    tenant: TenantId,
) -> Result<ErasedTenant, AppError> {
    let erased = store.erase_tenant(tenant, Actor::Cli).await?;
    if let Err(e) = vault.delete_tenant(tenant) {
        tracing::error!(error = %e, tenant = %tenant, "the media of an erased tenant could not be deleted");
    }
    fold_log(store).await;
    Ok(erased)
}
