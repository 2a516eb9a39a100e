//! Uploading a file a team member will send: streamed in, typed by its content, checked against
//! WhatsApp's limits as it arrives, sealed chunk by chunk into the media store. Nothing is kept
//! of a refused upload.

use super::sniff::{self, Detected, SNIFF_LEN};
use super::store::MediaStore;
use crate::error::{AppError, Code};
use crate::principal::Principal;
use crate::runtime::App;
use bytes::Bytes;
use confide_core::audit::AuditEvent;
use confide_core::ids::MediaId;
use confide_core::permissions::Permission;
use confide_store::media_objects::{MediaObject, NewMediaObject};
use futures_util::{Stream, StreamExt};
use serde_json::json;

/// The longest file name kept (sealed).
const NAME_MAX: usize = 255;

/// What the uploader said about the file (believed for nothing but the mismatch check).
#[derive(Debug, Clone, Default)]
pub struct UploadMeta {
    pub file_name: Option<String>,
    pub declared_type: Option<String>,
}

/// A stored object as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MediaView {
    pub id: String,
    /// image, audio, video, document or sticker.
    pub kind: String,
    pub content_type: String,
    pub byte_size: i64,
    pub file_name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&MediaObject> for MediaView {
    fn from(o: &MediaObject) -> Self {
        MediaView {
            id: o.id.to_string(),
            kind: o.kind.clone(),
            content_type: o.content_type.clone(),
            byte_size: o.byte_size,
            file_name: o.file_name.clone(),
            created_at: o.created_at / 1_000_000,
        }
    }
}

impl App {
    /// Stores an uploaded file. `body` yields the file's bytes as they arrive; an error in it (the
    /// client went away, the body was cut) abandons the upload.
    pub async fn upload_media<S, E>(
        &self,
        p: &Principal,
        meta: UploadMeta,
        mut body: S,
    ) -> Result<MediaView, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        p.require(Permission::MediaUpload)?;
        let file_name = meta
            .file_name
            .as_deref()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).trim())
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.chars()
                    .filter(|c| !c.is_control())
                    .take(NAME_MAX)
                    .collect::<String>()
            });
        // Gather the first bytes: the type is decided before anything is stored.
        let mut head = Vec::with_capacity(SNIFF_LEN);
        let mut ended = false;
        while head.len() < SNIFF_LEN {
            match body.next().await {
                Some(Ok(b)) => head.extend_from_slice(&b),
                Some(Err(e)) => return Err(read_error(e)),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let detected: Detected = sniff::sniff(&head, ended)?;
        detected.check_declared(file_name.as_deref(), meta.declared_type.as_deref())?;
        detected.check_size(head.len() as u64)?;

        let id = MediaId::new(self.clock.as_ref(), self.entropy.as_ref());
        let key = MediaStore::storage_key(p.tenant, id);
        let keys = self.store.media_keys(p.tenant).await?;
        let mut writer = self
            .media
            .writer(&key, keys.sealer(id)?)
            .await
            .map_err(storage_error)?;
        let streamed: Result<(), AppError> = async {
            writer.write(&head).await.map_err(storage_error)?;
            drop(std::mem::take(&mut head));
            if !ended {
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(read_error)?;
                    detected.check_size(writer.written() + chunk.len() as u64)?;
                    writer.write(&chunk).await.map_err(storage_error)?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            writer.abort().await;
            return Err(e);
        }
        let size = writer.finish().await.map_err(storage_error)?;
        let recorded: Result<MediaObject, AppError> = async {
            let mut s = self.store.scope(p.tenant).await?;
            let object = s
                .media_objects()
                .insert(&NewMediaObject {
                    id,
                    kind: detected.kind.to_string(),
                    content_type: detected.content_type.to_string(),
                    byte_size: i64::try_from(size).unwrap_or(i64::MAX),
                    file_name,
                    storage_key: key.clone(),
                    origin: "upload",
                    message: None,
                })
                .await?;
            s.audit(
                &AuditEvent::new(p.actor(), "media.uploaded", format!("media:{id}")).with_details(
                    json!({ "kind": detected.kind, "content_type": detected.content_type, "bytes": size }),
                ),
            )
            .await?;
            s.commit().await?;
            Ok(object)
        }
        .await;
        match recorded {
            Ok(o) => Ok(MediaView::from(&o)),
            Err(e) => {
                // Not recorded: do not leave the bytes behind.
                if let Err(d) = self.media.delete(&key).await {
                    tracing::warn!(error = %d, "could not delete an unrecorded upload; the orphan sweep will");
                }
                Err(e)
            }
        }
    }

    /// A media object of the caller's tenant.
    pub async fn media_object(&self, p: &Principal, id: &str) -> Result<MediaView, AppError> {
        may_see_media(p)?;
        let id: MediaId = id.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let o = s.media_objects().get(id).await?;
        Ok(MediaView::from(&o))
    }
}

/// Uploads a media page lists at most.
pub const LIST_MAX: i64 = 200;

impl App {
    /// The tenant's uploaded files (what the team can send), newest first, at most
    /// [`LIST_MAX`].
    pub async fn list_uploads(&self, p: &Principal) -> Result<Vec<MediaView>, AppError> {
        may_see_media(p)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let list = s.media_objects().list("upload", LIST_MAX).await?;
        s.commit().await?;
        Ok(list.iter().map(MediaView::from).collect())
    }
}

/// Who may see stored media: those who upload it, and those who read the inbox it came in.
pub(crate) fn may_see_media(p: &Principal) -> Result<(), AppError> {
    if p.permissions.contains(&Permission::MediaUpload)
        || p.permissions.contains(&Permission::InboxRead)
    {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

fn read_error(e: impl std::fmt::Display) -> AppError {
    tracing::info!(error = %e, "media upload body could not be read");
    AppError::new(
        Code::InvalidUpload,
        "The upload was cut off or is not valid multipart/form-data.",
    )
}

pub(crate) fn storage_error(e: super::store::MediaStoreError) -> AppError {
    tracing::error!(error = %e, "media storage failed");
    AppError::new(
        Code::Unavailable,
        "Media storage is unavailable; try again shortly.",
    )
}
