//! Principals: the one table searched before the tenant is known. A bearer token's or cookie's
//! SHA-256 (a session, an API key, a support session) names its tenant and subject here; a
//! login email's keyring-keyed blind index names its memberships ([`crate::users`]).

use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use confide_core::ids::TenantId;
use sqlx::Row;

/// What a bearer token or cookie names, found through `principals`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub tenant: TenantId,
    /// `session`, `api_key` or `support_session`.
    pub kind: String,
    pub subject_id: String,
}

impl Store {
    /// Who a token hash belongs to, if anyone.
    pub async fn resolve_token(&self, hash: &[u8; 32]) -> Result<Option<TokenOwner>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant_id, kind, subject_id FROM principals WHERE lookup = $1 AND kind IN ('session', 'api_key', 'support_session')",
        )
        .bind(hash.to_vec())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let t: String = r.try_get(0)?;
        Ok(Some(TokenOwner {
            tenant: t
                .parse()
                .map_err(|_| StoreError::Corrupt("tenant id".into()))?,
            kind: r.try_get(1)?,
            subject_id: r.try_get(2)?,
        }))
    }
}

impl Scope<'_> {
    pub(crate) async fn insert_principal(
        &mut self,
        lookup: &[u8],
        kind: &str,
        subject: &str,
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO principals (lookup, kind, tenant_id, subject_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(lookup.to_vec())
        .bind(kind.to_string())
        .bind(t)
        .bind(subject.to_string())
        .execute(self.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "a token with this hash"))?;
        Ok(())
    }

    pub(crate) async fn delete_principals(
        &mut self,
        kind: &str,
        subjects: &[String],
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        for s in subjects {
            sqlx::query(
                "DELETE FROM principals WHERE kind = $1 AND tenant_id = $2 AND subject_id = $3",
            )
            .bind(kind.to_string())
            .bind(t.clone())
            .bind(s.clone())
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }
}
