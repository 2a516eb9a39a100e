//! API keys for integrations: listed, created (the key is returned once; only its hash is
//! stored), revoked. A key's role is one the caller could grant.

use crate::error::{AppError, Code};
use crate::identity::grants::may_grant;
use crate::identity::secrets;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::ids::{ApiKeyId, RoleId};
use confide_core::permissions::Permission;
use serde::Deserialize;

pub use confide_store::api_keys::ApiKey;

/// A key to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewKey {
    /// What the key is for.
    pub name: String,
    /// The key's role (one the caller could grant).
    pub role_id: String,
}

/// A new key and its secret, shown only now.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

impl App {
    pub async fn list_api_keys(&self, p: &Principal) -> Result<Vec<ApiKey>, AppError> {
        p.require(Permission::ApiKeysManage)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let keys = s.api_keys().list().await?;
        s.commit().await?;
        Ok(keys)
    }

    pub async fn create_api_key(&self, p: &Principal, new: NewKey) -> Result<CreatedKey, AppError> {
        p.require(Permission::ApiKeysManage)?;
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid(
                Code::InvalidName,
                "A key name needs 1 to 100 characters.",
            ));
        }
        let role_id: RoleId = new
            .role_id
            .parse()
            .map_err(|_| AppError::invalid(Code::InvalidRole, "No such role."))?;
        let mut s = self.store.scope(p.tenant).await?;
        let role = self.existing_role(&mut s, role_id).await?;
        may_grant(p, &role.permissions)?;
        let token = secrets::api_key(self.entropy.as_ref());
        let key = s
            .api_keys()
            .create(name, role_id, &token.hash(), p.actor())
            .await?;
        s.commit().await?;
        Ok(CreatedKey {
            key,
            secret: token.as_str().to_string(),
        })
    }

    pub async fn revoke_api_key(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::ApiKeysManage)?;
        let key_id: ApiKeyId = id.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.scope(p.tenant).await?;
        s.api_keys().revoke(key_id, p.actor()).await?;
        s.commit().await?;
        Ok(())
    }
}
