//! Broadcasts: `GET/POST /api/v1/broadcasts`, `GET /api/v1/broadcasts/{id}`,
//! `POST /api/v1/broadcasts/{id}/pause|resume|cancel`. The use cases are
//! `confide_app::broadcasts`.

use super::json::{JsonBody, ts};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_app::broadcasts::Broadcast;
use serde::Deserialize;
use serde_json::{Value, json};

fn broadcast_json(b: &Broadcast) -> Value {
    let count = |k: &str| b.counts.get(k).copied().unwrap_or(0);
    json!({
        "id": b.id.to_string(),
        "channel_id": b.channel.to_string(),
        "template": b.template,
        "language": b.language,
        "params": b.params,
        "purpose": b.purpose,
        "audience": b.audience,
        "state": b.state,
        "recipients": b.recipients,
        "created_by": b.created_by,
        "created_at": ts(b.created_at),
        "counts": {
            "queued": count("queued"),
            "sent": count("sent"),
            "delivered": count("delivered"),
            "read": count("read") + count("played"),
            "failed": count("failed"),
            "refused_no_consent": b.refused_no_consent,
            "refused_other": b.refused_other,
        },
    })
}

/// A broadcast to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = BroadcastInput)]
pub struct CreateBody {
    /// The channel to send from.
    pub channel_id: String,
    /// An APPROVED template's name.
    pub template: String,
    /// Its language, e.g. `en_US`.
    pub language: String,
    /// The body's parameters, in order.
    pub params: Option<Vec<String>>,
    /// `{"label": "..."}` or `{"contact_ids": [...]}` (at most 100,000 recipients).
    #[schema(value_type = Object)]
    pub audience: Value,
    /// `marketing` (default) or `utility`.
    pub purpose: Option<String>,
}

/// `POST /api/v1/broadcasts` → 202 with the broadcast and its counts.
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let b = state.create_broadcast(&principal, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(broadcast_json(&b))).into_response())
}

/// `GET /api/v1/broadcasts` → `{"broadcasts":[...]}`, newest first.
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Value>, ApiError> {
    let list = state.list_broadcasts(&principal).await?;
    Ok(Json(
        json!({"broadcasts": list.iter().map(broadcast_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /api/v1/broadcasts/{id}` → the broadcast and its counts.
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(broadcast_json(
        &state.get_broadcast(&principal, &id).await?,
    )))
}

async fn change(
    state: AppState,
    principal: &confide_app::principal::Principal,
    id: &str,
    action: &str,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(broadcast_json(
        &state.change_broadcast(principal, id, action).await?,
    )))
}

/// `POST /api/v1/broadcasts/{id}/pause`: its queued messages wait.
pub async fn pause(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    change(state, &principal, &id, "pause").await
}

/// `POST /api/v1/broadcasts/{id}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    change(state, &principal, &id, "resume").await
}

/// `POST /api/v1/broadcasts/{id}/cancel`: its unsent messages fail as cancelled.
pub async fn cancel(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    change(state, &principal, &id, "cancel").await
}
