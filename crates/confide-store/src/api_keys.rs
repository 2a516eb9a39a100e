//! API keys: per tenant, scoped to a role, stored as SHA-256 only (the key is shown once),
//! revocable, with the time of last use.

use crate::error::StoreError;
use crate::scope::Scope;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::{ApiKeyId, RoleId};
use serde::Serialize;
use sqlx::Row;

/// An API key's metadata (never the key).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role_id: RoleId,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "key_id, name, role_id, created_at, last_used_at, revoked_at";

fn key_from_row(r: &sqlx::any::AnyRow) -> Result<ApiKey, StoreError> {
    let id: String = r.try_get(0)?;
    let role: String = r.try_get(2)?;
    Ok(ApiKey {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt("key id".into()))?,
        name: r.try_get(1)?,
        role_id: role
            .parse()
            .map_err(|_| StoreError::Corrupt("role id".into()))?,
        created_at: r.try_get(3)?,
        last_used_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}

impl<'s> Scope<'s> {
    /// The tenant's API keys.
    pub fn api_keys(&mut self) -> ApiKeys<'_, 's> {
        ApiKeys { scope: self }
    }
}

/// What can be done to the tenant's API keys, in the scope's transaction: create one (its hash),
/// list, read, revoke one or all, record a use.
pub struct ApiKeys<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl ApiKeys<'_, '_> {
    /// Stores a new key's hash under a role.
    pub async fn create(
        &mut self,
        name: &str,
        role_id: RoleId,
        key_hash: &[u8; 32],
        actor: Actor,
    ) -> Result<ApiKey, StoreError> {
        let id = ApiKeyId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let now = self.scope.now();
        let t = self.scope.tenant_str().to_string();
        self.scope
            .insert_principal(key_hash, "api_key", &id.to_string())
            .await?;
        sqlx::query("INSERT INTO api_keys (tenant_id, key_id, name, role_id, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(t)
            .bind(id.to_string())
            .bind(name.to_string())
            .bind(role_id.to_string())
            .bind(key_hash.to_vec())
            .bind(now)
            .execute(self.scope.conn())
            .await
            .map_err(|e| StoreError::from_insert(e, "an API key with this hash"))?;
        self.scope
            .audit(
                &AuditEvent::new(actor, "api_key.created", format!("api_key:{id}"))
                    .with_details(serde_json::json!({"role_id": role_id.to_string()})),
            )
            .await?;
        self.get(id).await
    }

    pub async fn list(&mut self) -> Result<Vec<ApiKey>, StoreError> {
        let rows = self
            .scope
            .tenant_rows(format!(
                "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, key_id"
            ))
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// A key of this tenant ([`StoreError::NotFound`] for any other id).
    pub async fn get(&mut self, id: ApiKeyId) -> Result<ApiKey, StoreError> {
        let row = self
            .scope
            .tenant_row(
                format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 AND key_id = $2"),
                id.to_string(),
            )
            .await?;
        key_from_row(&row)
    }

    /// Revokes a key: it stops working at once (its lookup row goes).
    pub async fn revoke(&mut self, id: ApiKeyId, actor: Actor) -> Result<ApiKey, StoreError> {
        let key = self.get(id).await?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        let now = self.scope.now();
        let t = self.scope.tenant_str().to_string();
        self.scope
            .delete_principals("api_key", &[id.to_string()])
            .await?;
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND key_id = $3")
            .bind(now)
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        self.scope
            .audit(&AuditEvent::new(
                actor,
                "api_key.revoked",
                format!("api_key:{id}"),
            ))
            .await?;
        self.get(id).await
    }

    /// Records a use of the key.
    pub async fn touch(&mut self, id: ApiKeyId, at: i64) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE tenant_id = $2 AND key_id = $3")
            .bind(at)
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        Ok(())
    }

    /// Revokes every key of the tenant (incident response); returns how many.
    pub async fn revoke_all(&mut self, actor: Actor) -> Result<u64, StoreError> {
        let ids: Vec<ApiKeyId> = self
            .list()
            .await?
            .into_iter()
            .filter(|k| k.revoked_at.is_none())
            .map(|k| k.id)
            .collect();
        for id in &ids {
            self.revoke(*id, actor.clone()).await?;
        }
        Ok(ids.len() as u64)
    }
}
