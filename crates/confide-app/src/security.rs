//! Tenant security settings (require 2FA for everyone; the CIDR allow and deny lists of its UI
//! and API) and support access grants: a tenant lets one platform admin act in it with a role,
//! for at most 72 hours; audited and revocable.

use crate::error::{AppError, Code};
use crate::identity::grants::may_grant;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::email::Email;
use confide_core::ids::RoleId;
use confide_core::permissions::Permission;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;

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

/// Networks a tenant's list holds at most.
pub const MAX_NETWORKS: usize = 100;

/// A tenant's CIDR lists for its UI and API: with an allow list, only the addresses it lists may
/// use the tenant's sessions and API keys; a denied address never may (deny wins). Webhooks and
/// media links are not subject to them. Empty lists admit everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkLists {
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

impl NetworkLists {
    /// Parses lists as written (`10.0.0.0/8`, `2001:db8::/32` or a single address); 422
    /// `invalid_network` for anything else, or more than [`MAX_NETWORKS`] in a list.
    pub fn parse(allow: &[String], deny: &[String]) -> Result<NetworkLists, AppError> {
        let parse = |list: &[String]| {
            if list.len() > MAX_NETWORKS {
                return Err(AppError::invalid(
                    Code::InvalidNetwork,
                    "A list holds at most 100 networks.",
                ));
            }
            list.iter()
                .map(|raw| {
                    crate::config::parse_cidr(raw).map_err(|_| {
                        AppError::invalid(
                            Code::InvalidNetwork,
                            "Each network is a CIDR like 10.0.0.0/8 or a single address.",
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(NetworkLists {
            allow: parse(allow)?,
            deny: parse(deny)?,
        })
    }

    /// Whether `ip` may use the tenant's UI and API.
    pub fn admits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// The lists as text (normalised), allow then deny.
    pub fn to_strings(&self) -> (Vec<String>, Vec<String>) {
        let s = |l: &[IpNet]| l.iter().map(|n| n.to_string()).collect();
        (s(&self.allow), s(&self.deny))
    }

    fn from_stored(allow: &str, deny: &str) -> NetworkLists {
        let parse = |s: &str| {
            s.split(',')
                .filter(|x| !x.is_empty())
                .filter_map(|x| x.parse::<IpNet>().ok())
                .collect()
        };
        NetworkLists {
            allow: parse(allow),
            deny: parse(deny),
        }
    }
}

/// A tenant's security settings, as its administrators see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuritySettings {
    pub require_2fa: bool,
    pub networks: NetworkLists,
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

    /// The tenant's security settings.
    pub async fn security_settings(&self, p: &Principal) -> Result<SecuritySettings, AppError> {
        p.require(Permission::SecurityManage)?;
        let (_, require_2fa) = self.store.tenant_settings(p.tenant).await?;
        let networks = self.tenant_networks(p.tenant).await?;
        Ok(SecuritySettings {
            require_2fa,
            networks,
        })
    }

    /// The CIDR lists of `tenant`'s UI and API (read by the edge for each authenticated
    /// request, which caches them briefly; not a decision of the caller's permissions).
    pub async fn tenant_networks(
        &self,
        tenant: confide_core::ids::TenantId,
    ) -> Result<NetworkLists, AppError> {
        let (allow, deny) = self.store.tenant_access_lists(tenant).await?;
        Ok(NetworkLists::from_stored(&allow, &deny))
    }

    /// Replaces the tenant's CIDR lists (people only, recently signed in; audited with the
    /// lists). A change that would refuse the address it is made from is refused (422
    /// `would_lock_out`), so an administrator cannot lock themselves out by mistake.
    pub async fn set_network_lists(
        &self,
        p: &Principal,
        from: IpAddr,
        allow: &[String],
        deny: &[String],
    ) -> Result<NetworkLists, AppError> {
        p.require(Permission::SecurityManage)?;
        let lists = NetworkLists::parse(allow, deny)?;
        if !lists.admits(from) {
            return Err(AppError::invalid(
                Code::WouldLockOut,
                "These lists would refuse the address you are using now; add it to the allow list first.",
            ));
        }
        self.require_recent_human(p).await?;
        let (allow, deny) = lists.to_strings();
        let mut s = self.store.scope(p.tenant).await?;
        s.set_access_lists(&allow, &deny, p.actor()).await?;
        s.commit().await?;
        Ok(lists)
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
