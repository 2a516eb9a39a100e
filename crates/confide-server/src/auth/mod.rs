//! Authentication and authorization: who is calling ([`Principal`]), how they proved it (a
//! session cookie with CSRF protection, or a bearer API key), and whether the route they call
//! allows them ([`guard`], driven by the route table in `api::table`).
//!
//! - [`resolve`]: one middleware turns a cookie or bearer token into an [`AuthContext`] in the
//!   request's extensions (nothing else reads credentials).
//! - [`guard`]: who may call a route ([`guard::Access`], declared per route in `api::table`) and
//!   its check.
//! - [`client`]: the client's address (the TCP peer, or what a trusted proxy says).
//!
//! Password hashing and the throttle's rules live in `confide_app::identity`.

pub mod client;
pub mod cookies;
pub mod guard;
pub mod resolve;

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
pub use confide_app::identity::AuthRuntime;
pub use confide_app::principal::{Pending, PlatformPrincipal, Principal, PrincipalKind};

/// The session cookie of tenant users (and support sessions).
pub const SESSION_COOKIE: &str = "__Host-confide_session";
/// The session cookie of platform admins.
pub const PLATFORM_COOKIE: &str = "__Host-confide_platform";
/// The header that carries the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";

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

/// The extractor of the tenant principal a route's handler acts for (401 when there is none).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<AuthContext>()
            .and_then(|c| c.principal.clone())
            .map(Caller)
            .ok_or_else(unauthenticated)
    }
}

/// The extractor of the platform admin a platform route acts for (401 when there is none).
#[derive(Debug, Clone)]
pub struct PlatformCaller(pub PlatformPrincipal);

impl<S: Send + Sync> FromRequestParts<S> for PlatformCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<AuthContext>()
            .and_then(|c| c.platform.clone())
            .map(PlatformCaller)
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
        Ok(state.proxies.client(peer, &parts.headers))
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

/// Where the request comes from, for use cases that audit or throttle it: the client's address
/// ([`client`]), its user agent, and the request's ids ([`crate::edge::request_id`]).
#[derive(Debug, Clone)]
pub struct RequestOrigin(pub confide_app::Origin);

impl FromRequestParts<crate::state::AppState> for RequestOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, ApiError> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let ids =
            crate::edge::request_id::RequestIds::from_parts(&parts.headers, &parts.extensions);
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
        Ok(RequestOrigin(confide_app::Origin {
            ip,
            user_agent,
            request_id: ids.request_id,
            correlation_id: ids.correlation_id,
        }))
    }
}
