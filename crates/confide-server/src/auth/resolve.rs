//! The one place credentials are read: a middleware that turns the session cookie, the platform
//! cookie or a bearer API key into an [`AuthContext`] in the request's extensions. It never
//! refuses a request itself (the route's guard decides); a credential that does not check out
//! simply yields no principal. Expired sessions are deleted when seen.

use super::cookies;
use super::{AuthContext, Pending, PlatformPrincipal, Principal, PrincipalKind};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confide_crypto::token::hash_token;
use confide_store::StoreError;
use confide_store::sessions::TokenOwner;

/// Activity is recorded at most this often per session or key (saves a write per request; the
/// idle timeout is exact to within this).
const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

/// Resolves credentials on `/api/` requests.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    match resolve(&state, req.headers()).await {
        Ok(ctx) => {
            req.extensions_mut().insert(ctx);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn resolve(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<AuthContext, ApiError> {
    let mut ctx = AuthContext::default();
    if let Some(token) = bearer(headers) {
        if let Some(owner) = state.store.resolve_token(&hash_token(&token)).await?
            && owner.kind == "api_key"
        {
            ctx.principal = api_key_principal(state, &owner).await?;
        }
        // A bearer request is never also a cookie request: no CSRF, no cookie identity.
        return Ok(ctx);
    }
    if let Some(token) = cookies::get(headers, super::SESSION_COOKIE)
        && let Some(owner) = state.store.resolve_token(&hash_token(&token)).await?
    {
        let found = match owner.kind.as_str() {
            "session" => session_principal(state, &owner, &hash_token(&token)).await?,
            "support_session" => support_principal(state, &owner).await?,
            _ => None,
        };
        if let Some((principal, pending)) = found {
            ctx.principal = Some(principal);
            ctx.pending = pending;
            ctx.csrf_expected = Some(cookies::csrf_token(&token));
        }
    }
    if let Some(token) = cookies::get(headers, super::PLATFORM_COOKIE)
        && let Some(p) = platform_principal(state, &hash_token(&token)).await?
    {
        ctx.platform = Some(p);
        ctx.platform_csrf_expected = Some(cookies::csrf_token(&token));
    }
    Ok(ctx)
}

fn not_found_is_none<T>(r: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn tenant_active(state: &AppState, owner: &TokenOwner) -> Result<(bool, bool), ApiError> {
    let (status, require_2fa) = state.store.tenant_settings(owner.tenant).await?;
    Ok((status == "active", require_2fa))
}

async fn api_key_principal(
    state: &AppState,
    owner: &TokenOwner,
) -> Result<Option<Principal>, ApiError> {
    let (active, _) = tenant_active(state, owner).await?;
    if !active {
        return Ok(None);
    }
    let Ok(key_id) = owner.subject_id.parse() else {
        return Ok(None);
    };
    let now = state.clock.now_micros();
    // Reads go through a read transaction; a write happens only to record use (once a minute).
    let mut s = state.store.read_scope(owner.tenant).await?;
    let Some(key) = not_found_is_none(s.api_key(key_id).await)? else {
        return Ok(None);
    };
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    let role = s.role(key.role_id).await?;
    s.commit().await?;
    if key
        .last_used_at
        .is_none_or(|t| now - t >= TOUCH_EVERY_MICROS)
    {
        let mut w = state.store.scope(owner.tenant).await?;
        w.touch_api_key(key_id, now).await?;
        w.commit().await?;
    }
    Ok(Some(Principal {
        tenant: owner.tenant,
        kind: PrincipalKind::ApiKey { key_id },
        role_id: role.id,
        permissions: role.permissions,
    }))
}

async fn session_principal(
    state: &AppState,
    owner: &TokenOwner,
    token_hash: &[u8; 32],
) -> Result<Option<(Principal, Option<Pending>)>, ApiError> {
    let (active, require_2fa) = tenant_active(state, owner).await?;
    let Ok(session_id) = owner.subject_id.parse() else {
        return Ok(None);
    };
    let now = state.clock.now_micros();
    let idle = state.auth.config.session_idle_timeout_secs * 1_000_000;
    let mut s = state.store.read_scope(owner.tenant).await?;
    let Some(session) = not_found_is_none(s.session(session_id).await)? else {
        return Ok(None);
    };
    if !confide_crypto::token::constant_time_eq(&session.token_hash, token_hash) {
        return Ok(None);
    }
    let (user, _) = s.credentials(session.user_id).await?;
    let role = s.role(user.role_id).await?;
    s.commit().await?;
    let expired = !active
        || now >= session.expires_at
        || now - session.last_seen_at > idle
        || user.status != "active";
    if expired || now - session.last_seen_at >= TOUCH_EVERY_MICROS {
        // Reads above need no write lock; only expiry and the once-a-minute touch write.
        let mut w = state.store.scope(owner.tenant).await?;
        if expired {
            // Expired (or its user or tenant disabled): the server-side state goes now.
            w.end_session(session_id, None).await?;
            w.commit().await?;
            return Ok(None);
        }
        w.touch_session(session_id, now).await?;
        w.commit().await?;
    }
    let pending = if user.must_change_password {
        Some(Pending::PasswordChange)
    } else if require_2fa && !user.totp_enabled {
        Some(Pending::TwoFactorEnrolment)
    } else {
        None
    };
    Ok(Some((
        Principal {
            tenant: owner.tenant,
            kind: PrincipalKind::User {
                user_id: user.id,
                session_id,
            },
            role_id: role.id,
            permissions: role.permissions,
        },
        pending,
    )))
}

async fn support_principal(
    state: &AppState,
    owner: &TokenOwner,
) -> Result<Option<(Principal, Option<Pending>)>, ApiError> {
    let (active, _) = tenant_active(state, owner).await?;
    let Ok(session_id) = owner.subject_id.parse() else {
        return Ok(None);
    };
    let now = state.clock.now_micros();
    let idle = state.auth.config.session_idle_timeout_secs * 1_000_000;
    let mut s = state.store.scope(owner.tenant).await?;
    let Some(session) = not_found_is_none(s.support_session(session_id).await)? else {
        return Ok(None);
    };
    let grant = s.support_grant(&session.grant_id).await?;
    let admin_ok = matches!(state.store.platform_admin(&session.admin_id).await, Ok(a) if a.status == "active");
    if !active
        || !admin_ok
        || now >= session.expires_at
        || now - session.last_seen_at > idle
        || grant.revoked_at.is_some()
        || now >= grant.expires_at
    {
        s.end_support_session(session_id).await?;
        s.commit().await?;
        return Ok(None);
    }
    let role = s.role(grant.role_id).await?;
    s.commit().await?;
    Ok(Some((
        Principal {
            tenant: owner.tenant,
            kind: PrincipalKind::Support {
                admin_id: session.admin_id,
                grant_id: grant.id,
                session_id,
            },
            role_id: role.id,
            permissions: role.permissions,
        },
        None,
    )))
}

async fn platform_principal(
    state: &AppState,
    token_hash: &[u8; 32],
) -> Result<Option<PlatformPrincipal>, ApiError> {
    let Some(session) = state.store.platform_session_by_hash(token_hash).await? else {
        return Ok(None);
    };
    let now = state.clock.now_micros();
    let idle = state.auth.config.session_idle_timeout_secs * 1_000_000;
    let admin = state.store.platform_admin(&session.admin_id).await?;
    if now >= session.expires_at || now - session.last_seen_at > idle || admin.status != "active" {
        state.store.end_platform_session(&session.id).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY_MICROS {
        state.store.touch_platform_session(&session.id, now).await?;
    }
    Ok(Some(PlatformPrincipal {
        admin_id: admin.id,
        session_id: session.id,
        must_change_password: admin.must_change_password,
    }))
}
