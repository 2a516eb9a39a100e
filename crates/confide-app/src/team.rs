//! Team members and roles. Nobody grants a permission they do not hold (a role they could not
//! have made, or a member put in such a role); the last active owner stays; handing out a
//! password or power is for recently signed-in people only ([`crate::identity::grants`]).

use crate::error::{AppError, Code};
use crate::identity::grants::{is_powerful, may_grant};
use crate::identity::secrets::one_time_password;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::email::Email;
use confide_core::ids::{RoleId, UserId};
use confide_core::permissions::Permission;
use confide_store::users::{NewUser, UserChange};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeSet;

pub use confide_store::roles::Role;
pub use confide_store::users::User;

/// An invitation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Invite {
    /// The new member's email address.
    pub email: String,
    /// The role to give them (one the caller could grant).
    pub role_id: String,
}

/// A member and, once, the one-time password they must change at first sign-in.
#[derive(Debug)]
pub struct Invited {
    pub user: User,
    pub one_time_password: String,
}

/// A change to a member (absent: unchanged).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct MemberChange {
    /// A new role (one the caller could grant).
    #[serde(default)]
    pub role_id: Option<String>,
    /// `active` or `disabled`.
    #[serde(default)]
    pub status: Option<String>,
    /// Sets a new one-time password (returned once) and clears the sign-in lock.
    #[serde(default)]
    pub reset_password: bool,
}

/// A changed member and, after a reset, the new one-time password (shown once).
#[derive(Debug)]
pub struct MemberChanged {
    pub user: User,
    pub one_time_password: Option<String>,
}

/// A role's name and permissions (absent: unchanged on update; empty on create).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RoleInput {
    /// The role's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Permission names (see `GET /api/v1/permissions`), each one the caller holds.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

fn no_such_role() -> AppError {
    AppError::invalid(Code::InvalidRole, "No such role.")
}

fn role_id(raw: &str) -> Result<RoleId, AppError> {
    raw.parse().map_err(|_| no_such_role())
}

fn last_owner() -> AppError {
    AppError::new(
        Code::LastOwner,
        "The last owner cannot be removed or demoted.",
    )
}

fn builtin_refused() -> AppError {
    AppError::new(
        Code::BuiltinRole,
        "Built-in roles cannot be changed or deleted.",
    )
}

fn parse_perms(list: &[String]) -> Result<BTreeSet<Permission>, AppError> {
    list.iter()
        .map(|p| {
            p.parse::<Permission>().map_err(|_| {
                AppError::invalid(
                    Code::UnknownPermission,
                    format!("Unknown permission {p:?}."),
                )
            })
        })
        .collect()
}

fn role_name(name: &str) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(AppError::invalid(
            Code::InvalidName,
            "A role name needs 1 to 100 characters.",
        ));
    }
    Ok(n.to_string())
}

impl App {
    /// The role `id` of the caller's tenant, as `invalid_role` when there is none.
    pub(crate) async fn existing_role(
        &self,
        s: &mut confide_store::Scope<'_>,
        id: RoleId,
    ) -> Result<Role, AppError> {
        match s.roles().get(id).await {
            Ok(r) => Ok(r),
            Err(confide_store::StoreError::NotFound) => Err(no_such_role()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_users(&self, p: &Principal) -> Result<Vec<User>, AppError> {
        p.require(Permission::TeamManage)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let users = s.users().list().await?;
        s.commit().await?;
        Ok(users)
    }

    /// Adds a member with a one-time password (returned once) they must change. The answer is
    /// the same whether or not the address belongs to a member of another tenant: one person may
    /// be a member of several tenants (each membership its own account) and names the tenant at
    /// sign-in.
    pub async fn invite_user(&self, p: &Principal, invite: Invite) -> Result<Invited, AppError> {
        p.require(Permission::TeamManage)?;
        let email = Email::parse(&invite.email)
            .map_err(|_| AppError::invalid(Code::InvalidEmail, "Not a valid email address."))?;
        let role_id = role_id(&invite.role_id)?;
        let password = one_time_password(self.entropy.as_ref());
        let hash = self
            .auth
            .hash(password.clone(), self.entropy.clone())
            .await?;
        let mut s = self.store.scope(p.tenant).await?;
        let role = self.existing_role(&mut s, role_id).await?;
        may_grant(p, &role.permissions)?;
        if is_powerful(&role.permissions) {
            drop(s);
            self.require_recent_human(p).await?;
            s = self.store.scope(p.tenant).await?;
        }
        let user_id = s
            .users()
            .create(
                NewUser {
                    email,
                    role_id,
                    password_hash: hash,
                    must_change_password: true,
                },
                p.actor(),
            )
            .await?;
        let user = s.users().get(user_id).await?;
        s.commit().await?;
        Ok(Invited {
            user,
            one_time_password: password,
        })
    }

    /// Changes a member's role or status, or resets their password.
    pub async fn update_user(
        &self,
        p: &Principal,
        id: &str,
        change: MemberChange,
    ) -> Result<MemberChanged, AppError> {
        p.require(Permission::TeamManage)?;
        let user_id: UserId = id.parse().map_err(|_| AppError::not_found())?;
        if let Some(st) = &change.status
            && st != "active"
            && st != "disabled"
        {
            return Err(AppError::invalid(
                Code::InvalidStatus,
                "status is active or disabled.",
            ));
        }
        let new_role = change.role_id.as_deref().map(role_id).transpose()?;
        // Handing out a password or a role is account-takeover grade: people only, recently
        // signed in.
        if change.reset_password || new_role.is_some() {
            self.require_recent_human(p).await?;
        }
        let reset = if change.reset_password {
            let pw = one_time_password(self.entropy.as_ref());
            let hash = self.auth.hash(pw.clone(), self.entropy.clone()).await?;
            Some((pw, hash))
        } else {
            None
        };
        let mut s = self.store.scope(p.tenant).await?;
        let before = s.users().get(user_id).await?;
        let old_role = s.roles().get(before.role_id).await?;
        // Changing someone who holds more than you is granting; so is giving a role.
        may_grant(p, &old_role.permissions)?;
        if let Some(r) = new_role {
            let role = self.existing_role(&mut s, r).await?;
            may_grant(p, &role.permissions)?;
        }
        let after = s
            .users()
            .update(
                user_id,
                &UserChange {
                    role_id: new_role,
                    status: change.status.clone(),
                },
            )
            .await?;
        if old_role.is_owner() && s.users().count_active_owners().await? == 0 {
            return Err(last_owner());
        }
        if after.role_id != before.role_id {
            s.audit(
                &AuditEvent::new(p.actor(), "user.role_changed", format!("user:{user_id}"))
                    .with_details(json!({
                        "from": before.role_id.to_string(),
                        "to": after.role_id.to_string(),
                    })),
            )
            .await?;
        }
        if after.status != before.status {
            if after.status == "disabled" {
                s.sessions().end_all(user_id, None).await?;
            }
            let action = if after.status == "disabled" {
                "user.disabled"
            } else {
                "user.enabled"
            };
            s.audit(&AuditEvent::new(
                p.actor(),
                action,
                format!("user:{user_id}"),
            ))
            .await?;
        }
        let mut one_time = None;
        if let Some((pw, hash)) = reset {
            s.users().set_password_hash(user_id, &hash, true).await?;
            s.sessions().end_all(user_id, None).await?;
            let lookup = self.store.login_email_lookup(&after.email)?;
            s.throttle_clear(&[crate::identity::throttle::account_key(&lookup)])
                .await?;
            s.audit(&AuditEvent::new(
                p.actor(),
                "user.password_reset",
                format!("user:{user_id}"),
            ))
            .await?;
            one_time = Some(pw);
        }
        s.commit().await?;
        Ok(MemberChanged {
            user: after,
            one_time_password: one_time,
        })
    }

    pub async fn delete_user(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::TeamManage)?;
        let user_id: UserId = id.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.scope(p.tenant).await?;
        let user = s.users().get(user_id).await?;
        let role = s.roles().get(user.role_id).await?;
        may_grant(p, &role.permissions)?;
        s.users().delete(user_id).await?;
        if role.is_owner() && s.users().count_active_owners().await? == 0 {
            return Err(last_owner());
        }
        s.audit(&AuditEvent::new(
            p.actor(),
            "user.deleted",
            format!("user:{user_id}"),
        ))
        .await?;
        s.commit().await?;
        Ok(())
    }

    pub async fn list_roles(&self, p: &Principal) -> Result<Vec<Role>, AppError> {
        p.require(Permission::RolesManage)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let roles = s.roles().list().await?;
        s.commit().await?;
        Ok(roles)
    }

    /// A custom role.
    pub async fn create_role(&self, p: &Principal, input: RoleInput) -> Result<Role, AppError> {
        p.require(Permission::RolesManage)?;
        let name = role_name(input.name.as_deref().unwrap_or(""))?;
        let perms = parse_perms(input.permissions.as_deref().unwrap_or(&[]))?;
        may_grant(p, &perms)?;
        let mut s = self.store.scope(p.tenant).await?;
        let role = s.roles().create(&name, &perms, p.actor()).await?;
        s.commit().await?;
        Ok(role)
    }

    pub async fn update_role(
        &self,
        p: &Principal,
        id: &str,
        input: RoleInput,
    ) -> Result<Role, AppError> {
        p.require(Permission::RolesManage)?;
        let role_id: RoleId = id.parse().map_err(|_| AppError::not_found())?;
        let name = input.name.as_deref().map(role_name).transpose()?;
        let perms = input.permissions.as_deref().map(parse_perms).transpose()?;
        let mut s = self.store.scope(p.tenant).await?;
        let current = s.roles().get(role_id).await?;
        if current.builtin {
            return Err(builtin_refused());
        }
        may_grant(p, &current.permissions)?;
        if let Some(perms) = &perms {
            may_grant(p, perms)?;
        }
        let role = s
            .roles()
            .update(
                role_id,
                &confide_store::roles::RoleChange {
                    name,
                    permissions: perms,
                },
                p.actor(),
            )
            .await?;
        s.commit().await?;
        Ok(role)
    }

    /// Deletes an unused custom role.
    pub async fn delete_role(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::RolesManage)?;
        let role_id: RoleId = id.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.scope(p.tenant).await?;
        let current = s.roles().get(role_id).await?;
        if current.builtin {
            return Err(builtin_refused());
        }
        may_grant(p, &current.permissions)?;
        if s.roles().usage(role_id).await? > 0 {
            return Err(AppError::new(
                Code::RoleInUse,
                "Move its users and keys to another role first.",
            ));
        }
        s.roles().delete(role_id, p.actor()).await?;
        s.commit().await?;
        Ok(())
    }
}
