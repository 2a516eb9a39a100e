//! The per-route check of a declared [`Access`], run before the handler. Handlers never check
//! permissions themselves; they pass the [`super::Principal`] this let through to a use case,
//! which checks its own permission again (so the CLI and pages cannot skip it).
//!
//! Order: no principal → 401 `unauthenticated`; a cookie request that changes state without a
//! matching `Origin`/`Referer` and CSRF token → 403 `csrf`; an account that owes a password
//! change or a 2FA enrolment → 403 `password_change_required` / `two_factor_required` (except on
//! [`Access::Account`] routes, which exist to settle exactly that); a missing permission → 403
//! `forbidden`.

use super::{AuthContext, Pending};
use crate::error::ApiError;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confide_core::permissions::Permission;
use confide_crypto::token::constant_time_eq;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in). Cross-origin state changes are still refused.
    Public,
    /// A signed-in user, even one who still owes a password change or 2FA enrolment (their own
    /// account: me, password, 2FA, sign-out). API keys are refused (403).
    Account,
    /// Any signed-in principal of the tenant (user, API key, support session).
    Authenticated,
    /// A principal holding this permission.
    Perm(Permission),
    /// A platform admin (separate identity and cookie); tenant principals get 403.
    Platform,
    /// A platform admin who may still owe a password change.
    PlatformAccount,
}

pub async fn check(access: Access, req: Request, next: Next) -> Response {
    match decide(access, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn decide(access: Access, req: &Request) -> Result<(), ApiError> {
    let ctx = req
        .extensions()
        .get::<AuthContext>()
        .cloned()
        .unwrap_or_default();
    match access {
        Access::Public => {
            if changes_state(req.method()) && !origin_matches(req, false) {
                return Err(csrf_error());
            }
            Ok(())
        }
        Access::Platform | Access::PlatformAccount => {
            let Some(admin) = &ctx.platform else {
                return Err(if ctx.principal.is_some() {
                    super::forbidden()
                } else {
                    super::unauthenticated_error()
                });
            };
            csrf(req, ctx.platform_csrf_expected.as_deref())?;
            if admin.must_change_password && access == Access::Platform {
                return Err(pending_error(Pending::PasswordChange));
            }
            Ok(())
        }
        Access::Account | Access::Authenticated | Access::Perm(_) => {
            let Some(principal) = &ctx.principal else {
                return Err(super::unauthenticated_error());
            };
            if let Some(expected) = ctx.csrf_expected.as_deref() {
                csrf(req, Some(expected))?;
            }
            match access {
                Access::Account if principal.user().is_none() => {
                    return Err(super::forbidden());
                }
                Access::Authenticated => {
                    if let Some(p) = ctx.pending {
                        return Err(pending_error(p));
                    }
                }
                Access::Perm(p) => {
                    if let Some(p) = ctx.pending {
                        return Err(pending_error(p));
                    }
                    if !principal.has(p) {
                        return Err(super::forbidden());
                    }
                }
                _ => {}
            }
            Ok(())
        }
    }
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn csrf_error() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "Cross-site request refused: send the Origin header and the x-csrf-token of your session.",
    )
}

fn pending_error(p: Pending) -> ApiError {
    match p {
        Pending::PasswordChange => ApiError::new(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "Change your password first (POST /api/v1/me/password).",
        ),
        Pending::TwoFactorEnrolment => ApiError::new(
            StatusCode::FORBIDDEN,
            "two_factor_required",
            "This organisation requires two-factor authentication: enrol first (POST /api/v1/me/2fa/enroll).",
        ),
    }
}

/// The host part of an origin or URL (`https://a.example:8443/x` → `a.example:8443`).
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then_some(host)
}

/// Whether the request's `Origin` (or, lacking it, `Referer`) names the host it was sent to.
/// With `required` false, a request with neither header passes (non-browser clients).
fn origin_matches(req: &Request, required: bool) -> bool {
    same_origin(req.headers(), req.uri(), required)
}

/// Whether the `Origin` (or, lacking it, `Referer`) of a request with these headers names the
/// host it was sent to (the check of [`origin_matches`], shared with the web pages' forms).
pub(crate) fn same_origin(
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
    required: bool,
) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (source, host) {
        (None, _) => !required,
        (Some(src), Some(host)) => host_of(src).is_some_and(|h| h.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// CSRF for a cookie-authenticated request: state changes need a same-origin `Origin`/`Referer`
/// and the session's token in `x-csrf-token`.
fn csrf(req: &Request, expected: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    if !changes_state(req.method()) {
        return Ok(());
    }
    if !origin_matches(req, true) {
        return Err(csrf_error());
    }
    let given = req
        .headers()
        .get(super::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(csrf_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn host_of_origin_and_referer() {
        assert_eq!(host_of("https://a.example"), Some("a.example"));
        assert_eq!(
            host_of("https://a.example:8443/x?y"),
            Some("a.example:8443")
        );
        assert_eq!(host_of("null"), None);
        assert_eq!(host_of("https://"), None);
    }
}
