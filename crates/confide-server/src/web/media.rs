//! The media page: the tenant's uploaded files (name, type, size, date, a link to open each) and
//! an upload form. The use cases are `confide_app::media` (`list_uploads`, `upload_media`,
//! `media_link`), the same as `GET/POST /api/v1/media` and `GET /api/v1/media/{id}/link`.
//!
//! The upload form is `multipart/form-data`: its `_csrf` field must come before the file, and
//! the request passes the same same-origin checks as every other form.

use super::page::{self, Viewer, from_this_site, render, see_other};
use super::{Chrome, format};
use crate::api::media::OneChunkPerPoll;
use crate::state::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use confide_app::media::upload::{MediaView, UploadMeta};
use confide_core::permissions::Permission;
use confide_crypto::token::constant_time_eq;

pub struct MediaRow {
    id: String,
    name: String,
    kind: String,
    content_type: String,
    size: String,
    date: String,
}

#[derive(Template)]
#[template(path = "web/media.html")]
struct MediaPage {
    chrome: Chrome,
    rows: Vec<MediaRow>,
    can_upload: bool,
    error: Option<String>,
    uploaded: Option<String>,
}

/// A size in words: `512 B`, `12.4 KB`, `3.1 MB`.
fn size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    }
}

fn row(m: &MediaView) -> MediaRow {
    MediaRow {
        id: m.id.clone(),
        name: m
            .file_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "(no name)".into()),
        kind: m.kind.clone(),
        content_type: m.content_type.clone(),
        size: size(m.byte_size),
        date: format::full(m.created_at.saturating_mul(1_000_000)),
    }
}

async fn media(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    error: Option<String>,
    uploaded: Option<String>,
) -> Response {
    let list = match state.list_uploads(&v.principal).await {
        Ok(l) => l,
        Err(e) => return page::app_error(e),
    };
    render(
        status,
        &MediaPage {
            chrome: Chrome::new(v, "/media", "Media"),
            rows: list.iter().map(row).collect(),
            can_upload: v.can(Permission::MediaUpload),
            error,
            uploaded,
        },
    )
}

/// `GET /media`.
pub async fn media_page(State(state): State<AppState>, v: Viewer) -> Response {
    media(&state, &v, StatusCode::OK, None, None).await
}

fn cross_site() -> Response {
    page::plain_error(
        StatusCode::FORBIDDEN,
        "This form was not sent from a Confide page, so it was refused. Open the page again and resend it.",
    )
}

/// `POST /media`: `multipart/form-data` with `_csrf`, then the `file` part → the page again,
/// with the file listed (or the reason it was refused).
pub async fn upload(State(state): State<AppState>, v: Viewer, req: Request) -> Response {
    if !from_this_site(req.headers(), req.uri()) {
        return cross_site();
    }
    let (parts, body) = req.into_parts();
    let paced = Body::from_stream(OneChunkPerPoll {
        inner: body.into_data_stream(),
        yielded: false,
    });
    let Ok(mut multipart) =
        Multipart::from_request(Request::from_parts(parts, paced), &state).await
    else {
        return cross_site();
    };
    let mut csrf_ok = false;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) | Err(_) if !csrf_ok => return cross_site(),
            Ok(None) => {
                let msg = "Choose a file to upload.".to_string();
                return media(
                    &state,
                    &v,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(msg),
                    None,
                )
                .await;
            }
            Err(_) => {
                let msg = "The upload was cut off; try again.".to_string();
                return media(
                    &state,
                    &v,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(msg),
                    None,
                )
                .await;
            }
        };
        match field.name() {
            Some(page::CSRF_FIELD) if !csrf_ok => {
                let Ok(token) = field.text().await else {
                    return cross_site();
                };
                if !constant_time_eq(token.as_bytes(), v.csrf.as_bytes()) {
                    return cross_site();
                }
                csrf_ok = true;
            }
            Some("file") if csrf_ok => {
                let meta = UploadMeta {
                    file_name: field.file_name().map(str::to_string),
                    declared_type: field.content_type().map(str::to_string),
                };
                return match state
                    .upload_media(&v.principal, meta, Box::pin(field))
                    .await
                {
                    Ok(m) => {
                        let name = m.file_name.unwrap_or_else(|| "The file".into());
                        media(&state, &v, StatusCode::OK, None, Some(name)).await
                    }
                    Err(e) => {
                        let api = crate::error::ApiError::from(e);
                        if api.status.is_server_error() || api.status == StatusCode::FORBIDDEN {
                            return page::plain_error(api.status, &api.message);
                        }
                        media(&state, &v, api.status, Some(api.message), None).await
                    }
                };
            }
            // The file before the token, or a second token: refused.
            Some("file") | Some(page::CSRF_FIELD) => return cross_site(),
            _ => {}
        }
    }
}

/// `GET /media/{id}/open`: a short-lived link to the file (`media_link`), followed.
pub async fn open(State(state): State<AppState>, v: Viewer, Path(id): Path<String>) -> Response {
    match state.media_link(&v.principal, &id).await {
        Ok(link) => {
            // The link's path, on this page's own origin.
            let path = link
                .url
                .find("/m/")
                .map(|i| link.url[i..].to_string())
                .unwrap_or(link.url);
            see_other(&path)
        }
        Err(e) => page::app_error(e),
    }
}
