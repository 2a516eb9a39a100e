//! Channels by id for webhook routing, with their secrets decrypted, cached briefly so a burst of
//! deliveries costs one database read. Changing a channel invalidates its entry here; other
//! instances see the change within the time-to-live.

use confide_core::clock::SharedClock;
use confide_core::ids::{ChannelId, TenantId};
use confide_store::{Store, StoreError};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::Duration;

const TTL: Duration = Duration::seconds(30);

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
}

/// The cache.
pub struct ChannelDirectory {
    clock: SharedClock,
    entries: Mutex<HashMap<ChannelId, (time::OffsetDateTime, Arc<ChannelEntry>)>>,
}

impl ChannelDirectory {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
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
        let entry = Arc::new(ChannelEntry {
            tenant,
            channel,
            phone_number_id: info.phone_number_id,
            app_secret: secrets.app_secret,
            app_secret_next: secrets.app_secret_next,
            verify_token: secrets.verify_token,
            access_token: secrets.access_token,
            graph_base_url: info.graph_base_url,
            active: info.status == "active",
        });
        if let Ok(mut map) = self.entries.lock() {
            map.insert(channel, (now, entry.clone()));
        }
        Ok(Some(entry))
    }

    /// Forgets a channel after it changed (secret rotation, update, deletion).
    pub fn invalidate(&self, channel: ChannelId) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(&channel);
        }
    }
}
