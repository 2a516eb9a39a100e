//! The dispatcher's channel leases ([`confide_store::leases`]): one instance dispatches a
//! channel's queue at a time. A lease lasts [`LEASE_TTL`]; the dispatcher renews it before it
//! runs out (halfway) while the channel has work, and [`Leases::keep`] renews every lease in use
//! in the background, so a slow Graph answer does not let it lapse. A channel idle for a while is
//! released, as are all leases on a clean stop; a holder that dies simply stops renewing, and
//! after [`LEASE_TTL`] another instance takes the channel over (and holds the sends the dead one
//! left in flight for review).

use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_core::ids::ChannelId;
use confide_store::leases::Lease;
use confide_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a lease lasts without renewal: how soon another instance takes over a dead one's
/// channels.
pub const LEASE_TTL: Duration = Duration::from_secs(10);

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, Copy)]
struct Held {
    expires_at: i64,
    last_used: i64,
}

/// This process's leases.
#[derive(Clone)]
pub struct Leases {
    store: Store,
    clock: SharedClock,
    holder: Arc<str>,
    held: Arc<Mutex<HashMap<ChannelId, Held>>>,
}

impl Leases {
    /// A new holder id (random, one per dispatcher).
    pub fn new(store: Store, clock: SharedClock, entropy: &SharedEntropy) -> Leases {
        let mut id = [0u8; 12];
        entropy.fill(&mut id);
        Leases {
            store,
            clock,
            holder: Arc::from(hex::encode(id)),
            held: Arc::default(),
        }
    }

    /// The same leases under a fixed holder id (several dispatchers standing in for one process,
    /// as tests build them).
    pub fn with_holder(mut self, holder: &str) -> Leases {
        self.holder = Arc::from(holder);
        self.held = Arc::default();
        self
    }

    /// The holder id claims are recorded with.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<ChannelId, Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this process may dispatch `channel` now: its lease, renewed when less than half
    /// of it is left, or taken when free or expired.
    pub async fn ensure(&self, channel: ChannelId) -> Result<bool, StoreError> {
        let now = self.clock.now_micros();
        let current = {
            let mut held = self.held();
            match held.get_mut(&channel) {
                Some(h) if h.expires_at - now > micros(LEASE_TTL) / 2 => {
                    h.last_used = now;
                    true
                }
                _ => false,
            }
        };
        if current {
            return Ok(true);
        }
        self.acquire(channel, now).await
    }

    async fn acquire(&self, channel: ChannelId, now: i64) -> Result<bool, StoreError> {
        let expires_at = now.saturating_add(micros(LEASE_TTL));
        let got = self
            .store
            .acquire_dispatch_lease(channel, &self.holder, now, expires_at)
            .await?;
        let mut held = self.held();
        match got {
            Lease::Held => {
                let fresh = !held.contains_key(&channel);
                held.insert(
                    channel,
                    Held {
                        expires_at,
                        last_used: now,
                    },
                );
                if fresh {
                    tracing::info!(%channel, holder = %self.holder, "dispatching this channel's queue");
                }
                Ok(true)
            }
            Lease::Busy => {
                held.remove(&channel);
                Ok(false)
            }
        }
    }

    /// Renews the leases in use (and releases those idle for a few lease periods) until `stop`;
    /// then releases every lease, so another instance takes over at once.
    pub async fn keep(self, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(LEASE_TTL / 4) => {}
            }
            let now = self.clock.now_micros();
            let held: Vec<(ChannelId, Held)> = self.held().iter().map(|(c, h)| (*c, *h)).collect();
            for (channel, h) in held {
                let result = if now - h.last_used > 3 * micros(LEASE_TTL) {
                    self.held().remove(&channel);
                    self.store
                        .release_dispatch_lease(channel, &self.holder)
                        .await
                } else {
                    self.acquire(channel, now).await.map(|_| ())
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, %channel, "could not renew a dispatch lease");
                }
            }
        }
        self.release_all().await;
    }

    /// Gives up every lease (a clean stop).
    pub async fn release_all(&self) {
        let channels: Vec<ChannelId> = self.held().drain().map(|(c, _)| c).collect();
        for channel in channels {
            if let Err(e) = self
                .store
                .release_dispatch_lease(channel, &self.holder)
                .await
            {
                tracing::warn!(error = %e, %channel, "could not release a dispatch lease");
            }
        }
    }
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}
