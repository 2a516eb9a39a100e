//! One's own account: `GET /api/v1/me`, `POST /api/v1/me/password`, and the second factor under
//! `/api/v1/me/2fa/...` (enrol, confirm, disable, new recovery codes). The use cases (each change
//! needs the current password again, checked under the sign-in throttle) are
//! `confide_app::identity::account`.

use super::json::{JsonBody, ts};
use crate::auth::{AuthContext, Caller, RequestOrigin};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use confide_app::identity::account::{Identity, PasswordAndCode, PasswordChange};
use serde::Deserialize;
use serde_json::json;

/// `GET /api/v1/me`.
pub async fn me(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ctx: AuthContext,
) -> Result<Json<serde_json::Value>, ApiError> {
    let me = state.me(&principal).await?;
    let (kind, user) = match &me.identity {
        Identity::User(u) => (
            "user",
            json!({
                "id": u.id.to_string(),
                "email": u.email.as_str(),
                "status": u.status,
                "two_factor_enabled": u.totp_enabled,
                "must_change_password": u.must_change_password,
                "created_at": ts(u.created_at),
            }),
        ),
        Identity::ApiKey { key_id } => ("api_key", json!({"api_key_id": key_id})),
        Identity::Support { admin_id, grant_id } => (
            "support",
            json!({"platform_admin_id": admin_id, "grant_id": grant_id}),
        ),
    };
    let pending = ctx.pending.map(|p| match p {
        crate::auth::Pending::PasswordChange => "password_change",
        crate::auth::Pending::TwoFactorEnrolment => "two_factor_enrolment",
    });
    Ok(Json(json!({
        "kind": kind,
        "user": user,
        "tenant": {"id": principal.tenant.to_string()},
        "role": {"id": me.role.id.to_string(), "name": me.role.name},
        "permissions": principal.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "csrf_token": ctx.csrf_expected,
        "pending": pending,
    })))
}

/// `POST /api/v1/me/password`: change my password; my other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    state.change_my_password(&principal, body, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current password, to confirm a change to the second factor.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordOnly {
    /// The current password.
    pub password: String,
}

/// `POST /api/v1/me/2fa/enroll`: a new secret to scan (not active until confirmed).
pub async fn enroll(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<PasswordOnly>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let e = state.enrol_2fa(&principal, &body.password, &origin).await?;
    Ok(Json(json!({
        "secret": e.secret_base32,
        "otpauth_uri": e.otpauth_uri,
    })))
}

/// A code from the authenticator app.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CodeOnly {
    /// A current TOTP code from the newly enrolled secret.
    pub code: String,
}

/// `POST /api/v1/me/2fa/confirm`: turn 2FA on with a code from the new secret; returns the
/// recovery codes, once. Other sessions end.
pub async fn confirm(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<CodeOnly>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let codes = state.confirm_2fa(&principal, &body.code).await?;
    Ok(Json(json!({"recovery_codes": codes})))
}

/// `POST /api/v1/me/2fa/disable`.
pub async fn disable(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<PasswordAndCode>,
) -> Result<StatusCode, ApiError> {
    state.disable_2fa(&principal, body, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/me/2fa/recovery-codes`: ten new codes (the old ones stop working).
pub async fn regenerate_codes(
    State(state): State<AppState>,
    Caller(principal): Caller,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<PasswordAndCode>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let codes = state
        .regenerate_recovery_codes(&principal, body, &origin)
        .await?;
    Ok(Json(json!({"recovery_codes": codes})))
}
