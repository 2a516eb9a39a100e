//! Login sessions. Only a token's SHA-256 is stored (in `sessions` and, for the lookup that must
//! happen before the tenant is known, in [`crate::principals`]); the user agent and IP are
//! sealed.

use crate::error::StoreError;
use crate::scope::Scope;
use confide_core::ids::{SessionId, UserId};
use serde::Serialize;
use sqlx::Row;

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: UserId,
    pub token_hash: [u8; 32],
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Absolute expiry (Unix microseconds).
    pub expires_at: i64,
}

/// A stored session, decrypted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    #[serde(skip)]
    pub token_hash: Vec<u8>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

const COLUMNS: &str =
    "session_id, user_id, token_hash, created_at, last_seen_at, expires_at, user_agent_ct, ip_ct";

impl<'s> Scope<'s> {
    /// The tenant's login sessions.
    pub fn sessions(&mut self) -> Sessions<'_, 's> {
        Sessions { scope: self }
    }
}

/// What can be done to the tenant's login sessions, in the scope's transaction: create one, read
/// it, list a user's, record activity, end one or all of a user's.
pub struct Sessions<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Sessions<'_, '_> {
    /// Creates a session (the caller has made the token and keeps only its hash).
    pub async fn create(&mut self, new: NewSession) -> Result<SessionId, StoreError> {
        let id = SessionId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let row = id.to_string();
        let now = self.scope.now();
        let ua = new
            .user_agent
            .as_ref()
            .map(|v| self.scope.seal_str("sessions", "user_agent", &row, v))
            .transpose()?;
        let ip = new
            .ip
            .as_ref()
            .map(|v| self.scope.seal_str("sessions", "ip", &row, v))
            .transpose()?;
        let t = self.scope.tenant_str().to_string();
        self.scope
            .insert_principal(&new.token_hash, "session", &row)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (tenant_id, session_id, user_id, token_hash, created_at, last_seen_at, expires_at, user_agent_ct, ip_ct) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
        )
        .bind(t)
        .bind(row)
        .bind(new.user_id.to_string())
        .bind(new.token_hash.to_vec())
        .bind(now)
        .bind(new.expires_at)
        .bind(ua)
        .bind(ip)
        .execute(self.scope.conn())
        .await?;
        Ok(id)
    }

    fn session_from_row(&self, r: &sqlx::any::AnyRow) -> Result<Session, StoreError> {
        let id: String = r.try_get(0)?;
        let user: String = r.try_get(1)?;
        let ua: Option<Vec<u8>> = r.try_get(6)?;
        let ip: Option<Vec<u8>> = r.try_get(7)?;
        Ok(Session {
            user_agent: ua
                .map(|c| self.scope.open_string("sessions", "user_agent", &id, &c))
                .transpose()?,
            ip: ip
                .map(|c| self.scope.open_string("sessions", "ip", &id, &c))
                .transpose()?,
            id: id
                .parse()
                .map_err(|_| StoreError::Corrupt("session id".into()))?,
            user_id: user
                .parse()
                .map_err(|_| StoreError::Corrupt("user id".into()))?,
            token_hash: r.try_get(2)?,
            created_at: r.try_get(3)?,
            last_seen_at: r.try_get(4)?,
            expires_at: r.try_get(5)?,
        })
    }

    /// A session of this tenant.
    pub async fn get(&mut self, id: SessionId) -> Result<Session, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND session_id = $2"
        )))
        .bind(t)
        .bind(id.to_string())
        .fetch_optional(self.scope.conn())
        .await?;
        match row {
            Some(r) => self.session_from_row(&r),
            None => Err(StoreError::NotFound),
        }
    }

    /// A user's sessions, newest first.
    pub async fn list(&mut self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC"
        )))
        .bind(t)
        .bind(user.to_string())
        .fetch_all(self.scope.conn())
        .await?;
        rows.iter().map(|r| self.session_from_row(r)).collect()
    }

    /// Records activity (for the idle timeout).
    pub async fn touch(&mut self, id: SessionId, at: i64) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE tenant_id = $2 AND session_id = $3",
        )
        .bind(at)
        .bind(t)
        .bind(id.to_string())
        .execute(self.scope.conn())
        .await?;
        Ok(())
    }

    /// Ends one session of `user` (when given) or of anyone; false when there was none.
    pub async fn end(&mut self, id: SessionId, user: Option<UserId>) -> Result<bool, StoreError> {
        let session = match self.get(id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Ok(false),
            Err(e) => return Err(e),
        };
        if user.is_some_and(|u| u != session.user_id) {
            return Ok(false);
        }
        self.scope
            .delete_principals("session", &[id.to_string()])
            .await?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND session_id = $2")
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        Ok(true)
    }

    /// Ends every session of a user except `keep`; returns how many ended.
    pub async fn end_all(
        &mut self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        let ids: Vec<String> = self
            .list(user)
            .await?
            .into_iter()
            .map(|s| s.id)
            .filter(|id| Some(*id) != keep)
            .map(|id| id.to_string())
            .collect();
        self.scope.delete_principals("session", &ids).await?;
        let t = self.scope.tenant_str().to_string();
        for id in &ids {
            sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND session_id = $2")
                .bind(t.clone())
                .bind(id.clone())
                .execute(self.scope.conn())
                .await?;
        }
        Ok(ids.len() as u64)
    }
}
