//! The one place the server builds a Graph client: for a channel's `graph_base_url` and token,
//! always with the process's egress guard ([`crate::state::AppState::egress`], built from
//! `graph_allowed_origins` at start-up). The media fetcher, the channels API's validation and
//! every sender use it, so no outbound call of the server escapes the guard.

use confide_whatsapp::client::{ConfigError, GraphClient, GraphClientOptions};
use confide_whatsapp::egress::EgressPolicy;
use secrecy::SecretString;
use std::sync::Arc;

/// A Graph client for `base_url` with `access_token`, guarded by `egress`.
pub fn graph_client(
    egress: &Arc<EgressPolicy>,
    base_url: &str,
    access_token: SecretString,
) -> Result<GraphClient, ConfigError> {
    GraphClient::new(
        base_url,
        access_token,
        GraphClientOptions {
            egress: egress.clone(),
            ..GraphClientOptions::default()
        },
    )
}
