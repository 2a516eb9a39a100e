//! Sign-in and sessions: `POST/DELETE /api/v1/session`, `GET/DELETE /api/v1/sessions`,
//! `DELETE /api/v1/sessions/{id}`. The use cases (throttled, audited, answering unknown emails
//! and wrong passwords alike) are `confide_app::identity::session`; this sets and clears the
//! cookie.

use super::json::{JsonBody, ts};
use crate::auth::{Caller, RequestOrigin, SESSION_COOKIE, cookies};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confide_app::identity::session::Credentials;
use serde_json::json;

/// `POST /api/v1/session` → the session (and its cookie).
pub async fn login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let signed = state.sign_in(body, &origin).await?;
    let body = json!({
        "session_id": signed.session_id.to_string(),
        "user_id": signed.user_id.to_string(),
        "tenant_id": signed.tenant.to_string(),
        "csrf_token": cookies::csrf_token(&signed.token),
        "expires_at": ts(signed.expires_at),
        "must_change_password": signed.must_change_password,
        "two_factor_enrolment_required": signed.two_factor_enrolment_required,
    });
    let mut res = (StatusCode::OK, Json(body)).into_response();
    if let Some(c) = cookies::set(SESSION_COOKIE, &signed.token, signed.lifetime_secs) {
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

/// `DELETE /api/v1/session`: sign out (the server-side session is deleted).
pub async fn logout(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Response, ApiError> {
    state.sign_out(&principal).await?;
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
    let (sessions, current) = state.my_sessions(&principal).await?;
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
    state.end_my_session(&principal, &raw).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/sessions`: end all my other sessions.
pub async fn end_others(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let n = state.end_my_other_sessions(&principal).await?;
    Ok(Json(json!({"ended": n})))
}
