//! The platform operator: admins (a separate identity from any tenant's users), their sessions,
//! tenant status, and support access that a tenant grants, time-boxed, to one admin.
//!
//! Platform tables are global and hold ids, keyed hashes and PHC strings only. A platform admin
//! never gets a tenant scope of their own: support sessions are created inside the tenant's scope
//! against a grant the tenant made, and end when the grant ends.

use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::email::Email;
use confide_core::ids::{RoleId, SessionId, TenantId};
use serde::Serialize;
use sqlx::Row;

/// Blind-index purpose of platform admins' login emails.
pub const PLATFORM_EMAIL_INDEX: &str = "platform-admin-email";

/// A platform admin's login record.
#[derive(Debug, Clone)]
pub struct PlatformAdmin {
    pub id: String,
    pub password_hash: String,
    pub must_change_password: bool,
    pub status: String,
}

/// A platform session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlatformSession {
    #[sqlx(rename = "session_id")]
    pub id: String,
    pub admin_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A support grant.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SupportGrant {
    pub id: String,
    pub admin_id: String,
    pub role_id: RoleId,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A support session (a platform admin acting in a tenant under a grant).
#[derive(Debug, Clone)]
pub struct SupportSession {
    pub id: SessionId,
    pub grant_id: String,
    pub admin_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

fn new_id(store: &Store) -> String {
    confide_core::ids::new_uuid(store.clock().as_ref(), store.entropy().as_ref())
        .hyphenated()
        .to_string()
}

impl Store {
    /// The global lookup key of a platform admin's email.
    pub fn platform_email_lookup(&self, email: &Email) -> Result<Vec<u8>, StoreError> {
        self.keys()
            .platform_blind_index(PLATFORM_EMAIL_INDEX, email.as_str().as_bytes())
    }

    /// Creates a platform admin who must change the given password at first login.
    pub async fn create_platform_admin(
        &self,
        email: &Email,
        password_hash: &str,
    ) -> Result<String, StoreError> {
        let id = new_id(self);
        let lookup = self.platform_email_lookup(email)?;
        sqlx::query("INSERT INTO platform_admins (admin_id, email_lookup, password_hash, must_change_password, status, created_at) VALUES ($1, $2, $3, 1, 'active', $4)")
            .bind(id.clone())
            .bind(lookup)
            .bind(password_hash.to_string())
            .bind(self.clock().now_micros())
            .execute(self.write_pool())
            .await
            .map_err(|e| StoreError::from_insert(e, "a platform admin with this email"))?;
        Ok(id)
    }

    fn admin_from_row(r: &sqlx::any::AnyRow) -> Result<PlatformAdmin, StoreError> {
        Ok(PlatformAdmin {
            id: r.try_get(0)?,
            password_hash: r.try_get(1)?,
            must_change_password: r.try_get::<i64, _>(2)? != 0,
            status: r.try_get(3)?,
        })
    }

    /// The platform admin with this email lookup key.
    pub async fn platform_admin_by_lookup(
        &self,
        lookup: &[u8],
    ) -> Result<Option<PlatformAdmin>, StoreError> {
        let row = sqlx::query("SELECT admin_id, password_hash, must_change_password, status FROM platform_admins WHERE email_lookup = $1")
            .bind(lookup.to_vec())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Self::admin_from_row).transpose()
    }

    pub async fn platform_admin(&self, id: &str) -> Result<PlatformAdmin, StoreError> {
        let row = sqlx::query("SELECT admin_id, password_hash, must_change_password, status FROM platform_admins WHERE admin_id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref()
            .map(Self::admin_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    pub async fn set_platform_password(
        &self,
        id: &str,
        hash: &str,
        must_change: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE platform_admins SET password_hash = $1, must_change_password = $2 WHERE admin_id = $3")
            .bind(hash.to_string())
            .bind(i64::from(must_change))
            .bind(id.to_string())
            .execute(self.write_pool())
            .await?;
        Ok(())
    }

    pub async fn create_platform_session(
        &self,
        admin_id: &str,
        token_hash: &[u8; 32],
        expires_at: i64,
    ) -> Result<String, StoreError> {
        let id = new_id(self);
        let now = self.clock().now_micros();
        sqlx::query("INSERT INTO platform_sessions (session_id, admin_id, token_hash, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)")
            .bind(id.clone())
            .bind(admin_id.to_string())
            .bind(token_hash.to_vec())
            .bind(now)
            .bind(expires_at)
            .execute(self.write_pool())
            .await?;
        Ok(id)
    }

    pub async fn platform_session_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<PlatformSession>, StoreError> {
        Ok(sqlx::query_as("SELECT session_id, admin_id, created_at, last_seen_at, expires_at FROM platform_sessions WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn touch_platform_session(&self, id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE platform_sessions SET last_seen_at = $1 WHERE session_id = $2")
            .bind(at)
            .bind(id.to_string())
            .execute(self.write_pool())
            .await?;
        Ok(())
    }

    pub async fn end_platform_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM platform_sessions WHERE session_id = $1")
            .bind(id.to_string())
            .execute(self.write_pool())
            .await?;
        Ok(())
    }

    /// A tenant's status (`active` or `disabled`) and whether it requires 2FA.
    pub async fn tenant_settings(&self, tenant: TenantId) -> Result<(String, bool), StoreError> {
        let row = sqlx::query("SELECT status, require_2fa FROM tenants WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((row.try_get(0)?, row.try_get::<i64, _>(1)? != 0))
    }

    /// A tenant's CIDR allow and deny lists for its UI and API (comma-separated; empty: none).
    pub async fn tenant_access_lists(
        &self,
        tenant: TenantId,
    ) -> Result<(String, String), StoreError> {
        let row = sqlx::query("SELECT access_allow, access_deny FROM tenants WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Enables or disables a tenant (platform operator), recorded in the tenant's audit log.
    pub async fn set_tenant_status(
        &self,
        tenant: TenantId,
        status: &str,
        actor: Actor,
    ) -> Result<(), StoreError> {
        let mut s = self.scope(tenant).await?;
        let done = sqlx::query("UPDATE tenants SET status = $1 WHERE tenant_id = $2")
            .bind(status.to_string())
            .bind(tenant.to_string())
            .execute(s.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        s.audit(&AuditEvent::new(
            actor,
            format!("tenant.{status}"),
            format!("tenant:{tenant}"),
        ))
        .await?;
        s.commit().await
    }
}

impl Scope<'_> {
    /// Requires (or stops requiring) 2FA of every user of the tenant.
    pub async fn set_require_2fa(&mut self, on: bool, actor: Actor) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        sqlx::query("UPDATE tenants SET require_2fa = $1 WHERE tenant_id = $2")
            .bind(i64::from(on))
            .bind(t.clone())
            .execute(self.conn())
            .await?;
        self.audit(
            &AuditEvent::new(actor, "security.require_2fa", format!("tenant:{t}"))
                .with_details(serde_json::json!({"required": on})),
        )
        .await?;
        Ok(())
    }

    /// Sets the tenant's CIDR allow and deny lists for its UI and API (comma-separated,
    /// normalised), audited with the lists.
    pub async fn set_access_lists(
        &mut self,
        allow: &[String],
        deny: &[String],
        actor: Actor,
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        sqlx::query("UPDATE tenants SET access_allow = $1, access_deny = $2 WHERE tenant_id = $3")
            .bind(allow.join(","))
            .bind(deny.join(","))
            .bind(t.clone())
            .execute(self.conn())
            .await?;
        self.audit(
            &AuditEvent::new(actor, "security.access_lists", format!("tenant:{t}"))
                .with_details(serde_json::json!({"allow": allow, "deny": deny})),
        )
        .await?;
        Ok(())
    }

    /// Grants a platform admin support access under a role until `expires_at`.
    pub async fn create_support_grant(
        &mut self,
        admin_id: &str,
        role_id: RoleId,
        expires_at: i64,
        actor: Actor,
    ) -> Result<SupportGrant, StoreError> {
        let id = new_id(self.store);
        let now = self.now();
        let t = self.tenant_str().to_string();
        sqlx::query("INSERT INTO support_grants (tenant_id, grant_id, admin_id, role_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(t)
            .bind(id.clone())
            .bind(admin_id.to_string())
            .bind(role_id.to_string())
            .bind(actor.to_string())
            .bind(now)
            .bind(expires_at)
            .execute(self.conn())
            .await?;
        self.audit(
            &AuditEvent::new(actor, "support.granted", format!("support_grant:{id}")).with_details(
                serde_json::json!({"admin_id": admin_id, "role_id": role_id.to_string(), "expires_at": expires_at}),
            ),
        )
        .await?;
        self.support_grant(&id).await
    }

    fn grant_from_row(r: &sqlx::any::AnyRow) -> Result<SupportGrant, StoreError> {
        let role: String = r.try_get(2)?;
        Ok(SupportGrant {
            id: r.try_get(0)?,
            admin_id: r.try_get(1)?,
            role_id: role
                .parse()
                .map_err(|_| StoreError::Corrupt("role id".into()))?,
            created_by: r.try_get(3)?,
            created_at: r.try_get(4)?,
            expires_at: r.try_get(5)?,
            revoked_at: r.try_get(6)?,
        })
    }

    pub async fn support_grant(&mut self, id: &str) -> Result<SupportGrant, StoreError> {
        let t = self.tenant_str().to_string();
        let row = sqlx::query("SELECT grant_id, admin_id, role_id, created_by, created_at, expires_at, revoked_at FROM support_grants WHERE tenant_id = $1 AND grant_id = $2")
            .bind(t)
            .bind(id.to_string())
            .fetch_optional(self.conn())
            .await?;
        row.as_ref()
            .map(Self::grant_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    pub async fn list_support_grants(&mut self) -> Result<Vec<SupportGrant>, StoreError> {
        let t = self.tenant_str().to_string();
        let rows = sqlx::query("SELECT grant_id, admin_id, role_id, created_by, created_at, expires_at, revoked_at FROM support_grants WHERE tenant_id = $1 ORDER BY created_at DESC")
            .bind(t)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(Self::grant_from_row).collect()
    }

    /// Revokes a grant and ends its support sessions.
    pub async fn revoke_support_grant(
        &mut self,
        id: &str,
        actor: Actor,
    ) -> Result<SupportGrant, StoreError> {
        self.support_grant(id).await?;
        let t = self.tenant_str().to_string();
        let now = self.now();
        sqlx::query("UPDATE support_grants SET revoked_at = $1 WHERE tenant_id = $2 AND grant_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(t.clone())
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        let rows = sqlx::query(
            "SELECT session_id FROM support_sessions WHERE tenant_id = $1 AND grant_id = $2",
        )
        .bind(t.clone())
        .bind(id.to_string())
        .fetch_all(self.conn())
        .await?;
        let ids: Vec<String> = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
        self.delete_principals("support_session", &ids).await?;
        sqlx::query("DELETE FROM support_sessions WHERE tenant_id = $1 AND grant_id = $2")
            .bind(t)
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        self.audit(&AuditEvent::new(
            actor,
            "support.revoked",
            format!("support_grant:{id}"),
        ))
        .await?;
        self.support_grant(id).await
    }

    /// The grant an admin may use now, if any.
    pub async fn active_grant_for(
        &mut self,
        admin_id: &str,
    ) -> Result<Option<SupportGrant>, StoreError> {
        let now = self.now();
        Ok(self
            .list_support_grants()
            .await?
            .into_iter()
            .find(|g| g.admin_id == admin_id && g.revoked_at.is_none() && g.expires_at > now))
    }

    /// Starts a support session under a grant (audited).
    pub async fn create_support_session(
        &mut self,
        grant: &SupportGrant,
        token_hash: &[u8; 32],
        expires_at: i64,
    ) -> Result<SessionId, StoreError> {
        let id = SessionId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
        let now = self.now();
        let t = self.tenant_str().to_string();
        self.insert_principal(token_hash, "support_session", &id.to_string())
            .await?;
        sqlx::query("INSERT INTO support_sessions (tenant_id, session_id, grant_id, admin_id, token_hash, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)")
            .bind(t)
            .bind(id.to_string())
            .bind(grant.id.clone())
            .bind(grant.admin_id.clone())
            .bind(token_hash.to_vec())
            .bind(now)
            .bind(expires_at)
            .execute(self.conn())
            .await?;
        self.audit(&AuditEvent::new(
            Actor::User(format!("platform-admin:{}", grant.admin_id)),
            "support.session_started",
            format!("support_grant:{}", grant.id),
        ))
        .await?;
        Ok(id)
    }

    pub async fn support_session(&mut self, id: SessionId) -> Result<SupportSession, StoreError> {
        let t = self.tenant_str().to_string();
        let r = sqlx::query("SELECT session_id, grant_id, admin_id, created_at, last_seen_at, expires_at FROM support_sessions WHERE tenant_id = $1 AND session_id = $2")
            .bind(t)
            .bind(id.to_string())
            .fetch_optional(self.conn())
            .await?
            .ok_or(StoreError::NotFound)?;
        let sid: String = r.try_get(0)?;
        Ok(SupportSession {
            id: sid
                .parse()
                .map_err(|_| StoreError::Corrupt("session id".into()))?,
            grant_id: r.try_get(1)?,
            admin_id: r.try_get(2)?,
            created_at: r.try_get(3)?,
            last_seen_at: r.try_get(4)?,
            expires_at: r.try_get(5)?,
        })
    }

    pub async fn end_support_session(&mut self, id: SessionId) -> Result<(), StoreError> {
        self.delete_principals("support_session", &[id.to_string()])
            .await?;
        let t = self.tenant_str().to_string();
        sqlx::query("DELETE FROM support_sessions WHERE tenant_id = $1 AND session_id = $2")
            .bind(t)
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
