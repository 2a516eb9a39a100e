//! Roles: named sets of permissions. The four built-in roles are made with the tenant and cannot
//! change; custom roles are the tenant's own.

use crate::error::StoreError;
use crate::scope::Scope;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::RoleId;
use confide_core::permissions::Permission;
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeSet;

/// A role of a tenant.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub permissions: BTreeSet<Permission>,
    pub builtin: bool,
    pub created_at: i64,
}

impl Role {
    /// The built-in owner role.
    pub fn is_owner(&self) -> bool {
        self.builtin && self.name == "owner"
    }
}

/// Parses the stored JSON list; names this version does not know are skipped (a newer binary may
/// have written them), never granted.
pub(crate) fn parse_permissions(text: &str) -> BTreeSet<Permission> {
    serde_json::from_str::<Vec<String>>(text)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect()
}

pub(crate) fn permissions_json(perms: &BTreeSet<Permission>) -> String {
    serde_json::json!(perms.iter().map(|p| p.as_str()).collect::<Vec<_>>()).to_string()
}

fn role_from_row(r: &sqlx::any::AnyRow) -> Result<Role, StoreError> {
    let id: String = r.try_get(0)?;
    let perms: String = r.try_get(2)?;
    let builtin: i64 = r.try_get(3)?;
    Ok(Role {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt("role id".into()))?,
        name: r.try_get(1)?,
        permissions: parse_permissions(&perms),
        builtin: builtin != 0,
        created_at: r.try_get(4)?,
    })
}

const COLUMNS: &str = "role_id, name, permissions, builtin, created_at";

/// What may change in a custom role.
#[derive(Debug, Clone, Default)]
pub struct RoleChange {
    pub name: Option<String>,
    pub permissions: Option<BTreeSet<Permission>>,
}

impl<'s> Scope<'s> {
    /// The tenant's roles.
    pub fn roles(&mut self) -> Roles<'_, 's> {
        Roles { scope: self }
    }
}

/// What can be done to the tenant's roles, in the scope's transaction: list, read (by id or name),
/// create, change and delete custom roles, count what uses one. The built-in roles are made with
/// the tenant ([`crate::tenants`]).
pub struct Roles<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Roles<'_, '_> {
    pub async fn list(&mut self) -> Result<Vec<Role>, StoreError> {
        let rows = self
            .scope
            .tenant_rows(format!("SELECT {COLUMNS} FROM roles WHERE tenant_id = $1 ORDER BY builtin DESC, created_at, name"))
            .await?;
        rows.iter().map(role_from_row).collect()
    }

    /// A role of this tenant ([`StoreError::NotFound`] for any other id).
    pub async fn get(&mut self, id: RoleId) -> Result<Role, StoreError> {
        let row = self
            .scope
            .tenant_row(
                format!("SELECT {COLUMNS} FROM roles WHERE tenant_id = $1 AND role_id = $2"),
                id.to_string(),
            )
            .await?;
        role_from_row(&row)
    }

    pub async fn by_name(&mut self, name: &str) -> Result<Role, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM roles WHERE tenant_id = $1 AND name = $2"
        )))
        .bind(t)
        .bind(name.to_string())
        .fetch_optional(self.scope.conn())
        .await?;
        row.as_ref()
            .map(role_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    pub async fn create(
        &mut self,
        name: &str,
        permissions: &BTreeSet<Permission>,
        actor: Actor,
    ) -> Result<Role, StoreError> {
        let id = RoleId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let now = self.scope.now();
        let t = self.scope.tenant_str().to_string();
        sqlx::query("INSERT INTO roles (tenant_id, role_id, name, permissions, builtin, created_at) VALUES ($1, $2, $3, $4, 0, $5)")
            .bind(t)
            .bind(id.to_string())
            .bind(name.to_string())
            .bind(permissions_json(permissions))
            .bind(now)
            .execute(self.scope.conn())
            .await
            .map_err(|e| StoreError::from_insert(e, "a role with this name"))?;
        self.scope.audit(
            &AuditEvent::new(actor, "role.created", format!("role:{id}")).with_details(
                serde_json::json!({"permissions": permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>()}),
            ),
        )
        .await?;
        self.get(id).await
    }

    /// Changes a custom role (the caller refuses built-in ones first).
    pub async fn update(
        &mut self,
        id: RoleId,
        change: &RoleChange,
        actor: Actor,
    ) -> Result<Role, StoreError> {
        let current = self.get(id).await?;
        let name = change.name.clone().unwrap_or(current.name.clone());
        let perms = change
            .permissions
            .clone()
            .unwrap_or(current.permissions.clone());
        let t = self.scope.tenant_str().to_string();
        sqlx::query("UPDATE roles SET name = $1, permissions = $2 WHERE tenant_id = $3 AND role_id = $4 AND builtin = 0")
            .bind(name)
            .bind(permissions_json(&perms))
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await
            .map_err(|e| StoreError::from_insert(e, "a role with this name"))?;
        self.scope.audit(
            &AuditEvent::new(actor, "role.changed", format!("role:{id}")).with_details(
                serde_json::json!({"permissions": perms.iter().map(|p| p.as_str()).collect::<Vec<_>>()}),
            ),
        )
        .await?;
        self.get(id).await
    }

    /// How many users, API keys and support grants use a role.
    pub async fn usage(&mut self, id: RoleId) -> Result<i64, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let mut total = 0;
        for table in ["users", "api_keys", "support_grants"] {
            let extra = if table == "api_keys" {
                " AND revoked_at IS NULL"
            } else {
                ""
            };
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1 AND role_id = $2{extra}"
            )))
            .bind(t.clone())
            .bind(id.to_string())
            .fetch_one(self.scope.conn())
            .await?;
            total += row.try_get::<i64, _>(0)?;
        }
        Ok(total)
    }

    /// Deletes a custom role nobody uses (revoked keys that named it are deleted with it).
    pub async fn delete(&mut self, id: RoleId, actor: Actor) -> Result<(), StoreError> {
        let role = self.get(id).await?;
        if role.builtin {
            return Err(StoreError::Conflict("a built-in role"));
        }
        let t = self.scope.tenant_str().to_string();
        for table in ["api_keys", "support_grants"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND role_id = $2 AND revoked_at IS NOT NULL"
            )))
            .bind(t.clone())
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        }
        sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND role_id = $2 AND builtin = 0")
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        self.scope
            .audit(&AuditEvent::new(
                actor,
                "role.deleted",
                format!("role:{id}"),
            ))
            .await?;
        Ok(())
    }
}
