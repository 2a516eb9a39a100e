//! The Graph API client (whatsapp-cloud-api.md §2–§4): sends, mark-read, media upload and download,
//! templates.
//!
//! Outbound HTTP is guarded twice (SECURITY-CLAIMS C21):
//!
//! - per client, an allowlist of origins: the origin of the configured base URL, plus the media
//!   origins given in [`GraphClientOptions::media_origins`] (and Meta's media host,
//!   [`META_MEDIA_ORIGIN`], over https, when the base is `https://graph.facebook.com`). Redirects
//!   are never followed. A media URL that `GET /{media-id}` returns on any other origin (another
//!   host, plain http, a private address) is refused with [`GraphError::Disallowed`] before any
//!   connection is made. Plain http is refused except to loopback hosts, unless
//!   [`GraphClientOptions::allow_insecure_http`];
//! - per process, the one egress guard, [`crate::egress::EgressPolicy`] (carried by
//!   [`GraphClientOptions::egress`], so no client exists without it): no connection to a private,
//!   loopback, link-local or otherwise non-public address, checked on IP literals before the
//!   request and on resolved addresses when connecting, unless the origin is explicitly listed.
//!   A refusal is [`GraphError::EgressRefused`].
//!
//! The client does not retry: every error has a [`GraphError::class`] and
//! [`GraphError::retry_after`], and the caller's queue decides.
//!
//! [`GraphClient`] itself (construction and the one request path) is in `graph_client`, its
//! [`GraphClientOptions`] in `options`; the calls are grouped by what they reach: `messages`
//! (send, mark-read), `media` (with its limits and checksums in `media_limits`), `number` (the
//! number's profile, i.e. the token check) and `templates`; `de` reads Graph's lenient ids.

mod de;
mod error;
mod graph_client;
mod media;
mod media_limits;
mod messages;
mod number;
mod options;
mod templates;

pub use error::{ConfigError, GraphError, TransportKind};
pub use graph_client::GraphClient;
pub use media::MediaInfo;
pub use media_limits::{MAX_MEDIA_BYTES, media_size_limit, parse_sha256};
pub use number::PhoneNumberInfo;
pub use options::{DEFAULT_API_VERSION, GraphClientOptions, META_GRAPH_BASE, META_MEDIA_ORIGIN};
pub use templates::CreatedTemplate;
