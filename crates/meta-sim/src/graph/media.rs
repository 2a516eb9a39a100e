//! Media endpoints: upload (multipart), the media object with a 5-minute download URL, download
//! (Bearer token required, 404 once the URL expired), delete. `GET /{phone_number_id}` answers
//! with the number's profile.

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use time::Duration;

use super::auth::{authorize, authorize_number};
use super::error::GraphError;
use super::request::{Req, ok_json};
use crate::inbound::sha256_hex;
use crate::media::{
    ALLOWED, INBOUND_LIFETIME_DAYS, IssuedUrl, StoredMedia, UPLOADED_LIFETIME_DAYS,
    URL_LIFETIME_SECS, base_mime, limit_for, parse_multipart,
};
use crate::state::{Shared, State};
use crate::wire::Node;

pub(super) fn upload(shared: &Shared, pnid: &str, req: &Req<'_>) -> Result<Response, GraphError> {
    let now = shared.now();
    let mut st = shared.lock();
    authorize_number(&st, req.token.as_deref(), pnid, now)?;
    let ct = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = parse_multipart(ct, req.body).ok_or_else(|| {
        GraphError::param(
            "Request must be multipart/form-data with the fields messaging_product, type and file.",
        )
    })?;
    let field = |name: &str| parts.iter().find(|p| p.name == name);
    let product = field("messaging_product").map(|p| String::from_utf8_lossy(&p.data).into_owned());
    if product.as_deref() != Some("whatsapp") {
        return Err(GraphError::param(
            "The parameter messaging_product is required.",
        ));
    }
    let file = field("file").ok_or_else(|| GraphError::param("The parameter file is required."))?;
    let mime = field("type")
        .map(|p| String::from_utf8_lossy(&p.data).trim().to_owned())
        .filter(|t| !t.is_empty())
        .or_else(|| file.content_type.clone())
        .ok_or_else(|| GraphError::param("The parameter type is required."))?;
    let Some(limit) = limit_for(&mime) else {
        return Err(GraphError::param(format!(
            "Param file must be a file with one of the following types: {ALLOWED}. Received file of type '{}'.",
            base_mime(&mime)
        )));
    };
    if file.data.is_empty() {
        return Err(GraphError::param("Param file must not be empty."));
    }
    if file.data.len() > limit {
        return Err(GraphError::wa(
            400,
            131053,
            "Media upload error",
            format!(
                "File size {} is too big. Max file size we currently support for {}: {} bytes.",
                file.data.len(),
                base_mime(&mime),
                limit
            ),
        ));
    }
    let id = crate::ids::numeric_id(&mut st.rng);
    let data = Arc::new(file.data.clone());
    st.media.insert(
        id.clone(),
        StoredMedia {
            id: id.clone(),
            phone_number_id: pnid.to_owned(),
            mime_type: mime,
            sha256_hex: sha256_hex(&data),
            data,
            expires_at: now + Duration::days(UPLOADED_LIFETIME_DAYS),
        },
    );
    Ok(ok_json(&serde_json::json!({ "id": id })))
}

/// Stores media a scripted customer sends; returns its id.
pub(crate) fn store_inbound(
    st: &mut State,
    pnid: &str,
    mime: &str,
    data: &[u8],
    now: time::OffsetDateTime,
) -> String {
    let id = crate::ids::numeric_id(&mut st.rng);
    st.media.insert(
        id.clone(),
        StoredMedia {
            id: id.clone(),
            phone_number_id: pnid.to_owned(),
            mime_type: mime.to_owned(),
            sha256_hex: sha256_hex(data),
            data: Arc::new(data.to_vec()),
            expires_at: now + Duration::days(INBOUND_LIFETIME_DAYS),
        },
    );
    id
}

/// May one of these numbers see media owned by `owner`? Same number or same WABA.
fn may_see(st: &State, allowed: &[String], owner: &str) -> bool {
    let owner_waba = st.numbers.get(owner).map(|n| n.config.waba_id.as_str());
    allowed
        .iter()
        .any(|p| p == owner || st.numbers.get(p).map(|n| n.config.waba_id.as_str()) == owner_waba)
}

pub(super) fn get_object(shared: &Shared, id: &str, req: &Req<'_>) -> Result<Response, GraphError> {
    let now = shared.now();
    let mut guard = shared.lock();
    let st = &mut *guard;
    let allowed = authorize(st, req.token.as_deref(), now)?;
    if let Some(n) = st.numbers.get(id) {
        if !allowed.iter().any(|p| p == id) {
            return Err(GraphError::permission());
        }
        let tier = if n.config.throughput >= 1000 {
            "HIGH"
        } else {
            "STANDARD"
        };
        let body = Node::obj()
            .put(
                "verified_name",
                n.config
                    .verified_name
                    .clone()
                    .unwrap_or_else(|| "Confide Test".into()),
            )
            .put("code_verification_status", "VERIFIED")
            .put(
                "display_phone_number",
                n.config.display_phone_number.as_str(),
            )
            .put("quality_rating", "GREEN")
            .put("platform_type", "CLOUD_API")
            .put("throughput", Node::obj().put("level", tier))
            .put("id", id);
        return Ok(ok_json(&body));
    }
    let media = st
        .media
        .get(id)
        .filter(|m| m.expires_at > now && may_see(st, &allowed, &m.phone_number_id))
        .cloned()
        .ok_or_else(|| GraphError::no_object(id, "get"))?;
    if let Some(filter) = req.query.get("phone_number_id")
        && filter != &media.phone_number_id
    {
        return Err(GraphError::param(
            "Media id does not belong to the phone_number_id given.",
        ));
    }
    let hash = st.rng.alnum(24);
    let expires_at = now + Duration::seconds(URL_LIFETIME_SECS);
    st.media_urls.insert(
        hash.clone(),
        IssuedUrl {
            media_id: id.to_owned(),
            expires_at,
        },
    );
    let url = format!(
        "{}/whatsapp_business/attachments/?mid={id}&ext={}&hash={hash}",
        shared.base_url,
        expires_at.unix_timestamp()
    );
    let body = Node::obj()
        .put("messaging_product", "whatsapp")
        .put("url", url)
        .put("mime_type", media.mime_type.as_str())
        .put("sha256", media.sha256_hex.as_str())
        .put(
            "file_size",
            u64::try_from(media.data.len()).unwrap_or(u64::MAX),
        )
        .put("id", id);
    Ok(ok_json(&body))
}

pub(super) fn delete(shared: &Shared, id: &str, req: &Req<'_>) -> Result<Response, GraphError> {
    let now = shared.now();
    let mut st = shared.lock();
    let allowed = authorize(&st, req.token.as_deref(), now)?;
    let visible = st
        .media
        .get(id)
        .is_some_and(|m| may_see(&st, &allowed, &m.phone_number_id));
    if !visible {
        return Err(GraphError::no_object(id, "delete"));
    }
    st.media.remove(id);
    st.media_urls.retain(|_, u| u.media_id != id);
    Ok(ok_json(&serde_json::json!({"success": true})))
}

fn not_found() -> Response {
    (axum::http::StatusCode::NOT_FOUND, "Not Found").into_response()
}

pub(super) fn download(shared: &Shared, req: &Req<'_>) -> Result<Response, GraphError> {
    let now = shared.now();
    let st = shared.lock();
    let allowed = authorize(&st, req.token.as_deref(), now)?;
    let Some(hash) = req.query.get("hash") else {
        return Ok(not_found());
    };
    let Some(issued) = st.media_urls.get(hash).filter(|u| u.expires_at > now) else {
        return Ok(not_found());
    };
    if req.query.get("mid") != Some(&issued.media_id) {
        return Ok(not_found());
    }
    let Some(media) = st.media.get(&issued.media_id) else {
        return Ok(not_found());
    };
    if !may_see(&st, &allowed, &media.phone_number_id) {
        return Err(GraphError::permission());
    }
    let ct = HeaderValue::from_str(&media.mime_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let data = media.data.as_ref().clone();
    Ok(([(header::CONTENT_TYPE, ct)], data).into_response())
}
