//! Account-takeover-grade actions are for people, never for API keys, and only soon after the
//! person proved who they are (re-authentication). One rule, in one place:
//!
//! - [`human_recently_signed_in`]: the caller is a signed-in team member (not an API key, not a
//!   support session) whose session began within [`REAUTH_WINDOW_SECS`]; otherwise 403
//!   `forbidden` (an API key) or 403 `reauthentication_required` (sign in again first).
//!
//! Used by: password resets of other members, role changes of members, invitations into a
//! role that can manage the team, roles, keys or security, and tenant security settings
//! (required 2FA, support access). A key holding `team.manage` can still invite into ordinary
//! roles and disable members; it can never receive a password or hand out power.

use super::{Principal, PrincipalKind};
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
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

fn humans_only() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Only a signed-in person can do this; API keys cannot.",
    )
}

/// The caller is a person whose session began within [`REAUTH_WINDOW_SECS`].
pub async fn human_recently_signed_in(
    state: &AppState,
    principal: &Principal,
) -> Result<(), ApiError> {
    let PrincipalKind::User { session_id, .. } = &principal.kind else {
        return Err(humans_only());
    };
    let mut s = state.store.read_scope(principal.tenant).await?;
    let session = s.session(*session_id).await?;
    s.commit().await?;
    let age = state.clock.now_micros() - session.created_at;
    if age > REAUTH_WINDOW_SECS * 1_000_000 {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reauthentication_required",
            "Sign in again to do this: it needs a sign-in from the last 15 minutes.",
        ));
    }
    Ok(())
}
