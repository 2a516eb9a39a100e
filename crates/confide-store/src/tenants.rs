//! Tenants: creation (with keys, built-in roles and an owner) and the platform's metadata view.

use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use crate::tx::{Access, set_tenant};
use crate::users::NewUser;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::email::Email;
use confide_core::ids::{RoleId, TenantId, UserId};
use confide_core::permissions::BuiltinRole;
use serde::Serialize;

/// What the platform operator may see of a tenant: metadata, never its data.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, sqlx::FromRow)]
pub struct TenantSummary {
    #[sqlx(rename = "tenant_id")]
    pub id: String,
    pub name: String,
    pub status: String,
    pub created_at: i64,
}

/// A new tenant's ids.
#[derive(Debug, Clone, Copy)]
pub struct CreatedTenant {
    pub tenant_id: TenantId,
    pub owner_user_id: UserId,
}

impl Store {
    /// Creates a tenant with fresh keys, the built-in roles, and its owner (who must change the
    /// given password at first login), recording it in the tenant's audit log.
    pub async fn create_tenant(
        &self,
        name: &str,
        owner_email: &Email,
        owner_password_hash: &str,
        actor: Actor,
    ) -> Result<CreatedTenant, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(StoreError::Config(
                "a tenant name needs 1 to 200 characters".into(),
            ));
        }
        let clock = self.clock().as_ref();
        let entropy = self.entropy().as_ref();
        let tenant = TenantId::new(clock, entropy);
        let now = clock.now_micros();
        let mut tx = self.begin_tx(Access::Write).await?;
        sqlx::query("INSERT INTO tenants (tenant_id, name, status, created_at) VALUES ($1, $2, 'active', $3)")
            .bind(tenant.to_string())
            .bind(name.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        set_tenant(&mut tx, self.backend(), &tenant.to_string()).await?;
        let keys = self
            .keys()
            .create_tenant(&mut tx, tenant, entropy, clock.now_micros())
            .await?;
        let mut scope = Scope::from_parts(self, tenant, tx, keys);
        scope
            .audit(&AuditEvent::new(
                actor.clone(),
                "tenant.created",
                format!("tenant:{tenant}"),
            ))
            .await?;
        let mut owner_role = None;
        for role in BuiltinRole::ALL {
            let id = RoleId::new(clock, entropy);
            let perms: Vec<&str> = role.permissions().into_iter().map(|p| p.as_str()).collect();
            sqlx::query("INSERT INTO roles (tenant_id, role_id, name, permissions, builtin, created_at) VALUES ($1, $2, $3, $4, 1, $5)")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .bind(role.name().to_string())
                .bind(serde_json::json!(perms).to_string())
                .bind(now)
                .execute(scope.conn())
                .await?;
            if role == BuiltinRole::Owner {
                owner_role = Some(id);
            }
        }
        let owner_role = owner_role.ok_or_else(|| StoreError::Corrupt("no owner role".into()))?;
        let owner = scope
            .users()
            .create(
                NewUser {
                    email: owner_email.clone(),
                    role_id: owner_role,
                    password_hash: owner_password_hash.to_string(),
                    must_change_password: true,
                },
                actor,
            )
            .await?;
        scope.commit().await?;
        Ok(CreatedTenant {
            tenant_id: tenant,
            owner_user_id: owner,
        })
    }

    /// Every tenant's metadata (platform operator view).
    pub async fn list_tenants(&self) -> Result<Vec<TenantSummary>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT tenant_id, name, status, created_at FROM tenants ORDER BY created_at",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
