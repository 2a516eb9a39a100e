//! Sign-in and sessions: `POST/DELETE /api/v1/session`, `GET/DELETE /api/v1/sessions`,
//! `DELETE /api/v1/sessions/{id}`.
//!
//! Sign-in answers unknown emails and wrong passwords alike (401 `invalid_credentials`, same
//! body), after the same work: a write transaction reserving the attempt on the throttle
//! counters (see [`crate::auth::throttle`]), an argon2 verification (a dummy one for unknown
//! emails) and one write transaction settling it.

use super::json::{JsonBody, id, ts};
use crate::auth::throttle::{self, Attempt};
use crate::auth::{Caller, ClientIp, SESSION_COOKIE, cookies};
use crate::edge::request_id::RequestIds;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confide_core::audit::{Actor, AuditEvent};
use confide_core::email::Email;
use confide_core::ids::{SessionId, TenantId, UserId};
use confide_crypto::password::Verification;
use confide_crypto::token::{SecretToken, hash_token};
use confide_crypto::totp::Totp;
use confide_store::sessions::NewSession;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct Login {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub totp: Option<String>,
    /// Which membership to sign in to, for a person who belongs to several tenants; without it,
    /// their oldest. A tenant they do not belong to answers like a wrong password.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

pub fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "The email or password is not right.",
    )
}

/// 429 `too_many_attempts` with `Retry-After` (see [`throttle::too_many`]).
pub fn too_many(retry_after: i64) -> Response {
    throttle::too_many(retry_after)
}

/// How a verified password is completed: TOTP or a recovery code.
enum SecondFactor {
    NotEnrolled,
    Missing,
    Totp(i64),
    RecoveryCode([u8; 32]),
    Wrong,
}

fn second_factor(
    secret: Option<&[u8]>,
    last_step: Option<i64>,
    given: Option<&str>,
    now_secs: i64,
) -> SecondFactor {
    let Some(secret) = secret else {
        return SecondFactor::NotEnrolled;
    };
    let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) else {
        return SecondFactor::Missing;
    };
    if given.len() == 6 && given.bytes().all(|b| b.is_ascii_digit()) {
        return match Totp::new(secret).verify(given, now_secs, last_step) {
            Some(step) => SecondFactor::Totp(step),
            None => SecondFactor::Wrong,
        };
    }
    SecondFactor::RecoveryCode(super::me::recovery_code_hash(given))
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ids: RequestIds,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Login>,
) -> Result<Response, ApiError> {
    let now = state.clock.now_micros();
    let email = Email::parse(&body.email).ok();
    // An email that does not parse is throttled and answered like an unknown one.
    let email_lookup = match &email {
        Some(e) => state.store.login_email_lookup(e)?,
        None => hash_token(&body.email.trim().to_lowercase()).to_vec(),
    };
    let keys = throttle::Keys::tenant(&email_lookup, state.auth.ip_key(&ip));
    // Counted as a failure from here until settled: concurrent guesses cannot share an "allow".
    let attempt = match throttle::reserve(&state.store, keys, now).await? {
        Ok(a) => a,
        Err(secs) => return Ok(too_many(secs)),
    };
    let found = match &email {
        Some(e) => {
            let (_, memberships) = state.store.login_memberships(e).await?;
            match body.tenant_id.as_deref().map(str::trim) {
                None | Some("") => memberships.into_iter().next(),
                Some(wanted) => memberships
                    .into_iter()
                    .find(|(t, _)| t.to_string() == wanted),
            }
        }
        None => None,
    };
    let Some((tenant, user_id)) = found else {
        state.auth.dummy_verify(body.password.clone()).await?;
        attempt.failed(&state.store).await?;
        tracing::info!(event = "session.login_failed", "sign-in failed");
        return Err(invalid_credentials());
    };
    let (tenant_status, require_2fa) = state.store.tenant_settings(tenant).await?;
    let creds = {
        let mut s = state.store.read_scope(tenant).await?;
        let (_, c) = s.credentials(user_id).await?;
        s.commit().await?;
        c
    };
    let verification = state
        .auth
        .verify(body.password.clone(), creds.password_hash.clone())
        .await?;
    let password_ok = matches!(verification, Verification::Valid { .. });
    let usable = creds.status == "active" && tenant_status == "active";
    if !(password_ok && usable) {
        let reason = if password_ok {
            "account_disabled"
        } else {
            "wrong_password"
        };
        record_failure(&state, tenant, user_id, &attempt, reason, &ids).await?;
        return Err(invalid_credentials());
    }
    let factor = second_factor(
        creds.totp_secret.as_ref().map(|s| s.as_slice()),
        creds.totp_last_step,
        body.totp.as_deref(),
        now.div_euclid(1_000_000),
    );
    if matches!(factor, SecondFactor::Missing) {
        // The password was right: ask for the second factor (no failure is counted).
        attempt.withdrawn(&state.store).await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "totp_required",
            "Enter the code from your authenticator app, or a recovery code.",
        ));
    }
    if matches!(factor, SecondFactor::Wrong) {
        record_failure(&state, tenant, user_id, &attempt, "wrong_totp", &ids).await?;
        return Err(invalid_credentials());
    }
    let rehash = match verification {
        Verification::Valid { needs_rehash: true } => Some(
            state
                .auth
                .hash(body.password.clone(), state.entropy.clone())
                .await?,
        ),
        _ => None,
    };
    let token = SecretToken::generate(state.entropy.as_ref(), "cfd_sess_");
    let absolute = state.auth.config.session_absolute_timeout_secs;
    let mut s = state.store.scope(tenant).await?;
    // The second factor is spent inside the transaction that creates the session, so the same
    // code cannot open two sessions.
    let spent = match factor {
        SecondFactor::Totp(step) => s.advance_totp_step(user_id, step).await?,
        SecondFactor::RecoveryCode(hash) => s.use_recovery_code(user_id, &hash).await?,
        _ => true,
    };
    if !spent {
        drop(s);
        record_failure(&state, tenant, user_id, &attempt, "wrong_totp", &ids).await?;
        return Err(invalid_credentials());
    }
    // Settles the reservation: the pair (and, from an address that is not known, the account)
    // is cleared; the address counter gets its reserved failure back. Counters before the audit
    // head, as on every path, so transactions take their locks in one order.
    attempt.succeeded_in(&mut s).await?;
    if matches!(factor, SecondFactor::RecoveryCode(_)) {
        s.audit(&ids.stamp(AuditEvent::new(
            Actor::User(user_id.to_string()),
            "2fa.recovery_code_used",
            format!("user:{user_id}"),
        )))
        .await?;
    }
    if let Some(hash) = &rehash {
        s.set_password_hash(user_id, hash, creds.must_change_password)
            .await?;
    }
    s.throttle_remember_ip(&attempt.keys.account, &attempt.keys.ip_index)
        .await?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect::<String>());
    let session_id = s
        .create_session(NewSession {
            user_id,
            token_hash: token.hash(),
            user_agent,
            ip: Some(ip.to_string()),
            expires_at: now + absolute * 1_000_000,
        })
        .await?;
    s.audit(&ids.stamp(
        AuditEvent::new(Actor::User(user_id.to_string()), "session.login", format!("session:{session_id}"))
            .with_details(json!({"rehashed": rehash.is_some(), "second_factor": !matches!(factor, SecondFactor::NotEnrolled)})),
    ))
    .await?;
    s.commit().await?;
    let body = json!({
        "session_id": session_id.to_string(),
        "user_id": user_id.to_string(),
        "tenant_id": tenant.to_string(),
        "csrf_token": cookies::csrf_token(token.as_str()),
        "expires_at": ts(now + absolute * 1_000_000),
        "must_change_password": creds.must_change_password,
        "two_factor_enrolment_required": require_2fa && creds.totp_secret.is_none(),
    });
    let mut res = (StatusCode::OK, Json(body)).into_response();
    if let Some(c) = cookies::set(SESSION_COOKIE, token.as_str(), absolute) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// The server's request id of a request (see [`crate::edge::request_id`]: a client's own
/// `X-Request-Id` never gets here; it is the correlation id of [`RequestIds`]).
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(crate::edge::request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Confirms a failed sign-in of a known account (already counted by its reservation) and audits
/// it, in one transaction.
async fn record_failure(
    state: &AppState,
    tenant: TenantId,
    user_id: UserId,
    attempt: &Attempt,
    reason: &str,
    ids: &RequestIds,
) -> Result<(), ApiError> {
    let mut s = state.store.scope(tenant).await?;
    audit_failure(
        &mut s,
        attempt,
        Actor::User(user_id.to_string()),
        "session.login_failed",
        format!("user:{user_id}"),
        reason,
        ids,
    )
    .await?;
    s.commit().await?;
    tracing::info!(event = "session.login_failed", tenant = %tenant, reason, "sign-in failed");
    Ok(())
}

/// In a tenant transaction: confirms a failed password check (already counted by its
/// reservation), audits it as `action` with its reason, and audits `session.locked` when this
/// failure brought the account to the cap.
pub(crate) async fn audit_failure(
    s: &mut confide_store::Scope<'_>,
    attempt: &Attempt,
    actor: Actor,
    action: &str,
    target: String,
    reason: &str,
    ids: &RequestIds,
) -> Result<(), ApiError> {
    attempt.failed_in(s).await?;
    s.audit(
        &ids.stamp(
            AuditEvent::new(actor.clone(), action, target.clone())
                .with_details(json!({"reason": reason, "known_ip": attempt.known_ip()})),
        ),
    )
    .await?;
    if attempt.reached_cap() {
        s.audit(
            &ids.stamp(
                AuditEvent::new(actor, "session.locked", target.clone())
                    .with_details(json!({"failures": throttle::HARD_CAP})),
            ),
        )
        .await?;
        tracing::warn!(event = "session.locked", target = %target, "account reached the failed password check cap");
    }
    Ok(())
}

/// `DELETE /api/v1/session`: sign out (the server-side session is deleted).
pub async fn logout(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Response, ApiError> {
    let Some((user_id, session_id)) = principal.user() else {
        return Err(crate::auth::forbidden());
    };
    let mut s = state.store.scope(principal.tenant).await?;
    s.end_session(session_id, Some(user_id)).await?;
    s.audit(&AuditEvent::new(
        principal.actor(),
        "session.logout",
        format!("session:{session_id}"),
    ))
    .await?;
    s.commit().await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = cookies::clear(SESSION_COOKIE) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// `GET /api/v1/sessions`: my sessions.
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some((user_id, current)) = principal.user() else {
        return Err(crate::auth::forbidden());
    };
    let mut s = state.store.read_scope(principal.tenant).await?;
    let sessions = s.list_sessions(user_id).await?;
    s.commit().await?;
    let items: Vec<_> = sessions
        .iter()
        .map(|x| {
            json!({
                "id": x.id.to_string(),
                "created_at": ts(x.created_at),
                "last_seen_at": ts(x.last_seen_at),
                "expires_at": ts(x.expires_at),
                "user_agent": x.user_agent,
                "ip": x.ip,
                "current": x.id == current,
            })
        })
        .collect();
    Ok(Json(json!({"sessions": items})))
}

/// `DELETE /api/v1/sessions/{id}`: end one of my sessions (another user's id is 404).
pub async fn end_one(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let Some((user_id, _)) = principal.user() else {
        return Err(crate::auth::forbidden());
    };
    let session_id: SessionId = id(&raw)?;
    let mut s = state.store.scope(principal.tenant).await?;
    if !s.end_session(session_id, Some(user_id)).await? {
        return Err(ApiError::not_found());
    }
    s.audit(&AuditEvent::new(
        principal.actor(),
        "session.revoked",
        format!("session:{session_id}"),
    ))
    .await?;
    s.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/sessions`: end all my other sessions.
pub async fn end_others(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some((user_id, current)) = principal.user() else {
        return Err(crate::auth::forbidden());
    };
    let mut s = state.store.scope(principal.tenant).await?;
    let n = s.end_user_sessions(user_id, Some(current)).await?;
    s.audit(
        &AuditEvent::new(
            principal.actor(),
            "session.revoked_others",
            format!("user:{user_id}"),
        )
        .with_details(json!({"ended": n})),
    )
    .await?;
    s.commit().await?;
    Ok(Json(json!({"ended": n})))
}
