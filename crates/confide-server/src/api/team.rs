//! Team members, roles and permissions: `/api/v1/users`, `/api/v1/roles`,
//! `/api/v1/permissions`. The use cases (and their rules: nobody grants what they do not hold,
//! the last owner stays) are `confide_app::team`.

use super::json::{JsonBody, ts};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_app::team::{Invite, MemberChange, Role, RoleInput, User};
use confide_core::permissions::Permission;
use serde_json::json;

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id.to_string(),
        "email": u.email.as_str(),
        "role_id": u.role_id.to_string(),
        "status": u.status,
        "two_factor_enabled": u.totp_enabled,
        "must_change_password": u.must_change_password,
        "created_at": ts(u.created_at),
        "updated_at": ts(u.updated_at),
    })
}

fn role_json(r: &Role) -> serde_json::Value {
    json!({
        "id": r.id.to_string(),
        "name": r.name,
        "permissions": r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "builtin": r.builtin,
        "created_at": ts(r.created_at),
    })
}

pub async fn list_users(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let users = state.list_users(&principal).await?;
    Ok(Json(
        json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/users` → 201 with the member and their one-time password (shown once).
pub async fn create_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<Invite>,
) -> Result<Response, ApiError> {
    let invited = state.invite_user(&principal, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "user": user_json(&invited.user),
            "one_time_password": invited.one_time_password,
        })),
    )
        .into_response())
}

/// `PATCH /api/v1/users/{id}`: role, status (active/disabled), password reset.
pub async fn update_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody<MemberChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let changed = state.update_user(&principal, &raw, body).await?;
    let mut out = json!({"user": user_json(&changed.user)});
    if let Some(pw) = changed.one_time_password {
        out["one_time_password"] = json!(pw);
    }
    Ok(Json(out))
}

/// `DELETE /api/v1/users/{id}`.
pub async fn delete_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_user(&principal, &raw).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/permissions`.
pub async fn permissions(_principal: Caller) -> Json<serde_json::Value> {
    let list: Vec<_> = Permission::ALL
        .iter()
        .map(|p| json!({"name": p.as_str(), "description": p.description()}))
        .collect();
    Json(json!({"permissions": list}))
}

pub async fn list_roles(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let roles = state.list_roles(&principal).await?;
    Ok(Json(
        json!({"roles": roles.iter().map(role_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/roles`: a custom role.
pub async fn create_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<RoleInput>,
) -> Result<Response, ApiError> {
    let role = state.create_role(&principal, body).await?;
    Ok((StatusCode::CREATED, Json(role_json(&role))).into_response())
}

/// `PATCH /api/v1/roles/{id}`.
pub async fn update_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody<RoleInput>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let role = state.update_role(&principal, &raw, body).await?;
    Ok(Json(role_json(&role)))
}

/// `DELETE /api/v1/roles/{id}`: only an unused custom role.
pub async fn delete_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_role(&principal, &raw).await?;
    Ok(StatusCode::NO_CONTENT)
}
