//! What the endpoint handlers share: the request as they see it ([`Req`]: path, bearer token,
//! query, headers, body) and the JSON 200 they answer with.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The request, as the endpoint handlers see it.
pub(crate) struct Req<'a> {
    pub path: &'a str,
    pub token: Option<String>,
    pub query: HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The token of an `Authorization: Bearer …` (or `OAuth …`) header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// A JSON 200 response.
pub(crate) fn ok_json(v: &impl serde::Serialize) -> Response {
    let body = serde_json::to_string(v).unwrap_or_else(|_| "{}".to_owned());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}
