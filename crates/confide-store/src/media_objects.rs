//! Media objects: the rows that describe what the media store holds (type, size, sealed file
//! name, random storage key), the keys that seal and open their bytes, and the record of
//! single-use links already fetched. The bytes themselves live in the application's media store.

use crate::error::{StoreError, parse_id};
use crate::scope::Scope;
use crate::store::Store;
use confide_core::ids::{MediaId, MessageId, TenantId};
use confide_crypto::TenantKeys;
use confide_crypto::media::{MediaOpener, MediaSealer};
use confide_crypto::media_link::{self, LinkClaims, LinkError};
use sqlx::Row;
use std::sync::Arc;

/// A stored media object, its file name decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaObject {
    pub id: MediaId,
    /// image, audio, video, document or sticker.
    pub kind: String,
    pub content_type: String,
    pub byte_size: i64,
    pub file_name: Option<String>,
    pub storage_key: String,
    /// `upload` or `inbound`.
    pub origin: String,
    pub message: Option<MessageId>,
    pub created_at: i64,
}

/// A new object's row.
#[derive(Debug, Clone)]
pub struct NewMediaObject {
    pub id: MediaId,
    pub kind: String,
    pub content_type: String,
    pub byte_size: i64,
    pub file_name: Option<String>,
    pub storage_key: String,
    pub origin: &'static str,
    pub message: Option<MessageId>,
}

/// A tenant's media usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MediaUsage {
    pub objects: i64,
    pub bytes: i64,
}

/// A tenant's keys for sealing and opening media objects, held apart from any transaction so an
/// upload or a download can stream for as long as it takes.
#[derive(Clone)]
pub struct MediaKeys {
    keys: Arc<TenantKeys>,
    store: Store,
}

impl std::fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaKeys(..)")
    }
}

impl MediaKeys {
    /// A sealer for a new object.
    pub fn sealer(&self, object: MediaId) -> Result<MediaSealer, StoreError> {
        Ok(MediaSealer::new(
            &self.keys,
            &object.to_string(),
            self.store.entropy().as_ref(),
        )?)
    }

    /// An opener for an object, from its sealed header.
    pub fn opener(&self, object: MediaId, header: &[u8]) -> Result<MediaOpener, StoreError> {
        Ok(MediaOpener::new(&self.keys, &object.to_string(), header)?)
    }
}

impl Store {
    /// The tenant's media keys (read once, then used without a transaction).
    pub async fn media_keys(&self, tenant: TenantId) -> Result<MediaKeys, StoreError> {
        Ok(self.read_scope(tenant).await?.media_keys())
    }

    /// Signs a media link with the keyring's primary key.
    pub fn sign_media_link(&self, claims: &LinkClaims) -> Result<String, StoreError> {
        self.keys().read(|k| media_link::sign(k, "GET", claims))
    }

    /// Signs an export's download link (served under `/x/`) with the keyring's primary key.
    pub fn sign_export_link(&self, claims: &LinkClaims) -> Result<String, StoreError> {
        self.keys()
            .read(|k| media_link::sign_for(k, "GET", media_link::EXPORT_PATH_PREFIX, claims))
    }

    /// Verifies an export's download link for `method` at `now` (unix seconds).
    pub fn verify_export_link(
        &self,
        method: &str,
        token: &str,
        now: i64,
    ) -> Result<Result<LinkClaims, LinkError>, StoreError> {
        self.keys()
            .read(|k| media_link::verify_for(k, method, media_link::EXPORT_PATH_PREFIX, token, now))
    }

    /// Verifies a media link token for `method` at `now` (unix seconds).
    pub fn verify_media_link(
        &self,
        method: &str,
        token: &str,
        now: i64,
    ) -> Result<Result<LinkClaims, LinkError>, StoreError> {
        self.keys()
            .read(|k| media_link::verify(k, method, token, now))
    }
}

const COLUMNS: &str = "media_id, kind, content_type, byte_size, file_name, storage_key, origin, message_id, created_at";

impl<'s> Scope<'s> {
    /// The tenant's media keys, usable after this transaction ends.
    pub fn media_keys(&self) -> MediaKeys {
        MediaKeys {
            keys: self.tenant_keys(),
            store: self.store.clone(),
        }
    }

    /// The tenant's media objects.
    pub fn media_objects(&mut self) -> MediaObjects<'_, 's> {
        MediaObjects { scope: self }
    }
}

/// Media objects, in the scope's transaction.
pub struct MediaObjects<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl MediaObjects<'_, '_> {
    /// Records an object whose bytes are in the media store.
    pub async fn insert(&mut self, o: &NewMediaObject) -> Result<MediaObject, StoreError> {
        let id = o.id.to_string();
        let name = match &o.file_name {
            Some(n) => Some(self.scope.seal_str("media_objects", "file_name", &id, n)?),
            None => None,
        };
        let now = self.scope.now();
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO media_objects (tenant_id, media_id, kind, content_type, byte_size, file_name, storage_key, origin, message_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(t)
        .bind(id)
        .bind(o.kind.clone())
        .bind(o.content_type.clone())
        .bind(o.byte_size)
        .bind(name)
        .bind(o.storage_key.clone())
        .bind(o.origin.to_string())
        .bind(o.message.map(|m| m.to_string()))
        .bind(now)
        .execute(self.scope.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "media object"))?;
        Ok(MediaObject {
            id: o.id,
            kind: o.kind.clone(),
            content_type: o.content_type.clone(),
            byte_size: o.byte_size,
            file_name: o.file_name.clone(),
            storage_key: o.storage_key.clone(),
            origin: o.origin.to_string(),
            message: o.message,
            created_at: now,
        })
    }

    /// One of the tenant's objects ([`StoreError::NotFound`] for anything else).
    pub async fn get(&mut self, id: MediaId) -> Result<MediaObject, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM media_objects WHERE tenant_id = $1 AND media_id = $2"
        )))
        .bind(t)
        .bind(id.to_string())
        .fetch_optional(self.scope.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        self.opened(&row)
    }

    /// The tenant's objects of `origin` (`upload` or `inbound`), newest first, at most `limit`.
    pub async fn list(&mut self, origin: &str, limit: i64) -> Result<Vec<MediaObject>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM media_objects WHERE tenant_id = $1 AND origin = $2 \
             ORDER BY created_at DESC, media_id DESC LIMIT $3"
        )))
        .bind(t)
        .bind(origin.to_string())
        .bind(limit)
        .fetch_all(self.scope.conn())
        .await?;
        rows.iter().map(|r| self.opened(r)).collect()
    }

    /// The object that came with an inbound message, if it was stored.
    pub async fn for_message(
        &mut self,
        message: MessageId,
    ) -> Result<Option<MediaObject>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM media_objects WHERE tenant_id = $1 AND message_id = $2 ORDER BY created_at DESC LIMIT 1"
        )))
        .bind(t)
        .bind(message.to_string())
        .fetch_optional(self.scope.conn())
        .await?;
        row.map(|r| self.opened(&r)).transpose()
    }

    /// Deletes an object's row; the caller deletes its bytes.
    pub async fn delete(&mut self, id: MediaId) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let n = sqlx::query("DELETE FROM media_objects WHERE tenant_id = $1 AND media_id = $2")
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Consumes a single-use link: true for the first fetch, false for every later one (here or
    /// on another instance: the link id is the primary key).
    pub async fn consume_link(
        &mut self,
        link_id: &str,
        media: MediaId,
    ) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        let n = sqlx::query(
            "INSERT INTO media_link_uses (tenant_id, link_id, media_id, used_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(t)
        .bind(link_id.to_string())
        .bind(media.to_string())
        .bind(now)
        .execute(self.scope.conn())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// How many objects and bytes the tenant stores.
    pub async fn usage(&mut self) -> Result<MediaUsage, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(byte_size), 0) AS BIGINT) FROM media_objects WHERE tenant_id = $1",
        )
        .bind(t)
        .fetch_one(self.scope.conn())
        .await?;
        Ok(MediaUsage {
            objects: row.try_get(0)?,
            bytes: row.try_get(1)?,
        })
    }

    /// Every storage key of the tenant's objects (for the orphan sweep).
    pub async fn storage_keys(&mut self) -> Result<Vec<String>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT storage_key FROM media_objects WHERE tenant_id = $1")
                .bind(t)
                .fetch_all(self.scope.conn())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    fn opened(&self, r: &sqlx::any::AnyRow) -> Result<MediaObject, StoreError> {
        let id: String = r.try_get(0)?;
        let name: Option<Vec<u8>> = r.try_get(4)?;
        let file_name = match name {
            Some(ct) => Some(
                self.scope
                    .open_string("media_objects", "file_name", &id, &ct)?,
            ),
            None => None,
        };
        let message: Option<String> = r.try_get(7)?;
        Ok(MediaObject {
            id: parse_id(id, "media")?,
            kind: r.try_get(1)?,
            content_type: r.try_get(2)?,
            byte_size: r.try_get(3)?,
            file_name,
            storage_key: r.try_get(5)?,
            origin: r.try_get(6)?,
            message: message.map(|m| parse_id(m, "message")).transpose()?,
            created_at: r.try_get(8)?,
        })
    }
}
