//! The application state shared by every handler. Handlers and the router both depend on this
//! module, never on each other.

use crate::config::Config;
use crate::media::vault::MediaVault;
use crate::telemetry::Metrics;
use crate::webhooks::directory::ChannelDirectory;
use crate::webhooks::writer::IngestQueue;
use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_store::Store;
use confide_whatsapp::egress::EgressPolicy;
use std::sync::Arc;

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub entropy: SharedEntropy,
    pub metrics: Arc<Metrics>,
    /// Password hashing (bounded), keyed hashes for throttling, session settings.
    pub auth: Arc<crate::auth::AuthRuntime>,
    /// Channels for webhook routing (secrets decrypted, cached briefly).
    pub channels: Arc<ChannelDirectory>,
    /// The group-commit writer of webhook deliveries.
    pub ingest: IngestQueue,
    /// Where sealed media lives.
    pub vault: MediaVault,
    /// The one egress guard, built from `graph_allowed_origins`: every Graph client the server
    /// builds carries it ([`crate::outbound::graph::graph_client`]).
    pub egress: Arc<EgressPolicy>,
    /// Checks and records whether Graph accepts each channel's token.
    pub health: crate::outbound::health::ChannelHealthMonitor,
}
