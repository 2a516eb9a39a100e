//! `GET/POST /webhooks/whatsapp/{channel_id}`: Meta's verification handshake and signed
//! deliveries.
//!
//! A delivery is checked in this order, and nothing is parsed or stored before the signature
//! holds: body size (3 MB, else 413) → channel exists → HMAC-SHA256 of the raw bytes with the
//! channel's app secret (or the next one during rotation), in constant time (else 401
//! `bad_signature`) → parse (one bad change is skipped, not fatal) → every change's
//! `phone_number_id` must be this channel's (else that change is rejected and audited) → the
//! group-commit writer stores the batch → 200 only after the commit.

pub mod apply;
pub mod directory;
pub mod writer;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use confide_core::ids::ChannelId;
use confide_whatsapp::signature::{SIGNATURE_HEADER, verify_signature};
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// Meta sends at most 3 MB per delivery.
pub const WEBHOOK_BODY_LIMIT: usize = 3 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/webhooks/whatsapp/{channel_id}",
        get(verify)
            .post(receive)
            .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
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
    let forbidden = || (StatusCode::FORBIDDEN, "forbidden").into_response();
    let Ok(channel) = channel.parse::<ChannelId>() else {
        return forbidden();
    };
    let entry = match state.channels.get(&state.store, channel).await {
        Ok(Some(e)) => e,
        Ok(None) => return forbidden(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (Some(mode), Some(challenge), Some(token)) = (q.mode, q.challenge, q.verify_token) else {
        return forbidden();
    };
    let expected = entry.verify_token.expose_secret().as_bytes();
    let matches: bool = token.as_bytes().ct_eq(expected).into();
    if mode != "subscribe" || !matches || challenge.len() > 256 {
        tracing::warn!(%channel, "webhook verification refused");
        return forbidden();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        challenge,
    )
        .into_response()
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
                "The body is larger than 3 MB.",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "The body could not be read.",
            )
        }
    })?;
    let channel: ChannelId = channel.parse().map_err(|_| ApiError::not_found())?;
    let entry = state
        .channels
        .get(&state.store, channel)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let mut secrets: Vec<&[u8]> = vec![entry.app_secret.expose_secret().as_bytes()];
    if let Some(next) = &entry.app_secret_next {
        secrets.push(next.expose_secret().as_bytes());
    }
    if let Err(e) = verify_signature(signature, &body, &secrets) {
        state.metrics.webhook_rejected_signature();
        tracing::warn!(%channel, reason = %e, "webhook signature refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "The X-Hub-Signature-256 header does not match the body.",
        ));
    }
    let batch = confide_whatsapp::parse_webhook(&body).map_err(|e| {
        tracing::warn!(%channel, error = %e, "signed webhook with an unreadable envelope");
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_payload",
            format!("The webhook body is not a WhatsApp delivery: {e}"),
        )
    })?;
    let job = apply::Delivery::from_batch(entry, batch);
    let applied = state.ingest.submit(job).await?;
    state
        .metrics
        .webhook_applied(applied.messages, applied.statuses);
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({"status": "ok"})),
    )
        .into_response())
}
