//! One's own account: `GET /api/v1/me`, `POST /api/v1/me/password`, and the second factor under
//! `/api/v1/me/2fa/...` (enrol, confirm, disable, new recovery codes). Every change of password
//! or 2FA needs the current password again and ends the user's other sessions. Those password
//! checks (and the code checks that go with them) are throttled exactly like sign-in
//! ([`crate::auth::throttle`]): a session does not buy unlimited guesses at the password.

use super::json::{JsonBody, ts, unprocessable};
use crate::auth::throttle::{self, Attempt, CheckError};
use crate::auth::{AuthContext, Caller, ClientIp, Principal, PrincipalKind};
use crate::edge::request_id::RequestIds;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use confide_core::audit::AuditEvent;
use confide_core::ids::UserId;
use confide_crypto::password::Verification;
use confide_crypto::password_policy;
use confide_crypto::totp::{Totp, base32_encode};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Recovery codes per user.
pub const RECOVERY_CODES: usize = 10;

/// The stored form of a recovery code: SHA-256 of its normalised text (lowercase, no dashes or
/// spaces). A code has 60 random bits, so a plain hash is enough; it is also single-use.
pub fn recovery_code_hash(code: &str) -> [u8; 32] {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut h = Sha256::new();
    h.update(b"confide-recovery-v1");
    h.update(normal.as_bytes());
    h.finalize().into()
}

fn new_recovery_codes(state: &AppState) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut out = String::with_capacity(14);
            let mut n: u32 = 0;
            while n < 12 {
                let b: [u8; 1] = confide_core::entropy::random_array(state.entropy.as_ref());
                if usize::from(b[0]) < 256 - 256 % ALPHABET.len() {
                    if n > 0 && n.is_multiple_of(4) {
                        out.push('-');
                    }
                    out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
                    n += 1;
                }
            }
            out
        })
        .collect()
}

/// `GET /api/v1/me`.
pub async fn me(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ctx: AuthContext,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut s = state.store.read_scope(principal.tenant).await?;
    let role = s.role(principal.role_id).await?;
    let (kind, user) = match &principal.kind {
        PrincipalKind::User { user_id, .. } => {
            let u = s.user(*user_id).await?;
            (
                "user",
                json!({
                    "id": u.id.to_string(),
                    "email": u.email.as_str(),
                    "status": u.status,
                    "two_factor_enabled": u.totp_enabled,
                    "must_change_password": u.must_change_password,
                    "created_at": ts(u.created_at),
                }),
            )
        }
        PrincipalKind::ApiKey { key_id } => ("api_key", json!({"api_key_id": key_id.to_string()})),
        PrincipalKind::Support {
            admin_id, grant_id, ..
        } => (
            "support",
            json!({"platform_admin_id": admin_id, "grant_id": grant_id}),
        ),
    };
    s.commit().await?;
    let pending = ctx.pending.map(|p| match p {
        crate::auth::Pending::PasswordChange => "password_change",
        crate::auth::Pending::TwoFactorEnrolment => "two_factor_enrolment",
    });
    Ok(Json(json!({
        "kind": kind,
        "user": user,
        "tenant": {"id": principal.tenant.to_string()},
        "role": {"id": role.id.to_string(), "name": role.name},
        "permissions": principal.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "csrf_token": ctx.csrf_expected,
        "pending": pending,
    })))
}

fn me_user(principal: &Principal) -> Result<UserId, ApiError> {
    principal
        .user()
        .map(|(u, _)| u)
        .ok_or_else(crate::auth::forbidden)
}

/// Checks the current password (for changes that need it again), under the sign-in throttle:
/// the check is reserved like a sign-in attempt of the account from the caller's address
/// (429 `too_many_attempts` with `Retry-After` when throttled), and a wrong password counts as a
/// failed sign-in (audited as `user.reauth_failed`). On success the caller settles the returned
/// attempt with [`Attempt::succeeded`] once it knows the whole check passed.
async fn confirm_password(
    state: &AppState,
    principal: &Principal,
    password: &str,
    ip: std::net::IpAddr,
    ids: &RequestIds,
) -> Result<(confide_store::users::Credentials, Attempt), CheckError> {
    let user_id = me_user(principal)?;
    let mut s = state.store.read_scope(principal.tenant).await?;
    let (_, creds) = s.credentials(user_id).await?;
    s.commit().await?;
    let lookup = state.store.login_email_lookup(&creds.email)?;
    let keys = throttle::Keys::tenant(&lookup, state.auth.ip_key(&ip));
    let attempt = throttle::reserve(&state.store, keys, state.clock.now_micros())
        .await?
        .map_err(CheckError::TooMany)?;
    match state
        .auth
        .verify(password.to_string(), creds.password_hash.clone())
        .await?
    {
        Verification::Valid { .. } => Ok((creds, attempt)),
        Verification::Invalid => {
            reauth_failed(state, principal, &attempt, "wrong_password", ids).await?;
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                "The current password is not right.",
            )
            .into())
        }
    }
}

/// Confirms a failed check of one's own password or code (already counted) and audits it.
async fn reauth_failed(
    state: &AppState,
    principal: &Principal,
    attempt: &Attempt,
    reason: &str,
    ids: &RequestIds,
) -> Result<(), ApiError> {
    let user_id = me_user(principal)?;
    let mut s = state.store.scope(principal.tenant).await?;
    super::session::audit_failure(
        &mut s,
        attempt,
        principal.actor(),
        "user.reauth_failed",
        format!("user:{user_id}"),
        reason,
        ids,
    )
    .await?;
    s.commit().await?;
    tracing::info!(event = "user.reauth_failed", tenant = %principal.tenant, reason, "password check failed");
    Ok(())
}

#[derive(Deserialize)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /api/v1/me/password`: change my password; my other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ClientIp(ip): ClientIp,
    ids: RequestIds,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, CheckError> {
    let (creds, attempt) =
        confirm_password(&state, &principal, &body.current_password, ip, &ids).await?;
    attempt.succeeded(&state.store).await?;
    password_policy::check(
        &body.new_password,
        Some(creds.email.as_str()),
        creds.totp_secret.is_some(),
    )
    .map_err(|e| unprocessable(e.code(), e.to_string()))?;
    if body.new_password == body.current_password {
        return Err(unprocessable("password_unchanged", "Choose a new password.").into());
    }
    let hash = state
        .auth
        .hash(body.new_password.clone(), state.entropy.clone())
        .await?;
    let (user_id, session_id) = principal.user().ok_or_else(crate::auth::forbidden)?;
    let mut s = state.store.scope(principal.tenant).await?;
    s.set_password_hash(user_id, &hash, false).await?;
    let ended = s.end_user_sessions(user_id, Some(session_id)).await?;
    s.audit(
        &ids.stamp(
            AuditEvent::new(
                principal.actor(),
                "user.password_changed",
                format!("user:{user_id}"),
            )
            .with_details(json!({"other_sessions_ended": ended})),
        ),
    )
    .await?;
    s.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct PasswordOnly {
    pub password: String,
}

/// `POST /api/v1/me/2fa/enroll`: a new secret to scan (not active until confirmed).
pub async fn enroll(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ClientIp(ip): ClientIp,
    ids: RequestIds,
    JsonBody(body): JsonBody<PasswordOnly>,
) -> Result<Json<serde_json::Value>, CheckError> {
    let (creds, attempt) = confirm_password(&state, &principal, &body.password, ip, &ids).await?;
    attempt.succeeded(&state.store).await?;
    if creds.totp_secret.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "two_factor_enabled",
            "Two-factor authentication is already on; disable it first to enrol a new device.",
        )
        .into());
    }
    let secret = Totp::generate_secret(state.entropy.as_ref());
    let mut s = state.store.scope(principal.tenant).await?;
    s.set_totp_pending(creds.user_id, &secret).await?;
    s.commit().await?;
    let totp = Totp::new(&secret);
    Ok(Json(json!({
        "secret": base32_encode(&secret),
        "otpauth_uri": totp.otpauth_uri("Confide", creds.email.as_str()),
    })))
}

#[derive(Deserialize)]
pub struct CodeOnly {
    pub code: String,
}

/// `POST /api/v1/me/2fa/confirm`: turn 2FA on with a code from the new secret; returns the
/// recovery codes, once. Other sessions end.
pub async fn confirm(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<CodeOnly>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (user_id, session_id) = principal.user().ok_or_else(crate::auth::forbidden)?;
    let now_secs = state.clock.now_micros().div_euclid(1_000_000);
    let mut s = state.store.scope(principal.tenant).await?;
    let Some(secret) = s.totp_pending(user_id).await? else {
        return Err(unprocessable(
            "no_enrolment",
            "Start with POST /api/v1/me/2fa/enroll.",
        ));
    };
    let Some(step) = Totp::new(&secret).verify(&body.code, now_secs, None) else {
        return Err(unprocessable("invalid_code", "The code is not right."));
    };
    s.set_totp(user_id, Some(&secret), Some(step)).await?;
    let codes = new_recovery_codes(&state);
    let hashes: Vec<[u8; 32]> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    s.replace_recovery_codes(user_id, &hashes).await?;
    let ended = s.end_user_sessions(user_id, Some(session_id)).await?;
    s.audit(
        &AuditEvent::new(principal.actor(), "2fa.enabled", format!("user:{user_id}"))
            .with_details(json!({"other_sessions_ended": ended})),
    )
    .await?;
    s.commit().await?;
    Ok(Json(json!({"recovery_codes": codes})))
}

#[derive(Deserialize)]
pub struct PasswordAndCode {
    pub password: String,
    pub code: String,
}

/// Checks password and a current TOTP code (or recovery code) for a 2FA change, both under the
/// sign-in throttle: a wrong password or a wrong code counts as a failed sign-in.
async fn confirm_both(
    state: &AppState,
    principal: &Principal,
    body: &PasswordAndCode,
    ip: std::net::IpAddr,
    ids: &RequestIds,
) -> Result<(confide_store::users::Credentials, Option<i64>), CheckError> {
    let (creds, attempt) = confirm_password(state, principal, &body.password, ip, ids).await?;
    let Some(secret) = creds.totp_secret.as_ref() else {
        // Not a failure: there is no code to check.
        attempt.withdrawn(&state.store).await?;
        return Err(unprocessable(
            "two_factor_disabled",
            "Two-factor authentication is not on.",
        )
        .into());
    };
    let now_secs = state.clock.now_micros().div_euclid(1_000_000);
    let step = Totp::new(secret).verify(&body.code, now_secs, creds.totp_last_step);
    if step.is_none() {
        let mut s = state.store.scope(principal.tenant).await?;
        let ok = s
            .use_recovery_code(creds.user_id, &recovery_code_hash(&body.code))
            .await?;
        s.commit().await?;
        if !ok {
            reauth_failed(state, principal, &attempt, "wrong_code", ids).await?;
            return Err(unprocessable("invalid_code", "The code is not right.").into());
        }
    }
    attempt.succeeded(&state.store).await?;
    Ok((creds, step))
}

/// `POST /api/v1/me/2fa/disable`.
pub async fn disable(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ClientIp(ip): ClientIp,
    ids: RequestIds,
    JsonBody(body): JsonBody<PasswordAndCode>,
) -> Result<StatusCode, CheckError> {
    let (creds, _) = confirm_both(&state, &principal, &body, ip, &ids).await?;
    let (_, require) = state.store.tenant_settings(principal.tenant).await?;
    if require {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "two_factor_required",
            "This organisation requires two-factor authentication.",
        )
        .into());
    }
    let (user_id, session_id) = principal.user().ok_or_else(crate::auth::forbidden)?;
    let mut s = state.store.scope(principal.tenant).await?;
    s.set_totp(creds.user_id, None, None).await?;
    let ended = s.end_user_sessions(user_id, Some(session_id)).await?;
    s.audit(
        &AuditEvent::new(principal.actor(), "2fa.disabled", format!("user:{user_id}"))
            .with_details(json!({"other_sessions_ended": ended})),
    )
    .await?;
    s.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/me/2fa/recovery-codes`: ten new codes (the old ones stop working).
pub async fn regenerate_codes(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ClientIp(ip): ClientIp,
    ids: RequestIds,
    JsonBody(body): JsonBody<PasswordAndCode>,
) -> Result<Json<serde_json::Value>, CheckError> {
    let (creds, step) = confirm_both(&state, &principal, &body, ip, &ids).await?;
    let mut s = state.store.scope(principal.tenant).await?;
    if let Some(step) = step {
        s.advance_totp_step(creds.user_id, step).await?;
    }
    let codes = new_recovery_codes(&state);
    let hashes: Vec<[u8; 32]> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    s.replace_recovery_codes(creds.user_id, &hashes).await?;
    s.audit(&AuditEvent::new(
        principal.actor(),
        "2fa.recovery_codes_replaced",
        format!("user:{}", creds.user_id),
    ))
    .await?;
    s.commit().await?;
    Ok(Json(json!({"recovery_codes": codes})))
}
