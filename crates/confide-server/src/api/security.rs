//! Tenant security settings (`GET/PUT /api/v1/security`: require 2FA for everyone) and support
//! access grants (`GET/POST /api/v1/support-grants`, `DELETE /api/v1/support-grants/{id}`). The
//! use cases are `confide_app::security`.

use super::json::{JsonBody, ts, ts_opt};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_app::security::{NewGrant, SupportGrant};
use serde::Deserialize;
use serde_json::json;

pub async fn get_settings(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let require_2fa = state.require_2fa_setting(&principal).await?;
    Ok(Json(json!({"require_2fa": require_2fa})))
}

/// The tenant's security settings.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = SecuritySettings)]
pub struct Settings {
    /// Whether every member must use two-factor authentication.
    pub require_2fa: bool,
}

pub async fn put_settings(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<Settings>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let on = state.set_require_2fa(&principal, body.require_2fa).await?;
    Ok(Json(json!({"require_2fa": on})))
}

fn grant_json(g: &SupportGrant) -> serde_json::Value {
    json!({
        "id": g.id,
        "platform_admin_id": g.admin_id,
        "role_id": g.role_id.to_string(),
        "created_by": g.created_by,
        "created_at": ts(g.created_at),
        "expires_at": ts(g.expires_at),
        "revoked_at": ts_opt(g.revoked_at),
    })
}

pub async fn list_grants(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let grants = state.list_support_grants(&principal).await?;
    Ok(Json(
        json!({"support_grants": grants.iter().map(grant_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/support-grants`: lets one platform admin act in this tenant with a role, for
/// at most 72 hours. Audited; revocable.
pub async fn create_grant(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<NewGrant>,
) -> Result<Response, ApiError> {
    let grant = state.create_support_grant(&principal, body).await?;
    Ok((StatusCode::CREATED, Json(grant_json(&grant))).into_response())
}

pub async fn revoke_grant(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.revoke_support_grant(&principal, &raw).await?;
    Ok(StatusCode::NO_CONTENT)
}
