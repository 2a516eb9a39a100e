//! The reads of an export job ([`super::export_job`]): the next page of the subject's contacts,
//! messages or media objects, each in its own short read transaction, and one media object's
//! bytes, decrypted into the zip.

use super::export_job::{Job, JobError, PAGE, media_path};
use super::export_zip::ZipSink;
use crate::media::store::MediaStoreError;
use confide_core::ids::MediaId;
use confide_store::StoreError;
use confide_store::contacts::{Contact, ContactCursor};
use confide_store::export::{ExportMessage, Subject};
use confide_store::media_objects::{MediaKeys, MediaObject};
use futures_util::StreamExt;

impl Job<'_> {
    /// The next page of the subject's contacts (`None` after the last).
    pub(super) async fn contacts_page(
        &self,
        subject: Subject,
        cursor: &mut Pager<ContactCursor>,
    ) -> Result<Option<Vec<Contact>>, JobError> {
        if cursor.done {
            return Ok(None);
        }
        let mut s = self.store.read_scope(self.job.tenant).await?;
        let page = match subject {
            Subject::Contact(id) => {
                cursor.done = true;
                vec![s.contacts().get(id).await?]
            }
            Subject::Tenant => {
                let page = s.contacts().list(None, cursor.after.take(), PAGE).await?;
                cursor.after = page.next;
                cursor.done = page.next.is_none();
                page.items
            }
        };
        s.commit().await?;
        Ok(Some(page))
    }

    /// The next page of the subject's messages (`None` after the last).
    pub(super) async fn messages_page(
        &self,
        subject: Subject,
        cursor: &mut Pager<String>,
    ) -> Result<Option<Vec<ExportMessage>>, JobError> {
        if cursor.done {
            return Ok(None);
        }
        let mut s = self.store.read_scope(self.job.tenant).await?;
        let page = s
            .export_messages(subject, cursor.after.take(), PAGE)
            .await?;
        s.commit().await?;
        cursor.done = (page.len() as i64) < PAGE;
        cursor.after = page.last().map(|m| m.message.id.to_string());
        Ok(Some(page))
    }

    /// The next page of the subject's media objects: a tenant's, all of them; a contact's,
    /// those `ids` names (`None` after the last).
    pub(super) async fn media_page(
        &self,
        subject: Subject,
        ids: &[String],
        cursor: &mut Pager<String>,
    ) -> Result<Option<Vec<MediaObject>>, JobError> {
        if cursor.done {
            return Ok(None);
        }
        let mut s = self.store.read_scope(self.job.tenant).await?;
        let page = match subject {
            Subject::Tenant => {
                let page = s.export_media(cursor.after.take(), PAGE).await?;
                cursor.done = (page.len() as i64) < PAGE;
                cursor.after = page.last().map(|o| o.id.to_string());
                page
            }
            Subject::Contact(_) => {
                let mut page = Vec::new();
                for id in ids.iter().skip(cursor.skipped) {
                    cursor.skipped += 1;
                    let Ok(id) = id.parse::<MediaId>() else {
                        continue;
                    };
                    match s.media_objects().get(id).await {
                        Ok(o) => page.push(o),
                        Err(StoreError::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                    if page.len() as i64 == PAGE {
                        break;
                    }
                }
                cursor.done = cursor.skipped >= ids.len();
                page
            }
        };
        s.commit().await?;
        Ok(Some(page))
    }

    /// Writes one object's bytes, decrypted, under `media/`; false when its bytes are missing
    /// from storage (a sweep or a crash lost them: `media.json` says so with a null path).
    pub(super) async fn media_file(
        &self,
        sink: &mut ZipSink,
        keys: &MediaKeys,
        o: &MediaObject,
    ) -> Result<bool, JobError> {
        let size = u64::try_from(o.byte_size).unwrap_or(0);
        match self
            .media
            .read(&o.storage_key, keys, o.id, size, None)
            .await
        {
            Ok(mut bytes) => {
                sink.start(&media_path(o), false).await?;
                while let Some(chunk) = bytes.next().await {
                    sink.write(&chunk?).await?;
                }
                Ok(true)
            }
            Err(MediaStoreError::Missing) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Where a paged read is: after which row, and whether the last page was read.
pub(super) struct Pager<C> {
    after: Option<C>,
    done: bool,
    /// Ids already looked up (a contact's media).
    skipped: usize,
}

impl<C> Default for Pager<C> {
    fn default() -> Self {
        Pager {
            after: None,
            done: false,
            skipped: 0,
        }
    }
}
