//! Team members. The email is sealed; login finds it through a keyring-keyed blind index held
//! in `principals` (the only table searched before the tenant is known).

use crate::StoreError;
use crate::scope::Scope;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::email::Email;
use confide_core::ids::{RoleId, UserId};

/// Blind-index purpose of login emails (keyed by the keyring, global across tenants).
pub const LOGIN_EMAIL_INDEX: &str = "login-email";

/// A team member to add.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub role_id: RoleId,
    /// A PHC string from `confide_crypto::password`.
    pub password_hash: String,
    pub must_change_password: bool,
}

impl Scope<'_> {
    /// Adds a team member; a second account with the same email (in any tenant) is a conflict.
    pub async fn insert_user(&mut self, user: NewUser, actor: Actor) -> Result<UserId, StoreError> {
        let id = UserId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
        let now = self.now();
        let lookup = self.store.login_email_index(&user.email)?;
        let email_ct = self.seal_str("users", "email", &id.to_string(), user.email.as_str())?;
        let t = self.tenant_str().to_string();
        sqlx::query("INSERT INTO principals (lookup, kind, tenant_id, subject_id) VALUES ($1, 'email', $2, $3)")
            .bind(lookup.clone())
            .bind(t.clone())
            .bind(id.to_string())
            .execute(self.conn())
            .await
            .map_err(|e| StoreError::from_insert(e, "a user with this email"))?;
        sqlx::query(
            "INSERT INTO users (tenant_id, user_id, email_ct, email_bidx, role_id, password_hash, must_change_password, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8)",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(email_ct)
        .bind(lookup)
        .bind(user.role_id.to_string())
        .bind(user.password_hash)
        .bind(i64::from(user.must_change_password))
        .bind(now)
        .execute(self.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "a user with this email"))?;
        self.audit(&AuditEvent::new(
            actor,
            "user.created",
            format!("user:{id}"),
        ))
        .await?;
        Ok(id)
    }
}

impl crate::Store {
    /// The global lookup key of a login email.
    pub(crate) fn login_email_index(&self, email: &Email) -> Result<Vec<u8>, StoreError> {
        let guard = self
            .inner
            .keyring
            .read()
            .map_err(|_| StoreError::Keys("keyring lock poisoned".into()))?;
        Ok(guard
            .platform_blind_index(LOGIN_EMAIL_INDEX, email.as_str().as_bytes())
            .to_vec())
    }
}
