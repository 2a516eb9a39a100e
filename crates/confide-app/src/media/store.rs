//! The media store: sealed objects on a local directory (default `file://./data/media`) or any
//! S3-compatible service (`s3://bucket/prefix`), through `object_store`.
//!
//! Bytes are sealed with the tenant's key in 64 KiB chunks ([`confide_crypto::media`]) before they
//! leave the process, and opened chunk by chunk on the way out: an upload or a download of any
//! size holds a few chunks and one multipart part in memory. Storage keys are
//! `<tenant id>/<media id>` (random ids, never file names). Nothing here makes anything public:
//! the local directory is created 0700 and S3 objects are written with the bucket's default
//! (private) ACL; bytes leave only through signed links (see [`super::links`]).

use super::config::MediaConfig;
use bytes::Bytes;
use confide_core::ids::{MediaId, TenantId};
use confide_crypto::media::{self as sealing, HEADER_LEN, MediaSealer, SEALED_CHUNK};
use confide_store::media_objects::MediaKeys;
use futures_util::stream::{self, BoxStream, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use secrecy::ExposeSecret;
use std::ops::Range;
use std::sync::Arc;

/// Sealed chunks fetched per read from storage (1 MiB).
const CHUNKS_PER_READ: u64 = 16;
/// Multipart parts in flight while an upload streams in.
const PARTS_IN_FLIGHT: usize = 2;

/// Why the media store failed. The message is for logs; clients get a generic error.
#[derive(Debug, thiserror::Error)]
pub enum MediaStoreError {
    #[error("media storage: {0}")]
    Storage(#[from] object_store::Error),
    #[error("media object could not be opened: {0}")]
    Seal(String),
    #[error("media object not found in storage")]
    Missing,
}

/// Where sealed media lives.
#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<dyn ObjectStore>,
    describe: String,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaStore({})", self.describe)
    }
}

impl MediaStore {
    /// The store named by `media_url`: `file://PATH` or `s3://bucket[/prefix]` with the endpoint,
    /// region and credentials of `media`.
    pub fn from_config(url: &str, media: &MediaConfig) -> Result<MediaStore, String> {
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err("media_url: the path is empty".into());
            }
            let root = std::path::PathBuf::from(path);
            create_private_dir(&root)
                .map_err(|e| format!("media_url: cannot create {}: {e}", root.display()))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&root)
                .map_err(|e| format!("media_url: {e}"))?
                .with_automatic_cleanup(true);
            return Ok(MediaStore {
                inner: Arc::new(fs),
                describe: url.to_string(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("media_url: s3:// needs a bucket (s3://bucket/prefix)".into());
            }
            let mut b = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(media.s3_region.clone())
                .with_allow_http(media.s3_allow_http)
                .with_virtual_hosted_style_request(false);
            if let Some(e) = &media.s3_endpoint {
                b = b.with_endpoint(e.clone());
            }
            if let Some(k) = &media.s3_access_key_id {
                b = b.with_access_key_id(k.clone());
            }
            if let Some(s) = &media.s3_secret_access_key {
                b = b.with_secret_access_key(s.expose_secret().to_string());
            }
            let s3 = b.build().map_err(|e| format!("media_url: {e}"))?;
            let inner: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(
                    s3,
                    prefix.trim_matches('/'),
                ))
            };
            return Ok(MediaStore {
                inner,
                describe: format!("s3://{bucket}/{prefix}"),
            });
        }
        Err(format!(
            "media_url: {url:?} is neither file://PATH nor s3://bucket/prefix"
        ))
    }

    /// The storage key of an object: random ids only.
    pub fn storage_key(tenant: TenantId, media: MediaId) -> String {
        format!("{tenant}/{media}")
    }

    /// Starts writing a sealed object.
    pub async fn writer(
        &self,
        key: &str,
        sealer: MediaSealer,
    ) -> Result<SealedWriter, MediaStoreError> {
        let upload = self.inner.put_multipart(&ObjectPath::from(key)).await?;
        Ok(SealedWriter {
            upload: WriteMultipart::new(upload),
            sealer,
            buf: Vec::with_capacity(SEALED_CHUNK * 2),
            written: 0,
        })
    }

    /// Writes a whole object held in memory (inbound media, small files).
    pub async fn put_all(
        &self,
        key: &str,
        sealer: MediaSealer,
        plain: &[u8],
    ) -> Result<(), MediaStoreError> {
        let mut w = self.writer(key, sealer).await?;
        w.write(plain).await?;
        w.finish().await?;
        Ok(())
    }

    /// Streams plaintext bytes `range` (or all) of an object of `plain_len` bytes.
    pub async fn read(
        &self,
        key: &str,
        keys: &MediaKeys,
        media: MediaId,
        plain_len: u64,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, MediaStoreError>>, MediaStoreError> {
        let path = ObjectPath::from(key);
        let header = match self.inner.get_range(&path, 0..HEADER_LEN as u64).await {
            Ok(h) => h,
            Err(object_store::Error::NotFound { .. }) => return Err(MediaStoreError::Missing),
            Err(e) => return Err(e.into()),
        };
        let opener = keys
            .opener(media, &header)
            .map_err(|e| MediaStoreError::Seal(e.to_string()))?;
        let range = range.unwrap_or(0..plain_len);
        if range.start >= range.end {
            return Ok(stream::empty().boxed());
        }
        let (first, last, _) = sealing::sealed_range(plain_len, range.start, range.end);
        let total = sealing::chunk_count(plain_len);
        let sealed_total = sealing::sealed_len(plain_len);
        let inner = self.inner.clone();
        let state = (first, inner, path, opener, range, last, total, sealed_total);
        let s = stream::try_unfold(state, |st| async move {
            let (next, inner, path, opener, range, last, total, sealed_total) = st;
            if next > last {
                return Ok(None);
            }
            let upto = (next + CHUNKS_PER_READ - 1).min(last);
            let from = HEADER_LEN as u64 + next * SEALED_CHUNK as u64;
            let to = (HEADER_LEN as u64 + (upto + 1) * SEALED_CHUNK as u64).min(sealed_total);
            let sealed = inner.get_range(&path, from..to).await?;
            let mut out = Vec::with_capacity(sealed.len());
            for (i, c) in sealed.chunks(SEALED_CHUNK).enumerate() {
                let index = next + i as u64;
                let plain = opener
                    .open_chunk(index, index + 1 == total, c)
                    .map_err(|e| MediaStoreError::Seal(e.to_string()))?;
                // Keep only the requested bytes of this chunk.
                let chunk_start = index * sealing::CHUNK as u64;
                let lo = range.start.saturating_sub(chunk_start) as usize;
                let hi = ((range.end - chunk_start) as usize).min(plain.len());
                if lo < hi {
                    out.extend_from_slice(&plain[lo..hi]);
                }
            }
            let state = (
                upto + 1,
                inner,
                path,
                opener,
                range,
                last,
                total,
                sealed_total,
            );
            Ok(Some((Bytes::from(out), state)))
        });
        Ok(s.boxed())
    }

    /// Reads a whole object into memory (for a Graph upload); `limit` guards against surprises.
    pub async fn read_all(
        &self,
        key: &str,
        keys: &MediaKeys,
        media: MediaId,
        plain_len: u64,
    ) -> Result<Vec<u8>, MediaStoreError> {
        let mut s = self.read(key, keys, media, plain_len, None).await?;
        let mut out = Vec::with_capacity(plain_len as usize);
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b?);
        }
        Ok(out)
    }

    /// Deletes an object (missing is fine).
    pub async fn delete(&self, key: &str) -> Result<(), MediaStoreError> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object under a tenant's prefix: its storage key and when it was last written (Unix
    /// seconds).
    pub async fn list_tenant(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<(String, i64)>, MediaStoreError> {
        let prefix = ObjectPath::from(tenant.to_string());
        let mut keys = Vec::new();
        let mut s = self.inner.list(Some(&prefix));
        while let Some(m) = s.next().await {
            let m = m?;
            keys.push((m.location.to_string(), m.last_modified.timestamp()));
        }
        Ok(keys)
    }
}

/// An object being written: plaintext in, sealed chunks out to a multipart upload.
pub struct SealedWriter {
    upload: WriteMultipart,
    sealer: MediaSealer,
    buf: Vec<u8>,
    written: u64,
}

impl SealedWriter {
    /// Seals and sends `plain`; waits while too many parts are in flight.
    pub async fn write(&mut self, plain: &[u8]) -> Result<(), MediaStoreError> {
        self.sealer
            .push(plain, &mut self.buf)
            .map_err(|e| MediaStoreError::Seal(e.to_string()))?;
        self.written += plain.len() as u64;
        if !self.buf.is_empty() {
            self.upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
            self.upload.write(&self.buf);
            self.buf.clear();
        }
        Ok(())
    }

    /// Plaintext bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Seals the last chunk and completes the upload.
    pub async fn finish(mut self) -> Result<u64, MediaStoreError> {
        self.sealer
            .finish(&mut self.buf)
            .map_err(|e| MediaStoreError::Seal(e.to_string()))?;
        self.upload.write(&self.buf);
        self.upload.finish().await?;
        Ok(self.written)
    }

    /// Abandons the upload: nothing is left in storage.
    pub async fn abort(self) {
        if let Err(e) = self.upload.abort().await {
            tracing::warn!(error = %e, "media upload could not be aborted");
        }
    }
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}
