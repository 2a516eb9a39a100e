//! [`GraphClientOptions`]: how a client behaves (egress guard, API version, timeouts, media
//! origins, size caps, template paging), and the Graph and media origins of Meta.

use std::sync::Arc;
use std::time::Duration;

use super::media_limits::MAX_MEDIA_BYTES;
use crate::egress::EgressPolicy;

/// The API version used unless configured otherwise.
pub const DEFAULT_API_VERSION: &str = "v24.0";
/// Meta's Graph base URL.
pub const META_GRAPH_BASE: &str = "https://graph.facebook.com";
/// Where Meta serves media download URLs; allowed automatically with [`META_GRAPH_BASE`].
pub const META_MEDIA_ORIGIN: &str = "https://lookaside.fbsbx.com";

/// How a [`GraphClient`](super::GraphClient) behaves. `Default` is right for production against
/// Meta, except that a server passes its own [`EgressPolicy`] (built from its
/// `graph_allowed_origins`).
#[derive(Debug, Clone)]
pub struct GraphClientOptions {
    /// The egress guard every request and every connection of the client goes through. The
    /// default, [`EgressPolicy::public_only`], lists nothing: only public addresses are reached.
    pub egress: Arc<EgressPolicy>,
    /// The path prefix of every Graph call, e.g. `v24.0`.
    pub api_version: String,
    pub connect_timeout: Duration,
    /// Whole-request timeout of API calls.
    pub request_timeout: Duration,
    /// Whole-request timeout of a media download (up to 100 MB).
    pub download_timeout: Duration,
    pub user_agent: String,
    /// Allow plain http to non-loopback hosts. Off by default; http to 127.0.0.0/8, `::1` and
    /// `localhost` is always accepted here (tests, a local simulator), though the egress guard
    /// still refuses to connect there unless the origin is listed in [`Self::egress`].
    pub allow_insecure_http: bool,
    /// Further origins (`https://host[:port]`) media download URLs may point to. Meta's media host
    /// is added automatically when the base URL is `https://graph.facebook.com`.
    pub media_origins: Vec<String>,
    /// Cap on any media download, on top of the per-type limits of
    /// [`media_size_limit`](super::media_size_limit).
    pub max_download_bytes: u64,
    /// Cap on a JSON response body.
    pub max_json_bytes: u64,
    /// [`GraphClient::list_templates`](super::GraphClient::list_templates) fails with
    /// [`GraphError::TooManyPages`](super::GraphError::TooManyPages) beyond this.
    pub max_template_pages: usize,
    /// `limit` asked of each template page.
    pub template_page_size: u32,
}

impl Default for GraphClientOptions {
    fn default() -> Self {
        Self {
            egress: Arc::new(EgressPolicy::public_only()),
            api_version: DEFAULT_API_VERSION.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            download_timeout: Duration::from_secs(120),
            user_agent: concat!("confide/", env!("CARGO_PKG_VERSION")).to_owned(),
            allow_insecure_http: false,
            media_origins: Vec::new(),
            max_download_bytes: MAX_MEDIA_BYTES,
            max_json_bytes: 8 * 1024 * 1024,
            max_template_pages: 50,
            template_page_size: 100,
        }
    }
}
