//! Tenant security settings (`GET/PUT /api/v1/security`: require 2FA for everyone) and support
//! access grants (`GET/POST /api/v1/support-grants`, `DELETE /api/v1/support-grants/{id}`).

use super::json::{JsonBody, ts, ts_opt, unprocessable};
use super::team::may_grant;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_core::email::Email;
use confide_core::ids::RoleId;
use confide_store::platform::SupportGrant;
use serde::Deserialize;
use serde_json::json;

/// Longest support grant.
pub const MAX_GRANT_HOURS: i64 = 72;

pub async fn get_settings(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (_, require_2fa) = state.store.tenant_settings(principal.tenant).await?;
    Ok(Json(json!({"require_2fa": require_2fa})))
}

#[derive(Deserialize)]
pub struct Settings {
    pub require_2fa: bool,
}

pub async fn put_settings(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<Settings>,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::auth::sudo::human_recently_signed_in(&state, &principal).await?;
    let mut s = state.store.scope(principal.tenant).await?;
    s.set_require_2fa(body.require_2fa, principal.actor())
        .await?;
    s.commit().await?;
    Ok(Json(json!({"require_2fa": body.require_2fa})))
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
    let mut s = state.store.read_scope(principal.tenant).await?;
    let grants = s.list_support_grants().await?;
    s.commit().await?;
    Ok(Json(
        json!({"support_grants": grants.iter().map(grant_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
pub struct NewGrant {
    pub platform_admin_email: String,
    pub role_id: String,
    pub hours: i64,
}

/// `POST /api/v1/support-grants`: lets one platform admin act in this tenant with a role, for
/// at most 72 hours. Audited; revocable.
pub async fn create_grant(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<NewGrant>,
) -> Result<Response, ApiError> {
    if !(1..=MAX_GRANT_HOURS).contains(&body.hours) {
        return Err(unprocessable("invalid_hours", "hours is 1 to 72."));
    }
    crate::auth::sudo::human_recently_signed_in(&state, &principal).await?;
    let email = Email::parse(&body.platform_admin_email)
        .map_err(|_| unprocessable("unknown_admin", "No such platform admin."))?;
    let lookup = state.store.platform_email_lookup(&email)?;
    let Some(admin) = state.store.platform_admin_by_lookup(&lookup).await? else {
        return Err(unprocessable("unknown_admin", "No such platform admin."));
    };
    let role_id: RoleId = body
        .role_id
        .parse()
        .map_err(|_| unprocessable("invalid_role", "No such role."))?;
    let expires_at = state.clock.now_micros() + body.hours * 3600 * 1_000_000;
    let mut s = state.store.scope(principal.tenant).await?;
    let role = match s.role(role_id).await {
        Ok(r) => r,
        Err(confide_store::StoreError::NotFound) => {
            return Err(unprocessable("invalid_role", "No such role."));
        }
        Err(e) => return Err(e.into()),
    };
    may_grant(&principal, &role.permissions)?;
    let grant = s
        .create_support_grant(&admin.id, role_id, expires_at, principal.actor())
        .await?;
    s.commit().await?;
    Ok((StatusCode::CREATED, Json(grant_json(&grant))).into_response())
}

pub async fn revoke_grant(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let grant_id = super::json::id::<uuid::Uuid>(&raw)?
        .hyphenated()
        .to_string();
    let mut s = state.store.scope(principal.tenant).await?;
    s.revoke_support_grant(&grant_id, principal.actor()).await?;
    s.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
