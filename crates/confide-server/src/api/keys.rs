//! API keys: `GET/POST /api/v1/api-keys`, `DELETE /api/v1/api-keys/{id}`. The use cases are
//! `confide_app::keys`.

use super::json::{JsonBody, ts, ts_opt};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_app::keys::{ApiKey, NewKey};
use serde_json::json;

fn key_json(k: &ApiKey) -> serde_json::Value {
    json!({
        "id": k.id.to_string(),
        "name": k.name,
        "role_id": k.role_id.to_string(),
        "created_at": ts(k.created_at),
        "last_used_at": ts_opt(k.last_used_at),
        "revoked_at": ts_opt(k.revoked_at),
    })
}

pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let keys = state.list_api_keys(&principal).await?;
    Ok(Json(
        json!({"api_keys": keys.iter().map(key_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/api-keys` → 201 `{"id","key","api_key"}`; the key is shown only here.
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<Response, ApiError> {
    let created = state.create_api_key(&principal, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": created.key.id.to_string(),
            "key": created.secret,
            "api_key": key_json(&created.key),
        })),
    )
        .into_response())
}

/// `DELETE /api/v1/api-keys/{id}`: revoke.
pub async fn revoke(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.revoke_api_key(&principal, &raw).await?;
    Ok(StatusCode::NO_CONTENT)
}
