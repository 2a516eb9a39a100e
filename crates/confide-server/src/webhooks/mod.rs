//! `GET/POST /webhooks/whatsapp/{channel_id}`: Meta's verification handshake and signed
//! deliveries. The body is limited (`limits.webhook_body_bytes`, 3 MiB by default: Meta's
//! maximum; else 413) before anything else; the rest (channel,
//! signature, parse, store, 200 only after the commit) is the ingest use case,
//! `confide_app::ingest`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use confide_whatsapp::signature::SIGNATURE_HEADER;
use serde::Deserialize;

/// Meta sends at most 3 MB per delivery (the default of `limits.webhook_body_bytes`).
pub const WEBHOOK_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// The webhook routes, with bodies limited to `body_limit` bytes.
pub fn routes(body_limit: usize) -> Router<AppState> {
    Router::new().route(
        "/webhooks/whatsapp/{channel_id}",
        get(verify)
            .post(receive)
            .layer(DefaultBodyLimit::max(body_limit)),
    )
}

#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
}

/// The subscription handshake: echo the challenge when the verify token matches.
async fn verify(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    Query(q): Query<Handshake>,
) -> Response {
    match state
        .verify_webhook_subscription(
            &channel,
            q.mode.as_deref(),
            q.verify_token.as_deref(),
            q.challenge,
        )
        .await
    {
        Ok(Some(challenge)) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        Ok(None) => (StatusCode::FORBIDDEN, "forbidden").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A signed delivery.
async fn receive(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The body is larger than this server accepts for a webhook.",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "The body could not be read.",
            )
        }
    })?;
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    state.receive_webhook(&channel, signature, &body).await?;
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({"status": "ok"})),
    )
        .into_response())
}
