//! Channels by id for webhook routing, with their secrets decrypted, cached briefly so a burst of
//! deliveries costs one database read.
//!
//! A changed channel (update, secret rotation, deletion, health) must stop verifying with its old
//! secrets at once, on every instance:
//! - in this process the API invalidates the entry right after its commit, and a read that
//!   raced the change never puts its stale result back (a generation counter);
//! - other instances hear the change through PostgreSQL notifications sent by the changing
//!   transaction ([`confide_store::notify`]) and drop the entry when it commits
//!   ([`ChannelDirectory::follow_changes`]); if that subscription breaks, they drop every entry
//!   and resubscribe, and the time-to-live below bounds what a broken subscription can miss.

use confide_core::clock::SharedClock;
use confide_core::ids::{ChannelId, TenantId};
use confide_store::{Store, StoreError};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use time::Duration;
use tokio::sync::watch;

/// The longest a cached entry is trusted when no change was heard (a bound for a lost
/// notification, not the normal path).
const TTL: Duration = Duration::seconds(10);

/// What the webhook path needs to know about a channel.
pub struct ChannelEntry {
    pub tenant: TenantId,
    pub channel: ChannelId,
    pub phone_number_id: String,
    pub app_secret: SecretString,
    pub app_secret_next: Option<SecretString>,
    pub verify_token: SecretString,
    pub access_token: SecretString,
    pub graph_base_url: String,
    pub active: bool,
    /// How Graph last found the channel (see [`crate::outbound::health`]).
    pub health: confide_store::channels::ChannelHealth,
    /// An incident marked the app secret for rotation and it is not replaced yet: a webhook
    /// signed with it is still accepted (no customer message is lost) but raises a security
    /// event.
    pub app_secret_compromised: bool,
}

impl ChannelEntry {
    /// Graph refused the channel's token or blocked its account: no call is made with the token
    /// until it is replaced.
    pub fn graph_refused(&self) -> bool {
        !self.health.allows_sending()
    }
}

/// The cache.
pub struct ChannelDirectory {
    clock: SharedClock,
    entries: Mutex<HashMap<ChannelId, (time::OffsetDateTime, Arc<ChannelEntry>)>>,
    /// Bumped by every invalidation: a read that started before one does not cache its result.
    generation: AtomicU64,
}

impl ChannelDirectory {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The channel, or `None` when no tenant has it.
    pub async fn get(
        &self,
        store: &Store,
        channel: ChannelId,
    ) -> Result<Option<Arc<ChannelEntry>>, StoreError> {
        let now = self.clock.now();
        if let Ok(map) = self.entries.lock()
            && let Some((at, e)) = map.get(&channel)
            && now - *at < TTL
        {
            return Ok(Some(e.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let Some(tenant) = store.channel_tenant(channel).await? else {
            return Ok(None);
        };
        let mut scope = store.read_scope(tenant).await?;
        let info = match scope.get_channel(channel).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let secrets = scope.channel_secrets(channel).await?;
        drop(scope);
        let app_secret_compromised = info.app_secret_compromised();
        let entry = Arc::new(ChannelEntry {
            app_secret_compromised,
            tenant,
            channel,
            phone_number_id: info.phone_number_id,
            app_secret: secrets.app_secret,
            app_secret_next: secrets.app_secret_next,
            verify_token: secrets.verify_token,
            access_token: secrets.access_token,
            graph_base_url: info.graph_base_url,
            active: info.status == "active",
            health: confide_store::channels::ChannelHealth::parse(&info.health)
                .unwrap_or(confide_store::channels::ChannelHealth::Unverified),
        });
        if let Ok(mut map) = self.entries.lock()
            && self.generation.load(Ordering::SeqCst) == generation
        {
            map.insert(channel, (now, entry.clone()));
        }
        Ok(Some(entry))
    }

    /// Forgets a channel after it changed (secret rotation, update, deletion).
    pub fn invalidate(&self, channel: ChannelId) {
        if let Ok(mut map) = self.entries.lock() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            map.remove(&channel);
        }
    }

    /// Forgets every channel (a change notification may have been missed).
    pub fn invalidate_all(&self) {
        if let Ok(mut map) = self.entries.lock() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            map.clear();
        }
    }

    /// Follows other instances' channel changes until `stop` turns true (PostgreSQL; returns at
    /// once on SQLite, whose one instance invalidates directly). A dropped `stop` sender is not a
    /// stop: the cache must keep hearing changes for as long as the state is in use.
    pub async fn follow_changes(self: Arc<Self>, store: Store, stop: watch::Receiver<bool>) {
        use confide_store::notify::ChannelChange;
        let stopped = || {
            let mut stop = stop.clone();
            async move {
                if stop.wait_for(|s| *s).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        loop {
            let mut changes = match store.channel_changes().await {
                Ok(Some(c)) => c,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot subscribe to channel changes; retrying");
                    self.invalidate_all();
                    tokio::select! {
                        _ = stopped() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                    }
                }
            };
            // Whatever changed before the subscription was up is not cached any more.
            self.invalidate_all();
            loop {
                let heard = tokio::select! {
                    _ = stopped() => return,
                    heard = changes.recv() => heard,
                };
                match heard {
                    Ok(ChannelChange::One(id)) => self.invalidate(id),
                    Ok(ChannelChange::All) => self.invalidate_all(),
                    Err(e) => {
                        tracing::warn!(error = %e, "channel change subscription lost; resubscribing");
                        self.invalidate_all();
                        break;
                    }
                }
            }
        }
    }
}
