//! Media: uploads (`POST /api/v1/media`, multipart, streamed), short-lived signed links
//! (`GET /api/v1/media/{id}/link`) and the links themselves (`GET /m/{token}`). The use cases are
//! `confide_app::media`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confide_app::Code;
use confide_app::error::AppError;
use confide_app::media::links::{LinkRefused, MediaLink, RangeRequest};
use confide_app::media::upload::{MediaView, UploadMeta};
use futures_util::StreamExt;

/// The largest upload body accepted (WhatsApp's 100 MB document limit plus multipart framing);
/// each type's own limit is checked as the file streams in.
pub const UPLOAD_BODY_LIMIT: usize = 100 * 1024 * 1024 + 64 * 1024;

fn invalid_upload(message: &'static str) -> ApiError {
    ApiError::from(AppError::new(Code::InvalidUpload, message))
}

/// The request body, at most one chunk per poll. The multipart parser reads everything its
/// source has ready into its own buffer before it hands out a byte; from a fast client that would
/// be the whole file in memory. Yielding after each chunk keeps the parser's buffer at about one
/// chunk, so an upload streams at the pace its consumer (sealing, storage) sets.
pub(crate) struct OneChunkPerPoll<S> {
    pub(crate) inner: S,
    pub(crate) yielded: bool,
}

impl<S> futures_util::Stream for OneChunkPerPoll<S>
where
    S: futures_util::Stream + Unpin,
{
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.yielded {
            self.yielded = false;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        let next = std::pin::Pin::new(&mut self.inner).poll_next(cx);
        if matches!(next, std::task::Poll::Ready(Some(_))) {
            self.yielded = true;
        }
        next
    }
}

/// `POST /api/v1/media`: `multipart/form-data` with one `file` part → 201 with the object.
pub async fn upload(
    State(state): State<AppState>,
    Caller(principal): Caller,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let paced = Body::from_stream(OneChunkPerPoll {
        inner: body.into_data_stream(),
        yielded: false,
    });
    let multipart: Result<Multipart, MultipartRejection> =
        Multipart::from_request(Request::from_parts(parts, paced), &state).await;
    let mut multipart = multipart.map_err(|_| {
        invalid_upload("Send the file as multipart/form-data in a part named \"file\".")
    })?;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(invalid_upload("The upload has no part named \"file\"."));
            }
            Err(_) => {
                return Err(invalid_upload(
                    "The upload is not valid multipart/form-data.",
                ));
            }
        };
        if field.name() != Some("file") {
            continue;
        }
        let meta = UploadMeta {
            file_name: field.file_name().map(str::to_string),
            declared_type: field.content_type().map(str::to_string),
        };
        let view: MediaView = state
            .upload_media(&principal, meta, Box::pin(field))
            .await?;
        return Ok((StatusCode::CREATED, Json(view)).into_response());
    }
}

/// `GET /api/v1/media/usage` → `{"objects","bytes"}` of the caller's tenant.
pub async fn usage(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<confide_app::media::lifecycle::UsageView>, ApiError> {
    Ok(Json(state.media_usage(&principal).await?))
}

/// `GET /api/v1/media/{id}`: the object's type, size and name.
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<MediaView>, ApiError> {
    Ok(Json(state.media_object(&principal, &id).await?))
}

/// `GET /api/v1/media/{id}/link` → `{"url","expires_at"}`.
pub async fn link(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<MediaLink>, ApiError> {
    Ok(Json(state.media_link(&principal, &id).await?))
}

/// `Range: bytes=a-b` (one range); anything else is ignored and the whole object is served.
fn parse_range(headers: &HeaderMap) -> Option<RangeRequest> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let num = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    Some(RangeRequest {
        start: num(a)?,
        end: num(b)?,
    })
}

/// `GET /m/{token}`: the bytes, if the link is valid, unexpired and (single-use links) unused.
pub async fn serve(
    State(state): State<AppState>,
    method: Method,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    // HEAD is GET without the body; every other method fails the signature.
    let signed_for = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let served = match state
        .open_media_link(signed_for, &token, parse_range(&headers))
        .await
    {
        Ok(s) => s,
        Err(LinkRefused::Invalid) => {
            return ApiError::from(AppError::new(
                Code::Forbidden,
                "This media link is invalid, expired or already used.",
            ))
            .into_response();
        }
        Err(LinkRefused::Gone) => return ApiError::from(AppError::not_found()).into_response(),
        Err(LinkRefused::Unavailable) => {
            return ApiError::from(AppError::unavailable()).into_response();
        }
    };
    let status = if served.range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let length = served.range.map_or(served.total, |(a, b)| b - a);
    let mut response = Response::new(Body::from_stream(served.body.map(|r| {
        r.map_err(|e| {
            tracing::error!(error = %e, "media stream failed mid-way");
            std::io::Error::other("media stream failed")
        })
    })));
    *response.status_mut() = status;
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&served.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((a, b)) = served.range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{}/{}", b - 1, served.total))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    h.insert(
        header::CONTENT_DISPOSITION,
        disposition(served.inline, served.file_name.as_deref()),
    );
    response
}

/// `attachment` (or `inline` for images shown in the inbox), with the file name in RFC 5987
/// form (percent-encoded UTF-8, so no quote or header break can come from a name).
fn disposition(inline: bool, name: Option<&str>) -> HeaderValue {
    let kind = if inline { "inline" } else { "attachment" };
    let Some(name) = name else {
        return HeaderValue::from_static(if inline { "inline" } else { "attachment" });
    };
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!("{kind}; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_break_the_header() {
        let v = disposition(false, Some("a\"b\r\nX-Evil: 1.pdf"));
        let s = v.to_str().unwrap();
        assert!(s.starts_with("attachment; filename*=UTF-8''"));
        assert!(!s.contains('"') && !s.contains('\r') && !s.contains('\n'));
    }
}
