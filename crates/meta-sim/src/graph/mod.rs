//! The Graph API surface: `/{version}/{id}/messages`, `/media`, `/message_templates`, media
//! objects and downloads. One fallback handler parses the path, so any `vN.N` prefix (or none)
//! is accepted.

mod auth;
pub mod error;
mod media;
pub(crate) mod messages;
mod request;
mod templates;
mod validate;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};

pub use error::GraphError;
pub(crate) use media::store_inbound as store_inbound_media;
pub use validate::is_bsuid;

use request::{Req, bearer};

use crate::records::RejectedRequest;
use crate::state::Shared;

/// Largest request body (documents may be 100 MB).
const BODY_LIMIT: usize = 110 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// `v24.0`, `v21`, ...
fn is_version(seg: &str) -> bool {
    let Some(rest) = seg.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major_ok = parts
        .next()
        .is_some_and(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()));
    let minor_ok = parts
        .next()
        .is_none_or(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()));
    major_ok && minor_ok
}

async fn dispatch(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let token = bearer(&headers).or_else(|| query.get("access_token").cloned());
    let path = uri.path();
    let req = Req {
        path,
        token,
        query,
        headers: &headers,
        body: &body,
    };
    let mut segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segs.first().is_some_and(|s| is_version(s)) {
        segs.remove(0);
    }
    let result = match (method.clone(), segs.as_slice()) {
        (Method::POST, [id, "messages"]) => {
            let r = messages::post(&shared, id, &req);
            messages::fetch_pending_links(&shared);
            r
        }
        (Method::POST, [id, "media"]) => media::upload(&shared, id, &req),
        (Method::GET, ["whatsapp_business", "attachments"]) => media::download(&shared, &req),
        (Method::GET, [id, "message_templates"]) => templates::list(&shared, id, &req),
        (Method::POST, [id, "message_templates"]) => templates::create(&shared, id, &req),
        (Method::GET, [id]) if !id.is_empty() => media::get_object(&shared, id, &req),
        (Method::DELETE, [id]) if !id.is_empty() => media::delete(&shared, id, &req),
        (m, [id, ..]) if !id.is_empty() && segs.len() <= 2 => {
            Err(GraphError::no_object(id, m.as_str()))
        }
        _ => Err(GraphError::unknown_path(path)),
    };
    match result {
        Ok(resp) => resp,
        Err(e) => reject(&shared, path, &e),
    }
}

/// Records a refused request and renders Meta's error body.
fn reject(shared: &Shared, path: &str, e: &GraphError) -> Response {
    let fbtrace = {
        let mut st = shared.lock();
        let limit = st.log_limit;
        crate::state::keep_newest(&mut st.rejected, limit);
        st.rejected.push(RejectedRequest {
            path: path.to_owned(),
            http_status: e.http,
            code: e.code,
            subcode: e.subcode,
            message: e.message.clone(),
            at: shared.now(),
        });
        crate::ids::fbtrace(&mut st.trace_rng)
    };
    let mut resp = (e.status(), axum::Json(e.body(&fbtrace))).into_response();
    if e.http == 401 {
        let v = if e.subcode == Some(463) {
            r#"OAuth "Facebook Platform" "invalid_token" "Error validating access token: Session has expired""#
        } else {
            r#"OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token - Cannot parse access token""#
        };
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(is_version("v24.0"));
        assert!(is_version("v19"));
        assert!(!is_version("v"));
        assert!(!is_version("106540352242922"));
        assert!(!is_version("v24."));
    }
}
