//! Authentication and authorization: who is calling ([`Principal`]), how they proved it (a
//! session cookie with CSRF protection, or a bearer API key), and whether the route they call
//! allows them ([`guard`], driven by the route table in `api::table`).
//!
//! - [`resolve`]: one middleware turns a cookie or bearer token into an [`AuthContext`] in the
//!   request's extensions (nothing else reads credentials).
//! - [`guard`]: the per-route check of a declared [`crate::api::table::Access`].
//! - [`throttle`]: throttling of password checks (per account, per address, per pair; growing
//!   delays; cap), reserved atomically before the check.
//! - [`client`]: the client's address (the TCP peer, or what a trusted proxy says).
//! - [`passwords`]: hashing and verification on a bounded pool, so a login flood cannot starve
//!   the rest of the server.

pub mod client;
pub mod cookies;
pub mod guard;
pub mod passwords;
pub mod resolve;
pub mod sudo;
pub mod throttle;

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use confide_core::audit::Actor;
use confide_core::ids::{ApiKeyId, RoleId, SessionId, TenantId, UserId};
use confide_core::permissions::Permission;
use std::collections::BTreeSet;

pub use passwords::AuthRuntime;

/// The session cookie of tenant users (and support sessions).
pub const SESSION_COOKIE: &str = "__Host-confide_session";
/// The session cookie of platform admins.
pub const PLATFORM_COOKIE: &str = "__Host-confide_platform";
/// The header that carries the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a principal is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A team member with a session.
    User {
        user_id: UserId,
        session_id: SessionId,
    },
    /// An integration with an API key.
    ApiKey { key_id: ApiKeyId },
    /// A platform admin acting in the tenant under a support grant.
    Support {
        admin_id: String,
        grant_id: String,
        session_id: SessionId,
    },
}

/// Who is calling. The tenant of every operation comes from here and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub kind: PrincipalKind,
    pub role_id: RoleId,
    pub permissions: BTreeSet<Permission>,
}

impl Principal {
    /// The audit actor for what this principal does.
    pub fn actor(&self) -> Actor {
        match &self.kind {
            PrincipalKind::User { user_id, .. } => Actor::User(user_id.to_string()),
            PrincipalKind::ApiKey { key_id } => Actor::ApiKey(key_id.to_string()),
            PrincipalKind::Support { admin_id, .. } => {
                Actor::User(format!("platform-admin:{admin_id}"))
            }
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// The user, for routes about one's own account.
    pub fn user(&self) -> Option<(UserId, SessionId)> {
        match &self.kind {
            PrincipalKind::User {
                user_id,
                session_id,
            } => Some((*user_id, *session_id)),
            _ => None,
        }
    }
}

/// Something a signed-in user still owes before the rest of the API opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// The one-time (or reset) password must be changed.
    PasswordChange,
    /// The tenant requires 2FA and the user has not enrolled.
    TwoFactorEnrolment,
}

/// A platform admin signed in with the platform cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformPrincipal {
    pub admin_id: String,
    pub session_id: String,
    pub must_change_password: bool,
}

/// What the resolver found on a request, in its extensions.
#[derive(Debug, Clone, Default)]
pub struct AuthContext {
    pub principal: Option<Principal>,
    /// Set when the principal came from a cookie: the CSRF token the request must carry.
    pub csrf_expected: Option<String>,
    pub pending: Option<Pending>,
    pub platform: Option<PlatformPrincipal>,
    /// CSRF token expected for the platform cookie.
    pub platform_csrf_expected: Option<String>,
}

fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Sign in, or send an API key as a bearer token.",
    )
}

pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "You do not have permission to do this.",
    )
}

pub(crate) fn unauthenticated_error() -> ApiError {
    unauthenticated()
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<AuthContext>()
            .and_then(|c| c.principal.clone())
            .ok_or_else(unauthenticated)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PlatformPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<AuthContext>()
            .and_then(|c| c.platform.clone())
            .ok_or_else(unauthenticated)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .unwrap_or_default())
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the address it
/// forwarded for (see [`client`]). Computed here and nowhere else.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<crate::state::AppState> for client::Client {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        Ok(state.auth.proxies.client(peer, &parts.headers))
    }
}

impl FromRequestParts<crate::state::AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, ApiError> {
        let c = client::Client::from_request_parts(parts, state).await?;
        Ok(ClientIp(c.ip))
    }
}
