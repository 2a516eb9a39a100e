//! API keys: `GET/POST /api/v1/api-keys`, `DELETE /api/v1/api-keys/{id}`.

use super::json::{JsonBody, id, ts, ts_opt, unprocessable};
use super::team::may_grant;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_core::ids::{ApiKeyId, RoleId};
use confide_crypto::token::SecretToken;
use confide_store::api_keys::ApiKey;
use serde::Deserialize;
use serde_json::json;

/// Prefix of API keys (lets secret scanners recognise a leaked one).
pub const KEY_PREFIX: &str = "cfd_key_";

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
    let mut s = state.store.read_scope(principal.tenant).await?;
    let keys = s.list_api_keys().await?;
    s.commit().await?;
    Ok(Json(
        json!({"api_keys": keys.iter().map(key_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
pub struct NewKey {
    pub name: String,
    pub role_id: String,
}

/// `POST /api/v1/api-keys` → 201 `{"id","key","api_key"}`; the key is shown only here.
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<Response, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(unprocessable(
            "invalid_name",
            "A key name needs 1 to 100 characters.",
        ));
    }
    let role_id: RoleId = body
        .role_id
        .parse()
        .map_err(|_| unprocessable("invalid_role", "No such role."))?;
    let mut s = state.store.scope(principal.tenant).await?;
    let role = match s.role(role_id).await {
        Ok(r) => r,
        Err(confide_store::StoreError::NotFound) => {
            return Err(unprocessable("invalid_role", "No such role."));
        }
        Err(e) => return Err(e.into()),
    };
    may_grant(&principal, &role.permissions)?;
    let token = SecretToken::generate(state.entropy.as_ref(), KEY_PREFIX);
    let key = s
        .create_api_key(name, role_id, &token.hash(), principal.actor())
        .await?;
    s.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": key.id.to_string(), "key": token.as_str(), "api_key": key_json(&key)})),
    )
        .into_response())
}

/// `DELETE /api/v1/api-keys/{id}`: revoke.
pub async fn revoke(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let key_id: ApiKeyId = id(&raw)?;
    let mut s = state.store.scope(principal.tenant).await?;
    s.revoke_api_key(key_id, principal.actor()).await?;
    s.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
