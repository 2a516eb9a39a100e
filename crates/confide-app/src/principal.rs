//! Who is calling: the [`Principal`] every use case takes. The tenant of every operation comes
//! from it and nowhere else; the HTTP edge, the CLI and the workers build one after checking
//! credentials, and pass it in.

use crate::error::AppError;
use confide_core::audit::Actor;
use confide_core::ids::{ApiKeyId, RoleId, SessionId, TenantId, UserId};
use confide_core::permissions::Permission;
use std::collections::BTreeSet;

/// How a principal is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A team member with a session.
    User {
        user_id: UserId,
        session_id: SessionId,
    },
    /// An integration with an API key.
    ApiKey { key_id: ApiKeyId },
    /// A platform admin acting in the tenant under a support grant.
    Support {
        admin_id: String,
        grant_id: String,
        session_id: SessionId,
    },
}

/// Who is calling. The tenant of every operation comes from here and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub kind: PrincipalKind,
    pub role_id: RoleId,
    pub permissions: BTreeSet<Permission>,
}

impl Principal {
    /// The audit actor for what this principal does.
    pub fn actor(&self) -> Actor {
        match &self.kind {
            PrincipalKind::User { user_id, .. } => Actor::User(user_id.to_string()),
            PrincipalKind::ApiKey { key_id } => Actor::ApiKey(key_id.to_string()),
            PrincipalKind::Support { admin_id, .. } => {
                Actor::User(format!("platform-admin:{admin_id}"))
            }
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// `forbidden` unless the principal holds `p`. Every use case checks its permission here,
    /// whatever entry point called it.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.has(p) {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }

    /// The user, for routes about one's own account.
    pub fn user(&self) -> Option<(UserId, SessionId)> {
        match &self.kind {
            PrincipalKind::User {
                user_id,
                session_id,
            } => Some((*user_id, *session_id)),
            _ => None,
        }
    }
}

/// Something a signed-in user still owes before the rest of the API opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// The one-time (or reset) password must be changed.
    PasswordChange,
    /// The tenant requires 2FA and the user has not enrolled.
    TwoFactorEnrolment,
}

/// A platform admin signed in with the platform cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformPrincipal {
    pub admin_id: String,
    pub session_id: String,
    pub must_change_password: bool,
}
