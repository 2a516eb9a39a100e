//! Tenant security settings (`GET/PUT /api/v1/security`: require 2FA for everyone, the CIDR
//! lists of the tenant's UI and API) and support
//! access grants (`GET/POST /api/v1/support-grants`, `DELETE /api/v1/support-grants/{id}`). The
//! use cases are `confide_app::security`.

use super::json::{JsonBody, ts, ts_opt};
use crate::auth::{Caller, RequestOrigin};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_app::security::{NewGrant, SecuritySettings, SupportGrant};
use serde::Deserialize;
use serde_json::json;

fn settings_json(s: &SecuritySettings) -> serde_json::Value {
    let (allow, deny) = s.networks.to_strings();
    json!({"require_2fa": s.require_2fa, "access": {"allow": allow, "deny": deny}})
}

pub async fn get_settings(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let settings = state.security_settings(&principal).await?;
    Ok(Json(settings_json(&settings)))
}

/// The tenant's security settings; each field is optional (absent: unchanged).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = SecuritySettings)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Whether every member must use two-factor authentication.
    pub require_2fa: Option<bool>,
    /// The CIDR lists of the tenant's UI and API (replaced whole).
    pub access: Option<AccessLists>,
}

/// A tenant's CIDR lists: `10.0.0.0/8`, `2001:db8::/32` or single addresses, up to 100 each.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLists {
    /// When not empty, only these addresses may use the tenant's sessions and API keys.
    #[serde(default)]
    pub allow: Vec<String>,
    /// These addresses never may (deny wins over allow).
    #[serde(default)]
    pub deny: Vec<String>,
}

pub async fn put_settings(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<Settings>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some(access) = &body.access {
        state
            .set_network_lists(&principal, origin.ip, &access.allow, &access.deny)
            .await?;
        state.edge.tenants.forget(principal.tenant);
    }
    if let Some(on) = body.require_2fa {
        state.set_require_2fa(&principal, on).await?;
    }
    let settings = state.security_settings(&principal).await?;
    Ok(Json(settings_json(&settings)))
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
