//! Tenant security settings (require 2FA for everyone) and support access grants: a tenant lets
//! one platform admin act in it with a role, for at most 72 hours; audited and revocable.

use crate::error::{AppError, Code};
use crate::identity::grants::may_grant;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::email::Email;
use confide_core::ids::RoleId;
use confide_core::permissions::Permission;
use serde::Deserialize;

pub use confide_store::platform::SupportGrant;

/// Longest support grant.
pub const MAX_GRANT_HOURS: i64 = 72;

/// A grant to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewGrant {
    /// The platform administrator the grant is for.
    pub platform_admin_email: String,
    /// The role they act with (one the caller could grant).
    pub role_id: String,
    /// How long the grant lasts, 1 to 72 hours.
    pub hours: i64,
}

fn unknown_admin() -> AppError {
    AppError::invalid(Code::UnknownAdmin, "No such platform admin.")
}

impl App {
    /// Whether every member must use two-factor authentication.
    pub async fn require_2fa_setting(&self, p: &Principal) -> Result<bool, AppError> {
        p.require(Permission::SecurityManage)?;
        let (_, require_2fa) = self.store.tenant_settings(p.tenant).await?;
        Ok(require_2fa)
    }

    /// Turns the tenant-wide 2FA requirement on or off (people only, recently signed in).
    pub async fn set_require_2fa(&self, p: &Principal, on: bool) -> Result<bool, AppError> {
        p.require(Permission::SecurityManage)?;
        self.require_recent_human(p).await?;
        let mut s = self.store.scope(p.tenant).await?;
        s.set_require_2fa(on, p.actor()).await?;
        s.commit().await?;
        Ok(on)
    }

    pub async fn list_support_grants(&self, p: &Principal) -> Result<Vec<SupportGrant>, AppError> {
        p.require(Permission::SecurityManage)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let grants = s.list_support_grants().await?;
        s.commit().await?;
        Ok(grants)
    }

    pub async fn create_support_grant(
        &self,
        p: &Principal,
        new: NewGrant,
    ) -> Result<SupportGrant, AppError> {
        p.require(Permission::SecurityManage)?;
        if !(1..=MAX_GRANT_HOURS).contains(&new.hours) {
            return Err(AppError::invalid(Code::InvalidHours, "hours is 1 to 72."));
        }
        self.require_recent_human(p).await?;
        let email = Email::parse(&new.platform_admin_email).map_err(|_| unknown_admin())?;
        let lookup = self.store.platform_email_lookup(&email)?;
        let Some(admin) = self.store.platform_admin_by_lookup(&lookup).await? else {
            return Err(unknown_admin());
        };
        let role_id: RoleId = new
            .role_id
            .parse()
            .map_err(|_| AppError::invalid(Code::InvalidRole, "No such role."))?;
        let expires_at = self.clock.now_micros() + new.hours * 3600 * 1_000_000;
        let mut s = self.store.scope(p.tenant).await?;
        let role = self.existing_role(&mut s, role_id).await?;
        may_grant(p, &role.permissions)?;
        let grant = s
            .create_support_grant(&admin.id, role_id, expires_at, p.actor())
            .await?;
        s.commit().await?;
        Ok(grant)
    }

    pub async fn revoke_support_grant(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::SecurityManage)?;
        let grant_id = id
            .parse::<uuid::Uuid>()
            .map_err(|_| AppError::not_found())?
            .hyphenated()
            .to_string();
        let mut s = self.store.scope(p.tenant).await?;
        s.revoke_support_grant(&grant_id, p.actor()).await?;
        s.commit().await?;
        Ok(())
    }
}
