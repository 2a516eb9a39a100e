//! The state shared by every handler: the application (every use case, see `confide_app`) and
//! what only the HTTP edge needs. Handlers and the router both depend on this module, never on
//! each other.

use confide_app::App;
use std::sync::Arc;

/// Cheap to clone; everything inside is shared. Dereferences to the [`App`].
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    /// `trusted_proxies`, parsed: whose `X-Forwarded-For` names the client.
    pub proxies: Arc<crate::auth::client::TrustedProxies>,
    /// The edge's lists, bans, rate-limit buckets and connection counts.
    pub edge: Arc<crate::edge::Edge>,
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}
