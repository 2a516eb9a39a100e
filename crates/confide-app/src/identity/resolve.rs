//! From a credential to a principal: an API key, a member's session or a support session (by
//! the token's hash), or a platform admin's session. Expired sessions are deleted when seen;
//! activity is recorded at most once a minute. A credential that does not check out is simply
//! no principal (`None`); the HTTP edge decides what to answer.

use crate::error::AppError;
use crate::principal::{Pending, PlatformPrincipal, Principal, PrincipalKind};
use crate::runtime::App;
use confide_crypto::token::hash_token;
use confide_store::StoreError;
use confide_store::principals::TokenOwner;

/// Activity is recorded at most this often per session or key (saves a write per request; the
/// idle timeout is exact to within this).
const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

impl App {
    /// The principal of an API key (bearer token).
    pub async fn principal_for_api_key(&self, token: &str) -> Result<Option<Principal>, AppError> {
        match self.store.resolve_token(&hash_token(token)).await? {
            Some(owner) if owner.kind == "api_key" => api_key_principal(self, &owner).await,
            _ => Ok(None),
        }
    }

    /// The principal of a session cookie (a member's session or a support session), and what
    /// the member still owes before the rest of the API opens.
    pub async fn principal_for_session(
        &self,
        token: &str,
    ) -> Result<Option<(Principal, Option<Pending>)>, AppError> {
        let hash = hash_token(token);
        let Some(owner) = self.store.resolve_token(&hash).await? else {
            return Ok(None);
        };
        match owner.kind.as_str() {
            "session" => session_principal(self, &owner, &hash).await,
            "support_session" => support_principal(self, &owner).await,
            _ => Ok(None),
        }
    }

    /// The platform admin of a platform session cookie.
    pub async fn platform_principal_for_session(
        &self,
        token: &str,
    ) -> Result<Option<PlatformPrincipal>, AppError> {
        platform_principal(self, &hash_token(token)).await
    }
}

fn not_found_is_none<T>(r: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn tenant_active(app: &App, owner: &TokenOwner) -> Result<(bool, bool), AppError> {
    let (status, require_2fa) = app.store.tenant_settings(owner.tenant).await?;
    Ok((status == "active", require_2fa))
}

async fn api_key_principal(app: &App, owner: &TokenOwner) -> Result<Option<Principal>, AppError> {
    let (active, _) = tenant_active(app, owner).await?;
    if !active {
        return Ok(None);
    }
    let Ok(key_id) = owner.subject_id.parse() else {
        return Ok(None);
    };
    let now = app.clock.now_micros();
    // Reads go through a read transaction; a write happens only to record use (once a minute).
    let mut s = app.store.read_scope(owner.tenant).await?;
    let Some(key) = not_found_is_none(s.api_keys().get(key_id).await)? else {
        return Ok(None);
    };
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    let role = s.roles().get(key.role_id).await?;
    s.commit().await?;
    if key
        .last_used_at
        .is_none_or(|t| now - t >= TOUCH_EVERY_MICROS)
    {
        let mut w = app.store.scope(owner.tenant).await?;
        w.api_keys().touch(key_id, now).await?;
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
    app: &App,
    owner: &TokenOwner,
    token_hash: &[u8; 32],
) -> Result<Option<(Principal, Option<Pending>)>, AppError> {
    let (active, require_2fa) = tenant_active(app, owner).await?;
    let Ok(session_id) = owner.subject_id.parse() else {
        return Ok(None);
    };
    let now = app.clock.now_micros();
    let idle = app.auth.config.session_idle_timeout_secs * 1_000_000;
    let mut s = app.store.read_scope(owner.tenant).await?;
    let Some(session) = not_found_is_none(s.sessions().get(session_id).await)? else {
        return Ok(None);
    };
    if !confide_crypto::token::constant_time_eq(&session.token_hash, token_hash) {
        return Ok(None);
    }
    let (user, _) = s.users().credentials(session.user_id).await?;
    let role = s.roles().get(user.role_id).await?;
    s.commit().await?;
    let expired = !active
        || now >= session.expires_at
        || now - session.last_seen_at > idle
        || user.status != "active";
    if expired || now - session.last_seen_at >= TOUCH_EVERY_MICROS {
        // Reads above need no write lock; only expiry and the once-a-minute touch write.
        let mut w = app.store.scope(owner.tenant).await?;
        if expired {
            // Expired (or its user or tenant disabled): the server-side state goes now.
            w.sessions().end(session_id, None).await?;
            w.commit().await?;
            return Ok(None);
        }
        w.sessions().touch(session_id, now).await?;
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
    app: &App,
    owner: &TokenOwner,
) -> Result<Option<(Principal, Option<Pending>)>, AppError> {
    let (active, _) = tenant_active(app, owner).await?;
    let Ok(session_id) = owner.subject_id.parse() else {
        return Ok(None);
    };
    let now = app.clock.now_micros();
    let idle = app.auth.config.session_idle_timeout_secs * 1_000_000;
    let mut s = app.store.scope(owner.tenant).await?;
    let Some(session) = not_found_is_none(s.support_session(session_id).await)? else {
        return Ok(None);
    };
    let grant = s.support_grant(&session.grant_id).await?;
    let admin_ok =
        matches!(app.store.platform_admin(&session.admin_id).await, Ok(a) if a.status == "active");
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
    let role = s.roles().get(grant.role_id).await?;
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
    app: &App,
    token_hash: &[u8; 32],
) -> Result<Option<PlatformPrincipal>, AppError> {
    let Some(session) = app.store.platform_session_by_hash(token_hash).await? else {
        return Ok(None);
    };
    let now = app.clock.now_micros();
    let idle = app.auth.config.session_idle_timeout_secs * 1_000_000;
    let admin = app.store.platform_admin(&session.admin_id).await?;
    if now >= session.expires_at || now - session.last_seen_at > idle || admin.status != "active" {
        app.store.end_platform_session(&session.id).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY_MICROS {
        app.store.touch_platform_session(&session.id, now).await?;
    }
    Ok(Some(PlatformPrincipal {
        admin_id: admin.id,
        session_id: session.id,
        must_change_password: admin.must_change_password,
    }))
}
