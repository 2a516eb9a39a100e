//! What every page shares: its response headers, who is looking ([`Viewer`]), the checks every
//! form POST passes ([`Form`]), and error pages.
//!
//! Pages set their own headers (the global layer in `edge::headers` only fills in what a
//! response lacks): a Content-Security-Policy that allows only Confide's own script, stylesheet
//! and images (`default-src 'none'`, no inline code), `Cache-Control: no-store`, and
//! `Referrer-Policy: same-origin` (a `no-referrer` page makes browsers send `Origin: null` on
//! its own form posts, which the same-origin check would then refuse).

use crate::auth::{AuthContext, Pending, Principal};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use confide_app::AppError;
use confide_core::permissions::Permission;
use confide_crypto::token::constant_time_eq;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The Content-Security-Policy of every page.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The name of the hidden CSRF field of every form.
pub const CSRF_FIELD: &str = "_csrf";

/// The headers every page carries.
pub fn page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A rendered page with its headers.
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => {
            let mut res = (status, body).into_response();
            page_headers(res.headers_mut());
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            plain_error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.")
        }
    }
}

/// A 303 to `to` (after a form POST, or to the sign-in page), with the page headers.
pub fn see_other(to: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    page_headers(res.headers_mut());
    res.headers_mut().remove(header::CONTENT_TYPE);
    res
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page that only says what went wrong (no layout: it serves signed-out visitors too).
pub fn plain_error(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = ErrorPage { title, message }
        .render()
        .unwrap_or_else(|_| message.to_string());
    let mut res = (status, body).into_response();
    page_headers(res.headers_mut());
    res
}

/// An application error as a page.
pub fn app_error(e: AppError) -> Response {
    let api = crate::error::ApiError::from(e);
    if api.status.is_server_error() {
        plain_error(api.status, "Something went wrong. Try again in a moment.")
    } else {
        plain_error(api.status, &api.message)
    }
}

/// Where a signed-out visitor may be sent back to after signing in: a path on this site only.
pub fn local_path(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')).then_some(next)
}

/// Who is looking at a page: a signed-in member (by session cookie: API keys do not open
/// pages) who owes nothing. A visitor without one is sent to sign in; a member who owes a
/// password change or a 2FA enrolment is sent to settle it.
#[derive(Clone)]
pub struct Viewer {
    pub principal: Principal,
    /// The CSRF token of the session, for the page's forms.
    pub csrf: String,
}

impl Viewer {
    pub fn can(&self, p: Permission) -> bool {
        self.principal.has(p)
    }
}

/// A signed-in member who may still owe a password change or 2FA enrolment (their account
/// pages).
#[derive(Clone)]
pub struct AccountViewer {
    pub viewer: Viewer,
    pub pending: Option<Pending>,
}

fn to_sign_in(parts: &Parts) -> Response {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if path == "/" || path == "/inbox" {
        return see_other("/sign-in");
    }
    let next: String = form_urlencoded_component(path);
    see_other(&format!("/sign-in?next={next}"))
}

/// Percent-encodes a query component.
pub fn form_urlencoded_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl FromRequestParts<AppState> for AccountViewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        let ctx = parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .unwrap_or_default();
        match (ctx.principal, ctx.csrf_expected) {
            (Some(principal), Some(csrf)) if principal.user().is_some() => Ok(AccountViewer {
                viewer: Viewer { principal, csrf },
                pending: ctx.pending,
            }),
            _ => Err(to_sign_in(parts)),
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let a = AccountViewer::from_request_parts(parts, state).await?;
        match a.pending {
            None => Ok(a.viewer),
            Some(Pending::PasswordChange) => Err(see_other("/account/password")),
            Some(Pending::TwoFactorEnrolment) => Err(see_other("/account/2fa")),
        }
    }
}

/// A form POST that passed the cross-site checks: the browser says it came from this site
/// (`Sec-Fetch-Site`, when sent, is `same-origin`; `Origin` or `Referer` names this host), and,
/// when the request carries a session, the form's `_csrf` field is that session's token.
/// Anything else is refused with 403 before the handler runs (so nothing changes).
pub struct Form<T>(pub T);

#[derive(Deserialize)]
struct CsrfField {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

fn cross_site() -> Response {
    plain_error(
        StatusCode::FORBIDDEN,
        "This form was not sent from a Confide page, so it was refused. Open the page again and resend it.",
    )
}

/// The same-origin part of the check (also used by sign-in, which has no session yet).
pub fn from_this_site(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    let fetch_site_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == "same-origin");
    fetch_site_ok && crate::auth::guard::same_origin(headers, uri, true)
}

fn read_form<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_urlencoded::from_bytes(bytes).ok()
}

fn unreadable() -> Response {
    plain_error(StatusCode::BAD_REQUEST, "The form could not be read.")
}

impl<T: DeserializeOwned> FromRequest<AppState> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        if !from_this_site(req.headers(), req.uri()) {
            return Err(cross_site());
        }
        // No session (or one that ended): nothing to act for; sign in again.
        let Some(expected) = req
            .extensions()
            .get::<AuthContext>()
            .and_then(|c| c.csrf_expected.clone())
        else {
            return Err(see_other("/sign-in"));
        };
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| unreadable())?;
        let given: CsrfField = read_form(&bytes).ok_or_else(unreadable)?;
        if !constant_time_eq(given.csrf.as_bytes(), expected.as_bytes()) {
            return Err(cross_site());
        }
        read_form(&bytes).map(Form).ok_or_else(unreadable)
    }
}

/// A form POST of a signed-out visitor (sign-in): only the same-origin check (a login CSRF
/// would need the victim's password; the session cookie is `SameSite=Strict` anyway).
pub struct PublicForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for PublicForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        if !from_this_site(req.headers(), req.uri()) {
            return Err(cross_site());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| unreadable())?;
        read_form(&bytes).map(PublicForm).ok_or_else(unreadable)
    }
}
