//! The rules for handing out power, in one place:
//!
//! - [`may_grant`]: nobody grants a permission they do not hold (a role they could not have
//!   made, a member or key put in such a role, a change to someone who holds more).
//! - [`App::require_recent_human`]: account-takeover-grade actions are for people, never for
//!   API keys, and only soon after the person proved who they are. Used by password resets of
//!   other members, role changes of members, invitations into a role that can manage the team,
//!   roles, keys or security, and tenant security settings (required 2FA, support access). A key
//!   holding `team.manage` can still invite into ordinary roles and disable members; it can
//!   never receive a password or hand out power.

use crate::error::{AppError, Code};
use crate::principal::{Principal, PrincipalKind};
use crate::runtime::App;
use confide_core::permissions::Permission;
use std::collections::BTreeSet;

/// How long after signing in a person may take such actions without signing in again.
pub const REAUTH_WINDOW_SECS: i64 = 15 * 60;

/// Permissions that let their holder take over accounts or hand out power: granting a role
/// that holds any of them is itself an account-takeover-grade action.
pub const POWERFUL: &[Permission] = &[
    Permission::TeamManage,
    Permission::RolesManage,
    Permission::ApiKeysManage,
    Permission::SecurityManage,
];

/// Whether a role with `perms` is one only a recently signed-in person may grant.
pub fn is_powerful(perms: &BTreeSet<Permission>) -> bool {
    POWERFUL.iter().any(|p| perms.contains(p))
}

/// Refuses a role whose permissions the caller does not all hold.
pub fn may_grant(principal: &Principal, perms: &BTreeSet<Permission>) -> Result<(), AppError> {
    if perms.is_subset(&principal.permissions) {
        Ok(())
    } else {
        Err(AppError::new(
            Code::Forbidden,
            "You cannot grant permissions you do not hold.",
        ))
    }
}

impl App {
    /// The caller is a person whose session began within [`REAUTH_WINDOW_SECS`]; otherwise
    /// `forbidden` (an API key, a support session) or `reauthentication_required`.
    pub async fn require_recent_human(&self, principal: &Principal) -> Result<(), AppError> {
        let PrincipalKind::User { session_id, .. } = &principal.kind else {
            return Err(AppError::new(
                Code::Forbidden,
                "Only a signed-in person can do this; API keys cannot.",
            ));
        };
        let mut s = self.store.read_scope(principal.tenant).await?;
        let session = s.sessions().get(*session_id).await?;
        s.commit().await?;
        let age = self.clock.now_micros() - session.created_at;
        if age > REAUTH_WINDOW_SECS * 1_000_000 {
            return Err(AppError::new(
                Code::ReauthenticationRequired,
                "Sign in again to do this: it needs a sign-in from the last 15 minutes.",
            ));
        }
        Ok(())
    }
}
