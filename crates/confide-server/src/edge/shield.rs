//! The edge's refusals, before any handler: the CIDR lists, bans, per-address rate limits, load
//! shedding and the whole-request timeout ([`admit`]); the tenant's own CIDR lists and its rate
//! limits once the caller is known ([`per_tenant`]). [`admit`] also counts the failures that lead to bans, from the error code of
//! each response.

use super::bans::{self, Failure};
use super::rate::{self, Key};
use crate::auth::AuthContext;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confide_app::{AppError, Code};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

fn client_of(state: &AppState, req: &Request) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    state.proxies.client(peer, req.headers()).ip
}

fn limited(retry_after: u64) -> Response {
    ApiError::from(
        AppError::new(
            Code::RateLimited,
            "Too many requests; wait the number of seconds in Retry-After.",
        )
        .with_retry_after(retry_after),
    )
    .into_response()
}

/// The whole-request timeout of a route: imports and exports move whole contact books and
/// tenants, so they have their own, longer ones (`limits.import_timeout_secs`,
/// `limits.export_timeout_secs`); everything else has `limits.request_timeout_secs`.
pub fn request_timeout(
    limits: &confide_app::config::LimitsConfig,
    method: &axum::http::Method,
    path: &str,
) -> Duration {
    let secs = if *method == axum::http::Method::POST && path == "/api/v1/contacts/import" {
        limits.import_timeout_secs
    } else if path == "/api/v1/contacts/export"
        || path == "/api/v1/exports"
        || path.starts_with("/api/v1/exports/")
    {
        limits.export_timeout_secs
    } else {
        limits.request_timeout_secs
    };
    Duration::from_secs(secs)
}

/// Lists, bans, per-address limits, the request timeout; then counts the response's failure.
pub async fn admit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = client_of(&state, &req);
    let edge = &state.edge;
    if !edge.filter.admits(ip) {
        return ApiError::from(Code::Forbidden).into_response();
    }
    bans::refresh(&state).await;
    let now = state.clock.now();
    if let Some(left) = edge.bans.banned_for(ip, now) {
        return ApiError::from(
            AppError::new(
                Code::AddressBanned,
                "This address failed too often; wait the number of seconds in Retry-After.",
            )
            .with_retry_after(left),
        )
        .into_response();
    }
    let class = rate::class_of(req.method(), req.uri().path());
    if let Some(class) = class {
        let limit = class.per_address(&state.config.rate_limits);
        if let Err(wait) = edge.limiter.take(class, Key::Address(ip), limit, now) {
            return limited(wait);
        }
    }
    // Webhooks first: the others are shed rather than queued when too many are in flight.
    let Some(_admitted) = edge.shed.admit(class) else {
        return ApiError::from(
            AppError::new(Code::Busy, "The server is busy; retry shortly.").with_retry_after(1),
        )
        .into_response();
    };
    let timeout = request_timeout(&state.config.limits, req.method(), req.uri().path());
    let res = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(timeout_secs = timeout.as_secs(), "request timed out");
            return ApiError::unavailable().into_response();
        }
    };
    if let Some(failure) = res
        .extensions()
        .get::<ErrorCode>()
        .and_then(|c| Failure::of_code(c.0))
        && !state.proxies.trusts(ip)
    {
        bans::record(&state, ip, failure).await;
    }
    res
}

/// After authentication (runs inside `authenticate`): the tenant's own CIDR lists, then its
/// rate limits.
pub async fn per_tenant(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let tenant = req
        .extensions()
        .get::<AuthContext>()
        .and_then(|c| c.principal.as_ref())
        .map(|p| p.tenant);
    if let Some(tenant) = tenant
        && let Some(refused) =
            super::tenant_access::check(&state, tenant, client_of(&state, &req)).await
    {
        return refused;
    }
    let tenant = tenant.map(|t| t.to_string());
    if let (Some(tenant), Some(class)) = (tenant, rate::class_of(req.method(), req.uri().path())) {
        let limit = class.per_tenant(&state.config.rate_limits);
        if let Err(wait) =
            state
                .edge
                .limiter
                .take(class, Key::Tenant(tenant), limit, state.clock.now())
        {
            return limited(wait);
        }
    }
    next.run(req).await
}
