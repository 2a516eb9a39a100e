//! Request ids. Every request gets a fresh id from the injected entropy (96 bits, hex), set as
//! the request's `x-request-id` before anything else sees it, echoed as the response's
//! `x-request-id`, carried by the request's tracing span and written into audit entries.
//!
//! A client's own `X-Request-Id` never becomes the request id (it would let a caller choose what
//! the audit log says about its requests). It is kept, sanitised (printable ASCII token
//! characters only, at most [`CORRELATION_MAX`] of them), as a separate **correlation id**: in
//! the span (`correlation_id`) and in audit entries' details (`correlation_id`), for matching
//! our records with a caller's.

use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use confide_core::audit::AuditEvent;
use confide_core::entropy::{SharedEntropy, random_array};
use std::convert::Infallible;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";
/// The longest correlation id kept (longer ones are cut).
pub const CORRELATION_MAX: usize = 64;

/// A client's `X-Request-Id`, sanitised: its request's correlation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId(pub String);

/// A new request id.
pub fn new_id(entropy: &SharedEntropy) -> String {
    let bytes: [u8; 12] = random_array(entropy.as_ref());
    hex::encode(bytes)
}

/// An RFC 9110 token character (`!#$%&'*+-.^_`|~`, digits, letters).
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A client-sent id as a correlation id: token characters only, at most [`CORRELATION_MAX`];
/// `None` when nothing is left.
pub fn sanitise(raw: &[u8]) -> Option<String> {
    let kept: String = raw
        .iter()
        .map(|b| char::from(*b))
        .filter(|c| token_char(*c))
        .take(CORRELATION_MAX)
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// The outermost layer: replaces any client `x-request-id` with a server-made one (keeping the
/// client's, sanitised, as the correlation id), runs the request in a span carrying both, and
/// sets the response's `x-request-id` to the server's id.
pub async fn assign(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let correlation = req
        .headers()
        .get(HEADER)
        .and_then(|v| sanitise(v.as_bytes()));
    let id = new_id(&state.entropy);
    let value = HeaderValue::from_str(&id).ok();
    let headers = req.headers_mut();
    headers.remove(HEADER);
    if let Some(v) = &value {
        headers.insert(HEADER, v.clone());
    }
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        correlation_id = tracing::field::Empty
    );
    if let Some(c) = &correlation {
        span.record("correlation_id", c.as_str());
        req.extensions_mut().insert(CorrelationId(c.clone()));
    }
    let mut res = next.run(req).instrument(span).await;
    if let Some(v) = value {
        res.headers_mut().insert(HEADER, v);
    }
    res
}

/// The request id of a request, for logs and error reports.
pub fn of<B>(req: &Request<B>) -> String {
    req.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// A request's ids, for audit entries: the server's request id and the client's correlation id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestIds {
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
}

impl RequestIds {
    /// The ids of a request whose headers passed through [`assign`].
    pub fn from_parts(headers: &HeaderMap, extensions: &axum::http::Extensions) -> Self {
        RequestIds {
            request_id: headers
                .get(HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            correlation_id: extensions.get::<CorrelationId>().map(|c| c.0.clone()),
        }
    }

    /// `event` with these ids: the request id in its field, the correlation id in its details.
    pub fn stamp(&self, event: AuditEvent) -> AuditEvent {
        event
            .with_request_id(self.request_id.clone())
            .with_correlation_id(self.correlation_id.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestIds {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(RequestIds::from_parts(&parts.headers, &parts.extensions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_token_characters_and_capped() {
        assert_eq!(
            sanitise(b"attacker-chosen").as_deref(),
            Some("attacker-chosen")
        );
        assert_eq!(sanitise(b"a b<c>\"d\";e\x7f\xff").as_deref(), Some("abcde"));
        assert_eq!(
            sanitise(&[b'x'; 200]).map(|s| s.len()),
            Some(CORRELATION_MAX)
        );
        assert_eq!(sanitise(b" <>\"\t"), None);
    }
}
