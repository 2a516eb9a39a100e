//! Inbound media: the fetch queue (ids, hashes and states only; the worker reads it across
//! tenants) and the sealing of media bytes with the tenant's key before they reach storage.

use crate::error::{StoreError, parse_id};
use crate::scope::Scope;
use crate::store::Store;
use crate::tables::{self, CHUNK, Ph, media_fetches::MediaFetchRow};
use confide_core::ids::{ChannelId, MessageId, TenantId};
use sqlx::Row;
use zeroize::Zeroizing;

/// One media object still to fetch from Meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFetch {
    pub tenant: TenantId,
    pub message: MessageId,
    pub channel: ChannelId,
    pub meta_media_id: String,
    /// As the webhook gave it (Meta sends base64 there).
    pub sha256: Option<String>,
    pub mime_type: Option<String>,
    pub attempts: i64,
}

/// One inbound media object to fetch.
#[derive(Debug, Clone)]
pub struct NewMediaFetch {
    pub message: MessageId,
    pub channel: ChannelId,
    pub meta_media_id: String,
    pub sha256: Option<String>,
    pub mime_type: Option<String>,
}

/// What became of one fetch attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOutcome {
    /// Sealed and stored under `object_key`.
    Stored { object_key: String },
    /// Failed: retried at `retry_at` (Unix micros), or given up (`failed`) when `None`.
    Failed {
        error: String,
        retry_at: Option<i64>,
    },
}

/// Where a message's media stands.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MediaState {
    /// `pending`, `stored` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub object_key: Option<String>,
    pub last_error: Option<String>,
}

impl Scope<'_> {
    /// Seals media bytes for storage, bound to this tenant and message.
    pub fn seal_media(&self, message: MessageId, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.seal("media", "bytes", &message.to_string(), bytes)
    }

    /// Opens sealed media bytes.
    pub fn open_media(
        &self,
        message: MessageId,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.open("media", "bytes", &message.to_string(), sealed)
    }

    /// Queues inbound media for the fetcher (once per message).
    pub async fn enqueue_media_fetches(
        &mut self,
        items: &[NewMediaFetch],
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        for chunk in items.chunks(CHUNK) {
            let now = self.now();
            let rows: Vec<MediaFetchRow<'_>> = chunk
                .iter()
                .map(|f| MediaFetchRow {
                    message: f.message.to_string(),
                    channel: f.channel.to_string(),
                    meta_media_id: &f.meta_media_id,
                    sha256: f.sha256.as_deref(),
                    mime_type: f.mime_type.as_deref(),
                    at: now,
                })
                .collect();
            tables::insert(self.store.backend(), &t, &rows)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// The media state of a message, if it has media.
    pub async fn media_state(
        &mut self,
        message: MessageId,
    ) -> Result<Option<MediaState>, StoreError> {
        let t = self.tenant_str().to_string();
        Ok(sqlx::query_as(
            "SELECT status, attempts, object_key, last_error FROM media_fetches WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(t)
        .bind(message.to_string())
        .fetch_optional(self.conn())
        .await?)
    }
}

impl Store {
    /// Fetches that are due, oldest first.
    pub async fn due_media_fetches(
        &self,
        now_micros: i64,
        limit: i64,
    ) -> Result<Vec<MediaFetch>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant_id, message_id, channel_id, meta_media_id, sha256, mime_type, attempts FROM media_fetches \
             WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now_micros)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(MediaFetch {
                    tenant: parse_id(r.try_get(0)?, "tenant")?,
                    message: parse_id(r.try_get(1)?, "message")?,
                    channel: parse_id(r.try_get(2)?, "channel")?,
                    meta_media_id: r.try_get(3)?,
                    sha256: r.try_get(4)?,
                    mime_type: r.try_get(5)?,
                    attempts: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Records what became of fetch attempts, a statement per chunk (one short write per pass
    /// of the worker, not one per object: on SQLite it shares the one writer with ingest). The
    /// messages themselves are never touched.
    pub async fn record_media_outcomes(
        &self,
        outcomes: &[(MediaFetch, MediaOutcome)],
    ) -> Result<(), StoreError> {
        for chunk in outcomes.chunks(200) {
            let mut ph = Ph::new(self.backend());
            let sql = format!(
                "UPDATE media_fetches SET status = v.column3, attempts = attempts + 1, \
                 next_attempt_at = COALESCE(v.column4, media_fetches.next_attempt_at), \
                 object_key = COALESCE(v.column5, media_fetches.object_key), last_error = v.column6 \
                 FROM (VALUES {}) AS v WHERE media_fetches.tenant_id = v.column1 AND media_fetches.message_id = v.column2",
                ph.rows(chunk.len(), 6)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for (f, outcome) in chunk {
                let (status, next, key, error) = match outcome {
                    MediaOutcome::Stored { object_key } => {
                        ("stored", None, Some(object_key.clone()), None)
                    }
                    MediaOutcome::Failed { error, retry_at } => (
                        if retry_at.is_some() {
                            "pending"
                        } else {
                            "failed"
                        },
                        Some(retry_at.unwrap_or(i64::MAX)),
                        None,
                        Some(error.chars().take(300).collect::<String>()),
                    ),
                };
                q = q
                    .bind(f.tenant.to_string())
                    .bind(f.message.to_string())
                    .bind(status.to_string())
                    .bind(next)
                    .bind(key)
                    .bind(error);
            }
            q.execute(self.write_pool()).await?;
        }
        Ok(())
    }
}
