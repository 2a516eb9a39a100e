//! Signing in and one's own account: the sign-in page (with the second factor when enrolled),
//! sign-out, the forced first-sign-in password change, 2FA enrolment, my sessions. The use cases
//! are `confide_app::identity` (the same as `/api/v1/session` and `/api/v1/me/...`).

use super::page::{self, AccountViewer, Form, PublicForm, Viewer, render, see_other};
use super::{Chrome, format};
use crate::auth::{Pending, RequestOrigin, SESSION_COOKIE, cookies};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use confide_app::identity::account::{Identity, PasswordChange};
use confide_app::identity::session::Credentials;
use confide_app::{AppError, Code};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "web/sign_in.html")]
struct SignInPage {
    email: String,
    /// Set when the password was right and the second factor is asked for.
    password: Option<String>,
    next: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SignInQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    signed_out: Option<String>,
}

/// `GET /sign-in`.
pub async fn sign_in_page(Query(q): Query<SignInQuery>) -> Response {
    render(
        StatusCode::OK,
        &SignInPage {
            email: String::new(),
            password: None,
            next: page::local_path(&q.next).unwrap_or("").to_string(),
            error: None,
            notice: q.signed_out.map(|_| "You are signed out.".to_string()),
        },
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    next: String,
}

/// `POST /sign-in`: `sign_in` (throttled and audited); sets the session cookie and goes on to the
/// page asked for, or to settle a pending password change or 2FA enrolment first.
pub async fn sign_in(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    PublicForm(f): PublicForm<SignInForm>,
) -> Response {
    let code = f
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let asked_code = code.is_some();
    let creds = Credentials {
        email: f.email.clone(),
        password: f.password.clone(),
        totp: code,
        tenant_id: None,
    };
    let next = page::local_path(&f.next).unwrap_or("/inbox").to_string();
    match state.sign_in(creds, &origin).await {
        Ok(signed) => {
            let to = if signed.must_change_password {
                "/account/password".to_string()
            } else if signed.two_factor_enrolment_required {
                "/account/2fa".to_string()
            } else {
                next
            };
            let mut res = see_other(&to);
            if let Some(c) = cookies::set(SESSION_COOKIE, &signed.token, signed.lifetime_secs) {
                res.headers_mut().append(header::SET_COOKIE, c);
            }
            res
        }
        Err(e) => {
            let (status, password, error) = match e.code {
                Code::TotpRequired => (
                    StatusCode::OK,
                    Some(f.password),
                    asked_code.then(|| "That code is not right. Try the current one.".to_string()),
                ),
                Code::InvalidCredentials if asked_code => (
                    StatusCode::UNAUTHORIZED,
                    Some(f.password),
                    Some("That code is not right. Try the current one.".to_string()),
                ),
                Code::InvalidCredentials => (
                    StatusCode::UNAUTHORIZED,
                    None,
                    Some("The email or password is not right.".to_string()),
                ),
                _ => {
                    let api = crate::error::ApiError::from(e);
                    let msg = if api.status.is_server_error() {
                        "Something went wrong. Try again in a moment.".to_string()
                    } else {
                        api.message
                    };
                    (api.status, None, Some(msg))
                }
            };
            render(
                status,
                &SignInPage {
                    email: f.email,
                    password,
                    next: f.next,
                    error,
                    notice: None,
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

/// `POST /sign-out`: the server-side session ends and the cookie is cleared.
pub async fn sign_out(
    State(state): State<AppState>,
    a: AccountViewer,
    Form(_): Form<Empty>,
) -> Response {
    if let Err(e) = state.sign_out(&a.viewer.principal).await {
        return page::app_error(e);
    }
    let mut res = see_other("/sign-in?signed_out=1");
    if let Some(c) = cookies::clear(SESSION_COOKIE) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Template)]
#[template(path = "web/password.html")]
struct PasswordPage {
    csrf: String,
    forced: bool,
    error: Option<String>,
}

/// `GET /account/password`: change my password (required after the first sign-in).
pub async fn password_page(a: AccountViewer) -> Response {
    render(
        StatusCode::OK,
        &PasswordPage {
            csrf: a.viewer.csrf,
            forced: a.pending == Some(Pending::PasswordChange),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `POST /account/password`: `change_my_password` (my other sessions end).
pub async fn change_password(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    a: AccountViewer,
    Form(f): Form<PasswordForm>,
) -> Response {
    let forced = a.pending == Some(Pending::PasswordChange);
    let again = |status, error: String| {
        render(
            status,
            &PasswordPage {
                csrf: a.viewer.csrf.clone(),
                forced,
                error: Some(error),
            },
        )
    };
    if f.new_password != f.confirm_password {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The two new passwords are not the same.".into(),
        );
    }
    let change = PasswordChange {
        current_password: f.current_password,
        new_password: f.new_password,
    };
    match state
        .change_my_password(&a.viewer.principal, change, &origin)
        .await
    {
        Ok(()) => see_other("/inbox"),
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            again(api.status, api.message)
        }
    }
}

pub struct SessionRow {
    id: String,
    device: String,
    ip: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "web/account.html")]
struct AccountPage {
    chrome: Chrome,
    email: String,
    role: String,
    two_factor: bool,
    sessions: Vec<SessionRow>,
}

fn device(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| ua.contains(*b))
        .map(|b| match *b {
            "Edg/" => "Edge",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        });
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("Mac OS", "macOS"),
        ("Windows", "Windows"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => o.to_string(),
        (None, None) if ua.is_empty() => "Unknown device".into(),
        (None, None) => ua.chars().take(60).collect(),
    }
}

/// `GET /account`: who I am, my second factor, my sessions.
pub async fn account_page(State(state): State<AppState>, v: Viewer) -> Response {
    let me = match state.me(&v.principal).await {
        Ok(m) => m,
        Err(e) => return page::app_error(e),
    };
    let (sessions, current) = match state.my_sessions(&v.principal).await {
        Ok(s) => s,
        Err(e) => return page::app_error(e),
    };
    let (email, two_factor) = match &me.identity {
        Identity::User(u) => (u.email.as_str().to_string(), u.totp_enabled),
        _ => (String::new(), false),
    };
    let now = state.clock.now_micros();
    let sessions = sessions
        .iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            device: device(s.user_agent.as_deref()),
            ip: s.ip.clone().unwrap_or_default(),
            last_seen: format::short(s.last_seen_at, now),
            current: s.id == current,
        })
        .collect();
    render(
        StatusCode::OK,
        &AccountPage {
            chrome: Chrome::new(&v, "/account", "My account"),
            email,
            role: me.role.name,
            two_factor,
            sessions,
        },
    )
}

#[derive(Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    session: String,
}

/// `POST /account/sessions/end`: end one of my other sessions (`all` ends every other one).
pub async fn end_session(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<SessionForm>,
) -> Response {
    let r = if f.session == "all" {
        state.end_my_other_sessions(&v.principal).await.map(|_| ())
    } else {
        state.end_my_session(&v.principal, &f.session).await
    };
    match r {
        Ok(()) => see_other("/account"),
        Err(e) => page::app_error(e),
    }
}

#[derive(Template)]
#[template(path = "web/two_factor.html")]
struct TwoFactorPage {
    csrf: String,
    required: bool,
    enabled: bool,
    /// After the password: the secret to type into the authenticator app.
    secret: Option<String>,
    uri: Option<String>,
    /// After the code: shown once.
    recovery_codes: Vec<String>,
    error: Option<String>,
}

impl TwoFactorPage {
    fn new(a: &AccountViewer) -> Self {
        TwoFactorPage {
            csrf: a.viewer.csrf.clone(),
            required: a.pending == Some(Pending::TwoFactorEnrolment),
            enabled: false,
            secret: None,
            uri: None,
            recovery_codes: vec![],
            error: None,
        }
    }
}

async fn two_factor_enabled(state: &AppState, a: &AccountViewer) -> Result<bool, AppError> {
    Ok(match state.me(&a.viewer.principal).await?.identity {
        Identity::User(u) => u.totp_enabled,
        _ => false,
    })
}

/// `GET /account/2fa`.
pub async fn two_factor_page(State(state): State<AppState>, a: AccountViewer) -> Response {
    if a.pending == Some(Pending::PasswordChange) {
        return see_other("/account/password");
    }
    let mut p = TwoFactorPage::new(&a);
    p.enabled = match two_factor_enabled(&state, &a).await {
        Ok(e) => e,
        Err(e) => return page::app_error(e),
    };
    render(StatusCode::OK, &p)
}

#[derive(Deserialize)]
pub struct PasswordOnlyForm {
    #[serde(default)]
    password: String,
}

/// `POST /account/2fa`: `enrol_2fa` with my password; shows the new secret.
pub async fn enrol(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    a: AccountViewer,
    Form(f): Form<PasswordOnlyForm>,
) -> Response {
    let mut p = TwoFactorPage::new(&a);
    match state
        .enrol_2fa(&a.viewer.principal, &f.password, &origin)
        .await
    {
        Ok(e) => {
            let grouped: Vec<String> = e
                .secret_base32
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            p.secret = Some(grouped.join(" "));
            p.uri = Some(e.otpauth_uri);
            render(StatusCode::OK, &p)
        }
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            p.error = Some(api.message);
            render(api.status, &p)
        }
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    uri: String,
}

/// `POST /account/2fa/confirm`: `confirm_2fa`; shows the recovery codes, once.
pub async fn confirm(
    State(state): State<AppState>,
    a: AccountViewer,
    Form(f): Form<CodeForm>,
) -> Response {
    let mut p = TwoFactorPage::new(&a);
    match state.confirm_2fa(&a.viewer.principal, f.code.trim()).await {
        Ok(codes) => {
            p.enabled = true;
            p.required = false;
            p.recovery_codes = codes;
            render(StatusCode::OK, &p)
        }
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            p.error = Some(api.message);
            p.secret = Some(f.secret).filter(|s| !s.is_empty());
            p.uri = Some(f.uri).filter(|s| !s.is_empty());
            render(api.status, &p)
        }
    }
}
