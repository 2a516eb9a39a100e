//! The platform operator's API under `/api/v1/platform`: its own sign-in (separate identity and
//! cookie), tenants' metadata, creating and disabling tenants, and starting a support session in
//! a tenant that has granted one. Nothing here reads a tenant's conversations or contacts.

use super::json::{JsonBody, id, ts, unprocessable};
use crate::auth::throttle::{self, CheckError};
use crate::auth::{
    ClientIp, PLATFORM_COOKIE, PlatformCaller, PlatformPrincipal, SESSION_COOKIE, cookies,
};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::ids::TenantId;
use confide_crypto::password::Verification;
use confide_crypto::password_policy;
use confide_crypto::token::SecretToken;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct Login {
    pub email: String,
    pub password: String,
}

/// `POST /api/v1/platform/session`: throttled like tenant sign-in (reserved before the check,
/// see [`crate::auth::throttle`]), same answers.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<Login>,
) -> Result<Response, ApiError> {
    let now = state.clock.now_micros();
    let email = Email::parse(&body.email).ok();
    let lookup = match &email {
        Some(e) => state.store.platform_email_lookup(e)?,
        None => confide_crypto::token::hash_token(&body.email).to_vec(),
    };
    let keys = throttle::Keys::platform(&lookup, state.auth.ip_key(&ip));
    let attempt = match throttle::reserve(&state.store, keys, now).await? {
        Ok(a) => a,
        Err(secs) => return Ok(throttle::too_many(secs)),
    };
    let admin = state.store.platform_admin_by_lookup(&lookup).await?;
    let ok = match &admin {
        Some(a) => {
            matches!(
                state
                    .auth
                    .verify(body.password.clone(), a.password_hash.clone())
                    .await?,
                Verification::Valid { .. }
            ) && a.status == "active"
        }
        None => {
            state.auth.dummy_verify(body.password.clone()).await?;
            false
        }
    };
    let Some(admin) = admin.filter(|_| ok) else {
        attempt.failed(&state.store).await?;
        tracing::warn!(event = "platform.login_failed", "platform sign-in failed");
        return Err(super::session::invalid_credentials());
    };
    attempt.succeeded(&state.store).await?;
    let token = SecretToken::generate(state.entropy.as_ref(), "cfd_plat_");
    let absolute = state.auth.config.session_absolute_timeout_secs;
    let session = state
        .store
        .create_platform_session(&admin.id, &token.hash(), now + absolute * 1_000_000)
        .await?;
    tracing::info!(event = "platform.login", admin = %admin.id, "platform admin signed in");
    let mut res = Json(json!({
        "session_id": session,
        "admin_id": admin.id,
        "csrf_token": cookies::csrf_token(token.as_str()),
        "must_change_password": admin.must_change_password,
    }))
    .into_response();
    if let Some(c) = cookies::set(PLATFORM_COOKIE, token.as_str(), absolute) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

pub async fn logout(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
) -> Result<Response, ApiError> {
    state.store.end_platform_session(&admin.session_id).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = cookies::clear(PLATFORM_COOKIE) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /api/v1/platform/password`: the current password is checked under the same throttle
/// as the platform sign-in (a wrong one counts as a failed sign-in; 429 when throttled).
pub async fn change_password(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, CheckError> {
    let record = state.store.platform_admin(&admin.admin_id).await?;
    let lookup = state
        .store
        .throttle_platform_lookup(&admin.admin_id)
        .await?;
    let keys = throttle::Keys::platform(&lookup, state.auth.ip_key(&ip));
    let attempt = throttle::reserve(&state.store, keys, state.clock.now_micros())
        .await?
        .map_err(CheckError::TooMany)?;
    if !matches!(
        state
            .auth
            .verify(body.current_password.clone(), record.password_hash)
            .await?,
        Verification::Valid { .. }
    ) {
        attempt.failed(&state.store).await?;
        tracing::warn!(event = "platform.reauth_failed", admin = %admin.admin_id, "wrong current password");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_password",
            "The current password is not right.",
        )
        .into());
    }
    attempt.succeeded(&state.store).await?;
    password_policy::check(&body.new_password, None, false)
        .map_err(|e| unprocessable(e.code(), e.to_string()))?;
    let hash = state
        .auth
        .hash(body.new_password.clone(), state.entropy.clone())
        .await?;
    state
        .store
        .set_platform_password(&admin.admin_id, &hash, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/platform/tenants`: metadata only.
pub async fn list_tenants(
    State(state): State<AppState>,
    _admin: PlatformCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tenants = state.store.list_tenants().await?;
    let items: Vec<_> = tenants
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "status": t.status, "created_at": ts(t.created_at)}))
        .collect();
    Ok(Json(json!({"tenants": items})))
}

#[derive(Deserialize)]
pub struct NewTenant {
    pub name: String,
    pub owner_email: String,
}

/// `POST /api/v1/platform/tenants` → `{"tenant_id","owner_user_id","owner_password"}`.
pub async fn create_tenant(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    JsonBody(body): JsonBody<NewTenant>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&body.owner_email)
        .map_err(|_| unprocessable("invalid_email", "Not a valid email address."))?;
    let password = confide_app::identity::secrets::one_time_password(state.entropy.as_ref());
    let hash = state
        .auth
        .hash(password.clone(), state.entropy.clone())
        .await?;
    let created = state
        .store
        .create_tenant(
            &body.name,
            &email,
            &hash,
            Actor::User(format!("platform-admin:{}", admin.admin_id)),
        )
        .await
        .map_err(|e| match e {
            confide_store::StoreError::Config(m) => unprocessable("invalid_name", m),
            e => e.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "tenant_id": created.tenant_id.to_string(),
            "owner_user_id": created.owner_user_id.to_string(),
            "owner_password": password,
        })),
    )
        .into_response())
}

async fn set_status(
    state: &AppState,
    admin: &PlatformPrincipal,
    raw: &str,
    status: &str,
) -> Result<StatusCode, ApiError> {
    let tenant: TenantId = id(raw)?;
    state
        .store
        .set_tenant_status(
            tenant,
            status,
            Actor::User(format!("platform-admin:{}", admin.admin_id)),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn disable_tenant(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_status(&state, &admin, &raw, "disabled").await
}

pub async fn enable_tenant(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_status(&state, &admin, &raw, "active").await
}

/// `POST /api/v1/platform/tenants/{id}/support-session`: only with an active grant from that
/// tenant to this admin; the session carries the grant's role and ends with the grant.
pub async fn support_session(
    State(state): State<AppState>,
    PlatformCaller(admin): PlatformCaller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let tenant: TenantId = id(&raw)?;
    let now = state.clock.now_micros();
    let mut s = match state.store.scope(tenant).await {
        Ok(s) => s,
        Err(confide_store::StoreError::NotFound) => return Err(ApiError::not_found()),
        Err(e) => return Err(e.into()),
    };
    let Some(grant) = s.active_grant_for(&admin.admin_id).await? else {
        return Err(ApiError::not_found());
    };
    let token = SecretToken::generate(state.entropy.as_ref(), "cfd_sess_");
    let absolute = state.auth.config.session_absolute_timeout_secs * 1_000_000;
    let expires_at = grant.expires_at.min(now + absolute);
    let session = s
        .create_support_session(&grant, &token.hash(), expires_at)
        .await?;
    s.commit().await?;
    let mut res = Json(json!({
        "session_id": session.to_string(),
        "tenant_id": tenant.to_string(),
        "grant_id": grant.id,
        "csrf_token": cookies::csrf_token(token.as_str()),
        "expires_at": ts(expires_at),
    }))
    .into_response();
    if let Some(c) = cookies::set(
        SESSION_COOKIE,
        token.as_str(),
        (expires_at - now).div_euclid(1_000_000),
    ) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}
