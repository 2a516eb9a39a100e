//! The application state shared by every handler. Handlers and the router both depend on this
//! module, never on each other.

use crate::config::Config;
use crate::telemetry::Metrics;
use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_store::Store;
use std::sync::Arc;

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub entropy: SharedEntropy,
    pub metrics: Arc<Metrics>,
}
