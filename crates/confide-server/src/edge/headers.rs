//! Security headers on every response of the public listener, in one middleware that every
//! response passes (API, pages, media, errors, redirects, 404s, webhooks, and the answers of the
//! edge's own limits): it is the outermost layer but one (the request id).
//!
//! JSON and plain responses get the strictest policy; an HTML page sets its own, tighter-fitting
//! `Content-Security-Policy` (it is kept: only headers a response has not set are added).
//! `Strict-Transport-Security` (one year, subdomains) is added whenever the client is on HTTPS:
//! the connection is the built-in TLS listener's, or a trusted proxy said `X-Forwarded-Proto:
//! https`. Never on plain HTTP (RFC 6797 §7.2).

use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;

/// HSTS: one year, subdomains included.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The policy of every response that does not set its own: nothing may load, frame or submit.
pub const STRICT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// How a request reached the server (set by the listener on every request it hands on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The built-in TLS listener.
    Tls,
    /// Plain TCP (loopback, a TLS-terminating proxy, or tests).
    Plain,
}

/// The headers every response carries unless it set them itself.
const FIXED: [(HeaderName, &str); 8] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CONTENT_SECURITY_POLICY, STRICT_CSP),
    (header::CACHE_CONTROL, "no-store"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    ),
];

/// Adds the fixed headers (where absent) and HSTS (when `https`) to `headers`.
pub fn apply(headers: &mut HeaderMap, https: bool) {
    for (name, value) in FIXED {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    // Nothing on this listener is meant to be read cross-origin: no CORS header survives.
    headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    } else {
        headers.remove(header::STRICT_TRANSPORT_SECURITY);
    }
}

/// Whether the client of `req` is on HTTPS: the built-in TLS listener, or a trusted proxy's
/// `X-Forwarded-Proto: https` (from anyone else that header is ignored).
pub fn is_https(state: &AppState, req: &Request) -> bool {
    if req.extensions().get::<Transport>() == Some(&Transport::Tls) {
        return true;
    }
    let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return false;
    };
    state.proxies.client(peer, req.headers()).forwarded_https == Some(true)
}

/// The middleware: every response leaves with the headers.
pub async fn secure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let https = is_https(&state, &req);
    let mut res = next.run(req).await;
    apply(res.headers_mut(), https);
    res
}
