//! The inbound media worker: for each queued media object, ask Meta for a download URL, download
//! it with the channel's token (only from the channel's Graph origin or Meta's media host over
//! https, and only through the egress guard: see [`crate::outbound::graph`]), check its SHA-256,
//! seal it with the tenant's key in chunks and store it in the media store, recorded as a media
//! object of the message. A failed fetch is retried with backoff;
//! after Meta's 7-day media lifetime it is marked failed. The message is kept either way. Graph's
//! answers go to the channel health monitor, and a channel whose token Graph refused is skipped.

use super::store::MediaStore;
use crate::ingest::directory::{ChannelDirectory, ChannelEntry};
use crate::outbound::health::ChannelHealthMonitor;
use base64::Engine;
use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_core::ids::ChannelId;
use confide_core::ids::MediaId;
use confide_store::Store;
use confide_store::media::{MediaFetch, MediaOutcome};
use confide_store::media_objects::NewMediaObject;
use confide_whatsapp::client::GraphClient;
use confide_whatsapp::egress::EgressPolicy;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Webhook media ids live 7 days; after that a fetch cannot succeed.
const GIVE_UP_AFTER_ATTEMPTS: i64 = 40;
/// Fetches attempted at once; their outcomes share one transaction.
const BATCH: i64 = 64;
/// How long a wake-up waits for others to join it.
const COALESCE: Duration = Duration::from_millis(250);
const CONCURRENT_DOWNLOADS: usize = 4;

/// Graph clients by channel, with the channel entry each was built from.
type ClientCache = HashMap<ChannelId, (Arc<ChannelEntry>, GraphClient)>;

#[derive(Clone)]
pub struct MediaFetcher {
    store: Store,
    channels: Arc<ChannelDirectory>,
    media: MediaStore,
    clock: SharedClock,
    entropy: SharedEntropy,
    wake: Arc<Notify>,
    /// One Graph client per channel (building one loads the TLS roots), rebuilt when the
    /// channel's entry changes.
    clients: Arc<Mutex<ClientCache>>,
    /// The process's egress guard, carried by every client built here.
    egress: Arc<EgressPolicy>,
    /// Where Graph's verdicts on a channel's token go.
    health: ChannelHealthMonitor,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub stored: usize,
    pub failed: usize,
}

impl MediaFetcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        channels: Arc<ChannelDirectory>,
        media: MediaStore,
        clock: SharedClock,
        entropy: SharedEntropy,
        wake: Arc<Notify>,
        egress: Arc<EgressPolicy>,
        health: ChannelHealthMonitor,
    ) -> Self {
        MediaFetcher {
            store,
            channels,
            media,
            clock,
            entropy,
            wake,
            clients: Arc::new(Mutex::new(HashMap::new())),
            egress,
            health,
        }
    }

    fn client(&self, channel: &Arc<ChannelEntry>) -> Result<GraphClient, String> {
        if let Ok(map) = self.clients.lock()
            && let Some((entry, client)) = map.get(&channel.channel)
            && Arc::ptr_eq(entry, channel)
        {
            return Ok(client.clone());
        }
        let client = crate::outbound::graph::graph_client(
            &self.egress,
            &channel.graph_base_url,
            channel.access_token.clone(),
        )
        .map_err(|e| format!("graph client: {e}"))?;
        if let Ok(mut map) = self.clients.lock() {
            map.insert(channel.channel, (channel.clone(), client.clone()));
        }
        Ok(client)
    }

    /// Runs until `stop` turns true: a pass whenever woken, and every few seconds.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "media fetch pass failed");
            }
            let woken = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = self.wake.notified() => true,
                _ = tokio::time::sleep(Duration::from_secs(5)) => false,
            };
            if woken {
                // Let wake-ups coalesce: media is background work, and each pass commits once,
                // so under a burst of inbound media the worker takes the (single) writer a few
                // times a second, not once per webhook.
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = tokio::time::sleep(COALESCE) => {}
                }
            }
        }
    }

    /// One pass over the due fetches: a batch is fetched concurrently, then its outcomes are
    /// recorded in one transaction.
    pub async fn run_once(&self) -> Result<Pass, confide_store::StoreError> {
        let mut pass = Pass::default();
        loop {
            let due = self
                .store
                .due_media_fetches(self.clock.now_micros(), BATCH)
                .await?;
            if due.is_empty() {
                return Ok(pass);
            }
            // A few downloads at a time: media can be large (Meta allows 100 MB documents).
            let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_DOWNLOADS));
            let mut running = tokio::task::JoinSet::new();
            for (i, f) in due.iter().enumerate() {
                let this = self.clone();
                let f = f.clone();
                let permits = permits.clone();
                running.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    (i, this.fetch(&f).await)
                });
            }
            let mut results: Vec<Option<Result<String, String>>> = vec![None; due.len()];
            while let Some(joined) = running.join_next().await {
                if let Ok((i, r)) = joined
                    && let Some(slot) = results.get_mut(i)
                {
                    *slot = Some(r);
                }
            }
            let mut outcomes = Vec::with_capacity(due.len());
            for (f, r) in due.into_iter().zip(results) {
                let outcome = match r.unwrap_or_else(|| Err("the fetch task stopped".into())) {
                    Ok(object_key) => {
                        pass.stored += 1;
                        MediaOutcome::Stored { object_key }
                    }
                    Err(error) => {
                        pass.failed += 1;
                        self.failed(&f, error)
                    }
                };
                outcomes.push((f, outcome));
            }
            self.store.record_media_outcomes(&outcomes).await?;
            // One line per batch, not per object: a Graph outage would otherwise log every
            // media message.
            let failed: Vec<&str> = outcomes
                .iter()
                .filter_map(|(_, o)| match o {
                    MediaOutcome::Failed { error, .. } => Some(error.as_str()),
                    MediaOutcome::Stored { .. } => None,
                })
                .collect();
            if let Some(first) = failed.first() {
                tracing::info!(failed = failed.len(), of = outcomes.len(), first_error = %first, "media fetches failed; they will be retried");
            }
        }
    }

    /// A failed attempt: retried with backoff, or given up after Meta's media lifetime.
    fn failed(&self, f: &MediaFetch, error: String) -> MediaOutcome {
        let retry_at = (f.attempts + 1 < GIVE_UP_AFTER_ATTEMPTS).then(|| {
            let delay = (5i64 << f.attempts.clamp(0, 10)).min(3_600);
            self.clock.now_micros() + delay * 1_000_000
        });
        let error = if retry_at.is_none() {
            format!(
                "Meta no longer has this media (its ids expire after 7 days), so it could not be downloaded. Last error: {error}"
            )
        } else {
            error
        };
        if retry_at.is_none() {
            tracing::warn!(tenant = %f.tenant, message = %f.message, attempts = f.attempts + 1, error = %error, "media fetch given up; the message is kept without its media");
        } else {
            tracing::debug!(tenant = %f.tenant, message = %f.message, attempt = f.attempts + 1, error = %error, "media fetch failed; will retry");
        }
        MediaOutcome::Failed { error, retry_at }
    }

    async fn fetch(&self, f: &MediaFetch) -> Result<String, String> {
        let channel = self
            .channels
            .get(&self.store, f.channel)
            .await
            .map_err(|e| format!("channel: {e}"))?
            .ok_or("the channel no longer exists")?;
        if channel.graph_refused() {
            // No call with a token Graph refused: it would fail again, and repeated refused
            // calls can get the app rate limited or flagged. Retried once the token is replaced.
            return Err(format!(
                "the channel is stopped ({}); replace its access token",
                channel.health.as_str()
            ));
        }
        let client = self.client(&channel)?;
        let fetched = client.fetch_media(&f.meta_media_id).await;
        if let Err(e) = &fetched {
            if let Err(store) = self.health.observe(f.tenant, f.channel, e).await {
                tracing::warn!(error = %store, "could not record the channel's health");
            }
        } else if let Err(store) = self
            .health
            .observe_success(f.tenant, f.channel, channel.health)
            .await
        {
            tracing::warn!(error = %store, "could not record the channel's health");
        }
        let (info, bytes) = fetched.map_err(|e| e.to_string())?;
        if let Some(expected) = &f.sha256
            && !sha256_matches(expected, &bytes)
        {
            return Err("the downloaded bytes do not match the webhook's sha256".into());
        }
        let id = MediaId::new(self.clock.as_ref(), self.entropy.as_ref());
        let key = MediaStore::storage_key(f.tenant, id);
        let keys = self
            .store
            .media_keys(f.tenant)
            .await
            .map_err(|e| e.to_string())?;
        let sealer = keys.sealer(id).map_err(|e| e.to_string())?;
        self.media
            .put_all(&key, sealer, &bytes)
            .await
            .map_err(|e| e.to_string())?;
        // What Graph says the file is (it checked the content), else what the webhook said.
        let content_type = Some(info.mime_type.as_str())
            .filter(|m| !m.trim().is_empty())
            .or(f.mime_type.as_deref())
            .map(|m| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "application/octet-stream".into());
        let recorded: Result<(), confide_store::StoreError> = async {
            let mut s = self.store.scope(f.tenant).await?;
            s.media_objects()
                .insert(&NewMediaObject {
                    id,
                    kind: inbound_kind(&content_type).to_string(),
                    content_type,
                    byte_size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                    file_name: None,
                    storage_key: key.clone(),
                    origin: "inbound",
                    message: Some(f.message),
                })
                .await?;
            s.commit().await
        }
        .await;
        if let Err(e) = recorded {
            let _ = self.media.delete(&key).await;
            return Err(format!("recording the media object: {e}"));
        }
        Ok(key)
    }
}

/// What kind of media an inbound MIME type is (as Meta labels it; Meta checked the content).
fn inbound_kind(mime: &str) -> &'static str {
    match mime {
        "image/webp" => "sticker",
        m if m.starts_with("image/") => "image",
        m if m.starts_with("audio/") => "audio",
        m if m.starts_with("video/") => "video",
        _ => "document",
    }
}

/// Meta gives the SHA-256 as base64 in webhooks and as hex from `GET /{media-id}`.
fn sha256_matches(expected: &str, bytes: &[u8]) -> bool {
    let digest = Sha256::digest(bytes);
    let e = expected.trim();
    hex::encode(digest).eq_ignore_ascii_case(e)
        || base64::engine::general_purpose::STANDARD.encode(digest) == e
        || base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
            == e.trim_end_matches('=')
        || base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
            == e.trim_end_matches('=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_in_hex_or_base64() {
        let d = Sha256::digest(b"abc");
        assert!(sha256_matches(&hex::encode(d), b"abc"));
        assert!(sha256_matches(
            &base64::engine::general_purpose::STANDARD.encode(d),
            b"abc"
        ));
        assert!(!sha256_matches(&hex::encode(d), b"abd"));
    }
}
