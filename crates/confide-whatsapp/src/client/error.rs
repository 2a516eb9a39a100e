//! What a Graph call can fail with, and what to do about it.

use std::time::Duration;

use crate::egress::EgressRefused;
use crate::errors::{ErrorClass, backoff_delay};
use crate::send::SendError;

/// Why a transport-level failure happened (no HTTP answer, or the answer broke off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Could not connect (refused, DNS, TLS handshake).
    Connect,
    /// The connect or request timeout elapsed.
    Timeout,
    /// The response body broke off or could not be read.
    Body,
    /// Anything else reqwest reports.
    Other,
}

/// A failed Graph call. Never holds the access token: requests carry it only in a header marked
/// sensitive, URLs in errors are redacted (no credentials, no query), and the client's own `Debug`
/// hides it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Meta answered with its error shape `{"error":{"code",...}}`.
    #[error("Graph error {code}{} (HTTP {http_status}): {message}", subcode.map(|s| format!("/{s}")).unwrap_or_default())]
    Api {
        http_status: u16,
        code: i64,
        subcode: Option<i64>,
        message: String,
        /// `error_data.details`, Meta's most specific explanation.
        details: Option<String>,
        fbtrace_id: Option<String>,
        class: ErrorClass,
    },
    /// A non-success status without a Graph error body (a proxy's error page, an empty 503).
    #[error("HTTP {http_status} without a Graph error body")]
    Status { http_status: u16, class: ErrorClass },
    /// A 3xx answer. Redirects are never followed, to any host.
    #[error("the server answered a redirect (HTTP {http_status}); redirects are not followed")]
    Redirect {
        http_status: u16,
        /// The redacted `Location`, if any.
        location: Option<String>,
    },
    /// No usable HTTP answer: connect failure, timeout, broken body.
    #[error("transport error ({kind:?}): {message}")]
    Transport {
        kind: TransportKind,
        message: String,
    },
    /// The URL is not on the allowlist (SSRF protection, C21); nothing was sent to it.
    #[error("refused to contact {0}: not an allowed Graph origin")]
    Disallowed(String),
    /// The egress guard refused the address (a private, loopback, link-local or otherwise
    /// non-public one, as an IP literal or as resolved); no connection was made.
    #[error(transparent)]
    EgressRefused(#[from] EgressRefused),
    /// The response (or the announced media size) exceeds the limit; the transfer was stopped.
    #[error("response exceeds the limit of {limit} bytes")]
    TooLarge {
        limit: u64,
        /// The announced size, when known (`file_size` or `Content-Length`).
        announced: Option<u64>,
    },
    /// The downloaded bytes do not hash to the `sha256` Meta announced (both as lowercase hex).
    #[error("media checksum mismatch: expected sha256 {expected}, got {actual}")]
    ChecksumMismatch { expected: String, actual: String },
    /// The media download URL answered 404: it expired (5 minutes); ask `GET /{media-id}` again.
    #[error("the media URL expired; fetch a fresh one")]
    MediaUrlExpired,
    /// A success status with a body that is not what this call returns.
    #[error("unexpected Graph response: {0}")]
    Decode(String),
    /// The request was refused before anything was sent (a limit, a malformed id).
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] SendError),
    /// Paging did not end within the configured number of pages.
    #[error("the list did not end within {pages} pages")]
    TooManyPages { pages: usize },
}

impl GraphError {
    /// What to do about it.
    ///
    /// - `Api` / `Status`: as classified from the code and HTTP status (`crate::errors::classify`).
    /// - `Transport`, `MediaUrlExpired` (fetch a fresh URL), `ChecksumMismatch` (a corrupted
    ///   transfer is worth another try; a persistent one runs out of attempts): `RetryBackoff`.
    /// - Everything else is deterministic: `Permanent`.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Api { class, .. } | Self::Status { class, .. } => *class,
            Self::Transport { .. } | Self::MediaUrlExpired | Self::ChecksumMismatch { .. } => {
                ErrorClass::RetryBackoff
            }
            Self::Redirect { .. }
            | Self::Disallowed(_)
            | Self::EgressRefused(_)
            | Self::TooLarge { .. }
            | Self::Decode(_)
            | Self::InvalidRequest(_)
            | Self::TooManyPages { .. } => ErrorClass::Permanent,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }

    /// How long to wait before retry number `attempt` (0 for the first), or `None` when this
    /// error is not retried: exponential backoff with jitter, `4^attempt` seconds for the pair rate
    /// limit (131056). `jitter_unit` is a random number in `[0, 1)` drawn by the caller.
    pub fn retry_after(&self, attempt: u32, jitter_unit: f64) -> Option<Duration> {
        backoff_delay(attempt, self.class(), jitter_unit)
    }

    /// Meta's error code, for `Api` errors.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status, when there was an HTTP answer.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Api { http_status, .. }
            | Self::Status { http_status, .. }
            | Self::Redirect { http_status, .. } => Some(*http_status),
            Self::MediaUrlExpired => Some(404),
            _ => None,
        }
    }
}

/// Why a [`super::GraphClient`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "the Graph base URL is not an absolute http(s) URL without credentials, query or fragment"
    )]
    BaseUrl,
    #[error("an extra media origin is not an http(s) origin: {0}")]
    MediaOrigin(String),
    #[error(
        "plain http is only allowed to loopback hosts (got {0}); set allow_insecure_http to override"
    )]
    InsecureHttp(String),
    #[error("the API version must look like v24.0")]
    ApiVersion,
    #[error("the access token is empty or not a valid header value")]
    Token,
    #[error("the user agent is not a valid header value")]
    UserAgent,
    #[error("could not build the HTTP client: {0}")]
    Http(String),
}
