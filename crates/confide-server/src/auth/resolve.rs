//! The one place credentials are read: a middleware that turns the session cookie, the platform
//! cookie or a bearer API key into an [`AuthContext`] in the request's extensions. It never
//! refuses a request itself (the route's guard decides); a credential that does not check out
//! simply yields no principal. What a credential is worth is decided by
//! `confide_app::identity::resolve`.

use super::AuthContext;
use super::cookies;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Resolves credentials on `/api/` requests and the web pages (not on webhooks, static files or
/// health checks, which never act for a principal).
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !(req.uri().path().starts_with("/api/") || crate::web::is_page(req.uri().path())) {
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
        ctx.principal = state.principal_for_api_key(&token).await?;
        // A bearer request is never also a cookie request: no CSRF, no cookie identity.
        return Ok(ctx);
    }
    if let Some(token) = cookies::get(headers, super::SESSION_COOKIE)
        && let Some((principal, pending)) = state.principal_for_session(&token).await?
    {
        ctx.principal = Some(principal);
        ctx.pending = pending;
        ctx.csrf_expected = Some(cookies::csrf_token(&token));
    }
    if let Some(token) = cookies::get(headers, super::PLATFORM_COOKIE)
        && let Some(p) = state.platform_principal_for_session(&token).await?
    {
        ctx.platform = Some(p);
        ctx.platform_csrf_expected = Some(cookies::csrf_token(&token));
    }
    Ok(ctx)
}
