//! Full exports (GDPR Art. 15 and 20): `POST /api/v1/exports` queues one (the whole tenant, or
//! `{"contact_id": ...}` for one person), `GET /api/v1/exports/{id}` shows its progress and,
//! once ready, a short-lived download link, and `GET /x/{token}` serves the zip. The use cases
//! are `confide_app::data::tenant_export`.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confide_app::Code;
use confide_app::data::tenant_export::{ExportLinkRefused, ExportRequest, ExportView};
use confide_app::error::AppError;
use futures_util::StreamExt;

/// `POST /api/v1/exports` with `{}` (or no body) for the whole tenant, or
/// `{"contact_id": "..."}` for one contact → 202 with the job (`status` `queued`). 422
/// `invalid_contact` when the contact is not the caller's tenant's. Needs `data.export`.
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ExportView>), ApiError> {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        ExportRequest::default()
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("The request body is not the expected JSON: {e}"),
            )
        })?;
        if !value.is_object() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "The request body is not the expected JSON: expected a JSON object",
            ));
        }
        serde_json::from_value(value).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("The request body is not the expected JSON: {e}"),
            )
        })?
    };
    let request_id = super::session::request_id(&headers);
    let view = state
        .request_export(&principal, request, request_id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// `GET /api/v1/exports/{id}` → the job; when `ready`, `download_url` is a signed path
/// (`/x/<token>`, valid for a few minutes). 404 unless the export is the caller's tenant's.
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<ExportView>, ApiError> {
    Ok(Json(state.export_status(&principal, &id).await?))
}

/// `GET /x/{token}`: the export's zip, if the link is valid and unexpired (403 otherwise, the
/// same for every reason; 404 once the export is gone). Each fetch is audited.
pub async fn download(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    // HEAD is GET without the body; every other method fails the signature.
    let signed_for = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let request_id = super::session::request_id(&headers);
    let served = match state.open_export_link(signed_for, &token, request_id).await {
        Ok(s) => s,
        Err(ExportLinkRefused::Invalid) => {
            return ApiError::from(AppError::new(
                Code::Forbidden,
                "This download link is invalid or expired.",
            ))
            .into_response();
        }
        Err(ExportLinkRefused::Gone) => {
            return ApiError::from(AppError::not_found()).into_response();
        }
        Err(ExportLinkRefused::Unavailable) => {
            return ApiError::from(AppError::unavailable()).into_response();
        }
    };
    let mut response = Response::new(Body::from_stream(served.body.map(|r| {
        r.map_err(|e| {
            tracing::error!(error = %e, "export stream failed mid-way");
            std::io::Error::other("export stream failed")
        })
    })));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(served.total));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The name is ours (ids only): nothing from the request reaches the header.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", served.file_name))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}
