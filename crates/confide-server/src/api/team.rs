//! Team members, roles and permissions. Nobody grants a permission they do not hold (a role
//! they could not have made, or a user put in such a role); the last active owner stays.

use super::json::{JsonBody, id, ts, unprocessable};
use crate::auth::{Caller, Principal, sudo};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_core::audit::AuditEvent;
use confide_core::email::Email;
use confide_core::ids::{RoleId, UserId};
use confide_core::permissions::Permission;
use confide_store::roles::{Role, RoleChange};
use confide_store::users::{NewUser, User, UserChange};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeSet;

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

/// Refuses a role whose permissions the caller does not all hold.
pub fn may_grant(principal: &Principal, perms: &BTreeSet<Permission>) -> Result<(), ApiError> {
    if perms.is_subset(&principal.permissions) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "You cannot grant permissions you do not hold.",
        ))
    }
}

/// A random one-time password (about 100 bits), for invitations and resets.
pub fn one_time_password(state: &AppState) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let b: [u8; 1] = confide_core::entropy::random_array(state.entropy.as_ref());
        if usize::from(b[0]) < 256 - 256 % ALPHABET.len() {
            out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
        }
    }
    out
}

pub async fn list_users(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut s = state.store.read_scope(principal.tenant).await?;
    let users = s.list_users().await?;
    s.commit().await?;
    Ok(Json(
        json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
pub struct Invite {
    pub email: String,
    pub role_id: String,
}

/// `POST /api/v1/users`: adds a member with a one-time password (shown once) they must change.
/// The answer is the same whether or not the address belongs to a member of another tenant: one
/// person may be a member of several tenants (each membership its own account) and names the
/// tenant at sign-in.
pub async fn create_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<Invite>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&body.email)
        .map_err(|_| unprocessable("invalid_email", "Not a valid email address."))?;
    let role_id: RoleId = body
        .role_id
        .parse()
        .map_err(|_| unprocessable("invalid_role", "No such role."))?;
    let password = one_time_password(&state);
    let hash = state
        .auth
        .hash(password.clone(), state.entropy.clone())
        .await?;
    let mut s = state.store.scope(principal.tenant).await?;
    let role = match s.role(role_id).await {
        Ok(r) => r,
        Err(confide_store::StoreError::NotFound) => {
            return Err(unprocessable("invalid_role", "No such role."));
        }
        Err(e) => return Err(e.into()),
    };
    may_grant(&principal, &role.permissions)?;
    if sudo::is_powerful(&role.permissions) {
        drop(s);
        sudo::human_recently_signed_in(&state, &principal).await?;
        s = state.store.scope(principal.tenant).await?;
    }
    let user_id = s
        .insert_user(
            NewUser {
                email,
                role_id,
                password_hash: hash,
                must_change_password: true,
            },
            principal.actor(),
        )
        .await?;
    let user = s.user(user_id).await?;
    s.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": user_json(&user), "one_time_password": password})),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct UserPatch {
    #[serde(default)]
    pub role_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Sets a new one-time password (returned once) and clears the sign-in lock.
    #[serde(default)]
    pub reset_password: bool,
}

/// `PATCH /api/v1/users/{id}`: role, status (active/disabled), password reset.
pub async fn update_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody<UserPatch>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user_id: UserId = id(&raw)?;
    if let Some(st) = &body.status
        && st != "active"
        && st != "disabled"
    {
        return Err(unprocessable(
            "invalid_status",
            "status is active or disabled.",
        ));
    }
    let new_role: Option<RoleId> = body
        .role_id
        .as_deref()
        .map(|r| {
            r.parse()
                .map_err(|_| unprocessable("invalid_role", "No such role."))
        })
        .transpose()?;
    // Handing out a password or a role is account-takeover grade: people only, recently signed in.
    if body.reset_password || new_role.is_some() {
        sudo::human_recently_signed_in(&state, &principal).await?;
    }
    let reset = if body.reset_password {
        let pw = one_time_password(&state);
        let hash = state.auth.hash(pw.clone(), state.entropy.clone()).await?;
        Some((pw, hash))
    } else {
        None
    };
    let mut s = state.store.scope(principal.tenant).await?;
    let before = s.user(user_id).await?;
    let old_role = s.role(before.role_id).await?;
    // Changing someone who holds more than you is granting; so is giving a role.
    may_grant(&principal, &old_role.permissions)?;
    if let Some(r) = new_role {
        let role = match s.role(r).await {
            Ok(r) => r,
            Err(confide_store::StoreError::NotFound) => {
                return Err(unprocessable("invalid_role", "No such role."));
            }
            Err(e) => return Err(e.into()),
        };
        may_grant(&principal, &role.permissions)?;
    }
    let after = s
        .update_user(
            user_id,
            &UserChange {
                role_id: new_role,
                status: body.status.clone(),
            },
        )
        .await?;
    if old_role.is_owner() && s.count_active_owners().await? == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_owner",
            "The last owner cannot be removed or demoted.",
        ));
    }
    if after.role_id != before.role_id {
        s.audit(
            &AuditEvent::new(
                principal.actor(),
                "user.role_changed",
                format!("user:{user_id}"),
            )
            .with_details(
                json!({"from": before.role_id.to_string(), "to": after.role_id.to_string()}),
            ),
        )
        .await?;
    }
    if after.status != before.status {
        if after.status == "disabled" {
            s.end_user_sessions(user_id, None).await?;
        }
        s.audit(&AuditEvent::new(
            principal.actor(),
            format!(
                "user.{}",
                if after.status == "disabled" {
                    "disabled"
                } else {
                    "enabled"
                }
            ),
            format!("user:{user_id}"),
        ))
        .await?;
    }
    let mut out = json!({"user": user_json(&after)});
    if let Some((pw, hash)) = reset {
        s.set_password_hash(user_id, &hash, true).await?;
        s.end_user_sessions(user_id, None).await?;
        let lookup = state.store.login_email_lookup(&after.email)?;
        s.throttle_clear(&[crate::auth::throttle::account_key(&lookup)])
            .await?;
        s.audit(&AuditEvent::new(
            principal.actor(),
            "user.password_reset",
            format!("user:{user_id}"),
        ))
        .await?;
        out["one_time_password"] = json!(pw);
    }
    s.commit().await?;
    Ok(Json(out))
}

/// `DELETE /api/v1/users/{id}`.
pub async fn delete_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user_id: UserId = id(&raw)?;
    let mut s = state.store.scope(principal.tenant).await?;
    let user = s.user(user_id).await?;
    let role = s.role(user.role_id).await?;
    may_grant(&principal, &role.permissions)?;
    s.delete_user(user_id).await?;
    if role.is_owner() && s.count_active_owners().await? == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_owner",
            "The last owner cannot be removed or demoted.",
        ));
    }
    s.audit(&AuditEvent::new(
        principal.actor(),
        "user.deleted",
        format!("user:{user_id}"),
    ))
    .await?;
    s.commit().await?;
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
    let mut s = state.store.read_scope(principal.tenant).await?;
    let roles = s.list_roles().await?;
    s.commit().await?;
    Ok(Json(
        json!({"roles": roles.iter().map(role_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
pub struct RoleBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

fn parse_perms(list: &[String]) -> Result<BTreeSet<Permission>, ApiError> {
    list.iter()
        .map(|p| {
            p.parse::<Permission>().map_err(|_| {
                unprocessable("unknown_permission", format!("Unknown permission {p:?}."))
            })
        })
        .collect()
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(unprocessable(
            "invalid_name",
            "A role name needs 1 to 100 characters.",
        ));
    }
    Ok(n.to_string())
}

/// `POST /api/v1/roles`: a custom role.
pub async fn create_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Response, ApiError> {
    let name = check_name(body.name.as_deref().unwrap_or(""))?;
    let perms = parse_perms(body.permissions.as_deref().unwrap_or(&[]))?;
    may_grant(&principal, &perms)?;
    let mut s = state.store.scope(principal.tenant).await?;
    let role = s.create_role(&name, &perms, principal.actor()).await?;
    s.commit().await?;
    Ok((StatusCode::CREATED, Json(role_json(&role))).into_response())
}

fn builtin_refused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "builtin_role",
        "Built-in roles cannot be changed or deleted.",
    )
}

/// `PATCH /api/v1/roles/{id}`.
pub async fn update_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let role_id: RoleId = id(&raw)?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    let perms = body.permissions.as_deref().map(parse_perms).transpose()?;
    let mut s = state.store.scope(principal.tenant).await?;
    let current = s.role(role_id).await?;
    if current.builtin {
        return Err(builtin_refused());
    }
    may_grant(&principal, &current.permissions)?;
    if let Some(p) = &perms {
        may_grant(&principal, p)?;
    }
    let role = s
        .update_role(
            role_id,
            &RoleChange {
                name,
                permissions: perms,
            },
            principal.actor(),
        )
        .await?;
    s.commit().await?;
    Ok(Json(role_json(&role)))
}

/// `DELETE /api/v1/roles/{id}`: only an unused custom role.
pub async fn delete_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let role_id: RoleId = id(&raw)?;
    let mut s = state.store.scope(principal.tenant).await?;
    let current = s.role(role_id).await?;
    if current.builtin {
        return Err(builtin_refused());
    }
    may_grant(&principal, &current.permissions)?;
    if s.role_usage(role_id).await? > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "role_in_use",
            "Move its users and keys to another role first.",
        ));
    }
    s.delete_role(role_id, principal.actor()).await?;
    s.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
