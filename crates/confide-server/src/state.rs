//! The state shared by every handler: the application (every use case, see `confide_app`) and
//! what only the HTTP edge needs. Handlers and the router both depend on this module, never on
//! each other.

use confide_app::App;
use std::sync::Arc;

/// Cheap to clone: one reference count. Every middleware layer and extractor clones the state
/// for every request, so a clone that copied each of the application's shared parts (a dozen
/// reference counts, all touched by every request on every core) was measurable on the webhook
/// path. Dereferences to [`Shared`], and through it to the [`App`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] points to.
pub struct Shared {
    pub app: App,
    /// `trusted_proxies`, parsed: whose `X-Forwarded-For` names the client.
    pub proxies: Arc<crate::auth::client::TrustedProxies>,
    /// The edge's lists, bans, rate-limit buckets and connection counts.
    pub edge: Arc<crate::edge::Edge>,
}

impl AppState {
    pub fn new(
        app: App,
        proxies: Arc<crate::auth::client::TrustedProxies>,
        edge: Arc<crate::edge::Edge>,
    ) -> AppState {
        AppState(Arc::new(Shared { app, proxies, edge }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::ops::Deref for Shared {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}
