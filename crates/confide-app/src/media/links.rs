//! Signed media links (`GET /m/{token}`): short-lived (5 minutes by default), bound to method,
//! path, tenant, object and expiry by an HMAC with a rotatable key id
//! ([`confide_crypto::media_link`]). Links for the inbox are reusable until they expire; links
//! handed to Meta for outbound media are single-use: the first fetch consumes the link id in the
//! database (a primary key, so also across instances) and every later fetch is refused.

use super::store::MediaStoreError;
use super::upload::{may_see_media, storage_error};
use crate::error::AppError;
use crate::principal::Principal;
use crate::runtime::App;
use bytes::Bytes;
use confide_core::ids::{MediaId, TenantId};
use confide_crypto::media_link::{LinkClaims, PATH_PREFIX};
use futures_util::stream::BoxStream;
use time::format_description::well_known::Rfc3339;

/// A link as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MediaLink {
    pub url: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// A byte range asked for with `Range: bytes=start-end` (end inclusive, as HTTP writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRequest {
    pub start: Option<u64>,
    pub end: Option<u64>,
}

/// What `GET /m/{token}` serves.
pub struct ServedMedia {
    pub content_type: String,
    pub file_name: Option<String>,
    /// Shown in the page (images in the inbox) rather than downloaded.
    pub inline: bool,
    /// The object's full length.
    pub total: u64,
    /// The bytes served, `[start, end)`, when a range was asked for and satisfiable.
    pub range: Option<(u64, u64)>,
    pub body: BoxStream<'static, Result<Bytes, MediaStoreError>>,
}

/// Why a link serves nothing. Every case is answered the same way (403), so a caller learns
/// nothing about which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefused {
    /// Malformed, tampered, expired, another key, another method, already used.
    Invalid,
    /// The link was fine but its object is gone.
    Gone,
    /// The store failed.
    Unavailable,
}

/// Signs media links: the store's keyring, the clock, the link lifetime and the public base the
/// links point at. Shared by the API (links for people) and the dispatcher (links for Meta).
#[derive(Clone)]
pub struct MediaLinks {
    store: confide_store::Store,
    clock: confide_core::clock::SharedClock,
    entropy: confide_core::entropy::SharedEntropy,
    ttl_secs: i64,
    public_url: Option<String>,
    /// The public listener's address once bound (port 0 in tests).
    public_origin: std::sync::Arc<std::sync::RwLock<Option<String>>>,
    listen: std::net::SocketAddr,
}

impl MediaLinks {
    pub(crate) fn new(
        store: confide_store::Store,
        clock: confide_core::clock::SharedClock,
        entropy: confide_core::entropy::SharedEntropy,
        config: &crate::config::Config,
    ) -> Self {
        MediaLinks {
            store,
            clock,
            entropy,
            ttl_secs: config.media.link_ttl_secs,
            public_url: config.media.public_url.clone(),
            public_origin: std::sync::Arc::default(),
            listen: config.listen,
        }
    }

    /// The public base of links handed out: `media.public_url`, else the public listener.
    pub fn base(&self) -> String {
        if let Some(u) = &self.public_url {
            return u.trim_end_matches('/').to_string();
        }
        self.public_origin
            .read()
            .ok()
            .and_then(|o| o.clone())
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// Records the public listener's bound address, for links.
    pub fn set_public_origin(&self, origin: String) {
        if let Ok(mut o) = self.public_origin.write() {
            *o = Some(origin);
        }
    }

    /// A signed link to `media` of `tenant`.
    pub fn sign(
        &self,
        tenant: TenantId,
        media: MediaId,
        single_use: bool,
        inline: bool,
    ) -> Result<MediaLink, AppError> {
        let now = self.clock.now();
        let expires = now + time::Duration::seconds(self.ttl_secs);
        let claims = LinkClaims {
            tenant: *tenant.as_uuid().as_bytes(),
            object: *media.as_uuid().as_bytes(),
            link_id: confide_core::entropy::random_array(self.entropy.as_ref()),
            expires_at: expires.unix_timestamp(),
            single_use,
            inline,
        };
        let token = self.store.sign_media_link(&claims)?;
        Ok(MediaLink {
            url: format!("{}{PATH_PREFIX}{token}", self.base()),
            expires_at: expires.format(&Rfc3339).map_err(|_| AppError::internal())?,
        })
    }
}

impl App {
    /// A short-lived link to one of the tenant's media objects, for the person asking (images
    /// are shown inline, everything else downloads).
    pub async fn media_link(&self, p: &Principal, id: &str) -> Result<MediaLink, AppError> {
        may_see_media(p)?;
        let id: MediaId = id.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let o = s.media_objects().get(id).await?;
        drop(s);
        self.media_links
            .sign(p.tenant, id, false, o.kind == "image")
    }

    /// Serves a link: the signature and expiry first, then (single-use links) the atomic
    /// consumption, then the bytes, opened chunk by chunk.
    pub async fn open_media_link(
        &self,
        method: &str,
        token: &str,
        range: Option<RangeRequest>,
    ) -> Result<ServedMedia, LinkRefused> {
        let now = self.clock.now().unix_timestamp();
        let claims = match self.store.verify_media_link(method, token, now) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::info!(reason = %e, "media link refused");
                return Err(LinkRefused::Invalid);
            }
            Err(e) => {
                tracing::error!(error = %e, "media link check failed");
                return Err(LinkRefused::Unavailable);
            }
        };
        let tenant = TenantId::from_uuid(uuid::Uuid::from_bytes(claims.tenant));
        let media = MediaId::from_uuid(uuid::Uuid::from_bytes(claims.object));
        let unavailable = |e: AppError| {
            tracing::error!(code = %e.code, "media link could not be served");
            LinkRefused::Unavailable
        };
        // Only a single-use link writes (its consumption); the others read, and so do not
        // queue for SQLite's one writer behind ingest.
        let opened = if claims.single_use {
            self.store.scope(tenant).await
        } else {
            self.store.read_scope(tenant).await
        };
        let mut s = match opened {
            Ok(s) => s,
            // A signed link whose tenant is gone (erased).
            Err(confide_store::StoreError::NotFound) => return Err(LinkRefused::Gone),
            Err(e) => return Err(unavailable(e.into())),
        };
        let object = match s.media_objects().get(media).await {
            Ok(o) => o,
            Err(confide_store::StoreError::NotFound) => return Err(LinkRefused::Gone),
            Err(e) => return Err(unavailable(e.into())),
        };
        if claims.single_use {
            let link_id = hex::encode(claims.link_id);
            match s.media_objects().consume_link(&link_id, media).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(%media, "single-use media link fetched again: refused");
                    return Err(LinkRefused::Invalid);
                }
                Err(e) => return Err(unavailable(e.into())),
            }
        }
        let keys = s.media_keys();
        s.commit().await.map_err(|e| unavailable(e.into()))?;
        let total = u64::try_from(object.byte_size).unwrap_or(0);
        // Ranges for audio and video (players seek); a single-use fetch is always whole.
        let range = range
            .filter(|_| !claims.single_use)
            .and_then(|r| resolve_range(r, total));
        let body = match self
            .media
            .read(
                &object.storage_key,
                &keys,
                media,
                total,
                range.map(|(a, b)| a..b),
            )
            .await
        {
            Ok(b) => b,
            Err(MediaStoreError::Missing) => return Err(LinkRefused::Gone),
            Err(e) => return Err(unavailable(storage_error(e))),
        };
        Ok(ServedMedia {
            content_type: object.content_type,
            file_name: object.file_name,
            inline: claims.inline && object.kind == "image",
            total,
            range,
            body,
        })
    }
}

/// `[start, end)` of a satisfiable range, or `None` to serve the whole object.
fn resolve_range(r: RangeRequest, total: u64) -> Option<(u64, u64)> {
    if total == 0 {
        return None;
    }
    match (r.start, r.end) {
        (Some(s), e) if s < total => {
            let end = e.map_or(total, |e| e.saturating_add(1).min(total));
            (s < end).then_some((s, end))
        }
        // bytes=-N: the last N bytes.
        (None, Some(n)) if n > 0 => Some((total.saturating_sub(n), total)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_http() {
        let r = |start, end| RangeRequest { start, end };
        assert_eq!(resolve_range(r(Some(0), Some(9)), 100), Some((0, 10)));
        assert_eq!(resolve_range(r(Some(90), None), 100), Some((90, 100)));
        assert_eq!(resolve_range(r(Some(90), Some(500)), 100), Some((90, 100)));
        assert_eq!(resolve_range(r(None, Some(5)), 100), Some((95, 100)));
        assert_eq!(resolve_range(r(Some(100), None), 100), None);
        assert_eq!(resolve_range(r(Some(5), Some(2)), 100), None);
    }
}
