//! Channels (WhatsApp business numbers): `GET/POST /api/v1/channels`,
//! `GET/PATCH/DELETE /api/v1/channels/{id}`, `POST /api/v1/channels/{id}/rotate-secret` and
//! `.../finish-rotation`. The use cases are `confide_app::channels`; secrets are write-only.

use super::json::{JsonBody, ts};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_app::channels::{Channel, ChannelChange, NewChannelInput};
use serde::Deserialize;
use serde_json::json;

fn channel_json(c: &Channel) -> serde_json::Value {
    json!({
        "id": c.id.to_string(),
        "phone_number_id": c.phone_number_id,
        "waba_id": c.waba_id,
        "display_phone_number": c.display_phone_number,
        "graph_base_url": c.graph_base_url,
        "status": c.status,
        "rotating_secret": c.rotating_secret,
        "health": c.health,
        "health_detail": c.health_detail,
        "secrets_rotation_required": c.rotation_required(),
        "secrets_rotation_pending": c.secrets_rotation_pending,
        "media_delivery": c.media_delivery,
        "messaging_limit": c.messaging_limit,
        "webhook_path": format!("/webhooks/whatsapp/{}", c.id),
        "created_at": ts(c.created_at),
    })
}

pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let channels = state.list_channels(&principal).await?;
    Ok(Json(
        json!({"channels": channels.iter().map(channel_json).collect::<Vec<_>>()}),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(channel): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = state.get_channel(&principal, &channel).await?;
    Ok(Json(channel_json(&c)))
}

/// `POST /api/v1/channels` → 201 with the channel (no secrets) and its webhook path.
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(b): JsonBody<NewChannelInput>,
) -> Result<Response, ApiError> {
    let c = state.create_channel(&principal, b).await?;
    Ok((StatusCode::CREATED, Json(channel_json(&c))).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(channel): Path<String>,
    JsonBody(b): JsonBody<ChannelChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = state.update_channel(&principal, &channel, b).await?;
    Ok(Json(channel_json(&c)))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(channel): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_channel(&principal, &channel).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new app secret; the old one keeps verifying until `finish-rotation`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = SecretRotation)]
pub struct RotateBody {
    /// The new Meta app secret (write-only).
    pub app_secret: String,
}

/// `POST /api/v1/channels/{id}/rotate-secret`: both secrets verify until `finish-rotation`.
pub async fn rotate_secret(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(channel): Path<String>,
    JsonBody(b): JsonBody<RotateBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = state
        .rotate_channel_secret(&principal, &channel, b.app_secret)
        .await?;
    Ok(Json(channel_json(&c)))
}

pub async fn finish_rotation(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(channel): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = state.finish_channel_rotation(&principal, &channel).await?;
    Ok(Json(channel_json(&c)))
}
