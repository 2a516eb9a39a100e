//! The platform operator's API under `/api/v1/platform`: its own sign-in (separate identity and
//! cookie), tenants' metadata, creating and disabling tenants, and starting a support session in
//! a tenant that has granted one. The use cases are `confide_app::platform`.

use super::json::{JsonBody, ts};
use crate::auth::{PLATFORM_COOKIE, PlatformCaller, RequestOrigin, SESSION_COOKIE, cookies};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use confide_app::platform::{NewTenant, PlatformCredentials};
use serde::Deserialize;
use serde_json::json;

/// `POST /api/v1/platform/session`: throttled like tenant sign-in, same answers.
pub async fn login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<PlatformCredentials>,
) -> Result<Response, ApiError> {
    let signed = state.platform_sign_in(body, &origin).await?;
    let mut res = Json(json!({
        "session_id": signed.session_id,
        "admin_id": signed.admin_id,
        "csrf_token": cookies::csrf_token(&signed.token),
        "must_change_password": signed.must_change_password,
    }))
    .into_response();
    if let Some(c) = cookies::set(PLATFORM_COOKIE, &signed.token, signed.lifetime_secs) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

pub async fn logout(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
) -> Result<Response, ApiError> {
    state.platform_sign_out(&admin).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = cookies::clear(PLATFORM_COOKIE) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// A platform administrator's password change.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PlatformPasswordChange)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new password (checked against the password policy).
    pub new_password: String,
}

/// `POST /api/v1/platform/password`: the current password is checked under the same throttle
/// as the platform sign-in (a wrong one counts as a failed sign-in; 429 when throttled).
pub async fn change_password(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    state
        .platform_change_password(&admin, &body.current_password, &body.new_password, &origin)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/platform/tenants`: metadata only.
pub async fn list_tenants(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tenants = state.list_tenants(&admin).await?;
    let items: Vec<_> = tenants
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "status": t.status, "created_at": ts(t.created_at)}))
        .collect();
    Ok(Json(json!({"tenants": items})))
}

/// `POST /api/v1/platform/tenants` → `{"tenant_id","owner_user_id","owner_password"}`.
pub async fn create_tenant(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    JsonBody(body): JsonBody<NewTenant>,
) -> Result<Response, ApiError> {
    let created = state.create_tenant(&admin, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "tenant_id": created.tenant_id.to_string(),
            "owner_user_id": created.owner_user_id.to_string(),
            "owner_password": created.owner_password,
        })),
    )
        .into_response())
}

pub async fn disable_tenant(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.set_tenant_status(&admin, &raw, "disabled").await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enable_tenant(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.set_tenant_status(&admin, &raw, "active").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/platform/tenants/{id}/support-session`: only with an active grant from that
/// tenant to this admin; the session carries the grant's role and ends with the grant.
pub async fn support_session(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let session = state.start_support_session(&admin, &raw).await?;
    let mut res = Json(json!({
        "session_id": session.session_id,
        "tenant_id": session.tenant.to_string(),
        "grant_id": session.grant_id,
        "csrf_token": cookies::csrf_token(&session.token),
        "expires_at": ts(session.expires_at),
    }))
    .into_response();
    if let Some(c) = cookies::set(SESSION_COOKIE, &session.token, session.lifetime_secs) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}
