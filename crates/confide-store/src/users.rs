//! Team members. The email is sealed; login finds it through a keyring-keyed blind index held
//! in `principals` (the only table searched before the tenant is known).

use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
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

/// A team member, decrypted.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    #[serde(serialize_with = "email_text")]
    pub email: Email,
    pub role_id: RoleId,
    pub status: String,
    pub must_change_password: bool,
    pub totp_enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

fn email_text<S: serde::Serializer>(e: &Email, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(e.as_str())
}

/// What login and password changes need of a user (never serialised).
pub struct Credentials {
    pub user_id: UserId,
    pub email: Email,
    pub role_id: RoleId,
    pub password_hash: String,
    pub status: String,
    pub must_change_password: bool,
    pub totp_secret: Option<zeroize::Zeroizing<Vec<u8>>>,
    pub totp_last_step: Option<i64>,
}

const USER_COLUMNS: &str = "user_id, email_ct, role_id, status, must_change_password, totp_ct, created_at, updated_at, password_hash, totp_last_step";

/// What may change about a user.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role_id: Option<RoleId>,
    pub status: Option<String>,
}

impl<'s> Scope<'s> {
    /// The tenant's team members.
    pub fn users(&mut self) -> Users<'_, 's> {
        Users { scope: self }
    }
}

/// What can be done to the tenant's team members, in the scope's transaction: add, read (with
/// credentials), list, change role or status, delete; passwords, two-factor secrets and
/// recovery codes. Finding a login's memberships, before any tenant is known, is on [`Store`].
pub struct Users<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Users<'_, '_> {
    /// Adds a team member; a second account with the same email (in any tenant) is a conflict.
    pub async fn create(&mut self, user: NewUser, actor: Actor) -> Result<UserId, StoreError> {
        let id = UserId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let now = self.scope.now();
        let lookup = self.scope.store.login_email_index(&user.email)?;
        let email_ct =
            self.scope
                .seal_str("users", "email", &id.to_string(), user.email.as_str())?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query("INSERT INTO principals (lookup, kind, tenant_id, subject_id, created_at) VALUES ($1, 'email', $2, $3, $4)")
            .bind(lookup.clone())
            .bind(t.clone())
            .bind(id.to_string())
            .bind(now)
            .execute(self.scope.conn())
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
        .execute(self.scope.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "a user with this email"))?;
        self.scope
            .audit(&AuditEvent::new(
                actor,
                "user.created",
                format!("user:{id}"),
            ))
            .await?;
        Ok(id)
    }

    fn user_from_row(&self, r: &sqlx::any::AnyRow) -> Result<(User, Credentials), StoreError> {
        use sqlx::Row;
        let id: String = r.try_get(0)?;
        let email_ct: Vec<u8> = r.try_get(1)?;
        let role: String = r.try_get(2)?;
        let totp_ct: Option<Vec<u8>> = r.try_get(5)?;
        let email_text = self.scope.open_string("users", "email", &id, &email_ct)?;
        let email =
            Email::parse(&email_text).map_err(|_| StoreError::Corrupt("users.email".into()))?;
        let totp_secret = totp_ct
            .map(|ct| self.scope.open("users", "totp", &id, &ct))
            .transpose()?;
        let user_id: UserId = id
            .parse()
            .map_err(|_| StoreError::Corrupt("user id".into()))?;
        let role_id: RoleId = role
            .parse()
            .map_err(|_| StoreError::Corrupt("role id".into()))?;
        let status: String = r.try_get(3)?;
        let must_change = r.try_get::<i64, _>(4)? != 0;
        let user = User {
            id: user_id,
            email: email.clone(),
            role_id,
            status: status.clone(),
            must_change_password: must_change,
            totp_enabled: totp_secret.is_some(),
            created_at: r.try_get(6)?,
            updated_at: r.try_get(7)?,
        };
        let creds = Credentials {
            user_id,
            email,
            role_id,
            password_hash: r.try_get(8)?,
            status,
            must_change_password: must_change,
            totp_secret,
            totp_last_step: r.try_get(9)?,
        };
        Ok((user, creds))
    }

    /// Every team member of the tenant, oldest first.
    pub async fn list(&mut self) -> Result<Vec<User>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY created_at, user_id"
        )))
        .bind(t)
        .fetch_all(self.scope.conn())
        .await?;
        rows.iter()
            .map(|r| self.user_from_row(r).map(|(u, _)| u))
            .collect()
    }

    /// A team member of this tenant ([`StoreError::NotFound`] for any other id).
    pub async fn get(&mut self, id: UserId) -> Result<User, StoreError> {
        self.credentials(id).await.map(|(u, _)| u)
    }

    /// A team member and their credentials.
    pub async fn credentials(&mut self, id: UserId) -> Result<(User, Credentials), StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND user_id = $2"
        )))
        .bind(t)
        .bind(id.to_string())
        .fetch_optional(self.scope.conn())
        .await?;
        match row {
            Some(r) => self.user_from_row(&r),
            None => Err(StoreError::NotFound),
        }
    }

    /// Replaces the password hash (a rehash at login, a change, or a reset).
    pub async fn set_password_hash(
        &mut self,
        id: UserId,
        password_hash: &str,
        must_change_password: bool,
    ) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        let done = sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 WHERE tenant_id = $4 AND user_id = $5")
            .bind(password_hash.to_string())
            .bind(i64::from(must_change_password))
            .bind(now)
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Changes a user's role and/or status (`active` or `disabled`).
    pub async fn update(&mut self, id: UserId, change: &UserChange) -> Result<User, StoreError> {
        let current = self.get(id).await?;
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        sqlx::query("UPDATE users SET role_id = $1, status = $2, updated_at = $3 WHERE tenant_id = $4 AND user_id = $5")
            .bind(change.role_id.unwrap_or(current.role_id).to_string())
            .bind(change.status.clone().unwrap_or(current.status))
            .bind(now)
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        self.get(id).await
    }

    /// Deletes a user, their sessions and their login email.
    pub async fn delete(&mut self, id: UserId) -> Result<(), StoreError> {
        self.get(id).await?;
        self.scope.sessions().end_all(id, None).await?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "DELETE FROM principals WHERE kind = 'email' AND tenant_id = $1 AND subject_id = $2",
        )
        .bind(t.clone())
        .bind(id.to_string())
        .execute(self.scope.conn())
        .await?;
        sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND user_id = $2")
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        Ok(())
    }

    /// Active users holding the built-in owner role.
    pub async fn count_active_owners(&mut self) -> Result<i64, StoreError> {
        use sqlx::Row;
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(
            "SELECT COUNT(*) FROM users u JOIN roles r ON r.tenant_id = u.tenant_id AND r.role_id = u.role_id \
             WHERE u.tenant_id = $1 AND u.status = 'active' AND r.builtin = 1 AND r.name = 'owner'",
        )
        .bind(t)
        .fetch_one(self.scope.conn())
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Starts 2FA enrolment: keeps the new secret sealed until it is confirmed.
    pub async fn set_totp_pending(&mut self, id: UserId, secret: &[u8]) -> Result<(), StoreError> {
        let ct = self
            .scope
            .seal("users", "totp_pending", &id.to_string(), secret)?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query("UPDATE users SET totp_pending_ct = $1 WHERE tenant_id = $2 AND user_id = $3")
            .bind(ct)
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        Ok(())
    }

    /// The secret of an enrolment not yet confirmed.
    pub async fn totp_pending(
        &mut self,
        id: UserId,
    ) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, StoreError> {
        use sqlx::Row;
        let t = self.scope.tenant_str().to_string();
        let row =
            sqlx::query("SELECT totp_pending_ct FROM users WHERE tenant_id = $1 AND user_id = $2")
                .bind(t)
                .bind(id.to_string())
                .fetch_optional(self.scope.conn())
                .await?
                .ok_or(StoreError::NotFound)?;
        let ct: Option<Vec<u8>> = row.try_get(0)?;
        ct.map(|ct| {
            self.scope
                .open("users", "totp_pending", &id.to_string(), &ct)
        })
        .transpose()
    }

    /// Turns 2FA on with `secret` (or off with `None`), recording the last used step.
    pub async fn set_totp(
        &mut self,
        id: UserId,
        secret: Option<&[u8]>,
        last_step: Option<i64>,
    ) -> Result<(), StoreError> {
        let ct = secret
            .map(|s| self.scope.seal("users", "totp", &id.to_string(), s))
            .transpose()?;
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        sqlx::query("UPDATE users SET totp_ct = $1, totp_pending_ct = NULL, totp_last_step = $2, updated_at = $3 WHERE tenant_id = $4 AND user_id = $5")
            .bind(ct)
            .bind(last_step)
            .bind(now)
            .bind(t.clone())
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        if secret.is_none() {
            sqlx::query("DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2")
                .bind(t)
                .bind(id.to_string())
                .execute(self.scope.conn())
                .await?;
        }
        Ok(())
    }

    /// Records an accepted TOTP step, only if it is later than the stored one (so two concurrent
    /// logins with the same code cannot both succeed). Returns whether it was recorded.
    pub async fn advance_totp_step(&mut self, id: UserId, step: i64) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let done = sqlx::query("UPDATE users SET totp_last_step = $1 WHERE tenant_id = $2 AND user_id = $3 AND (totp_last_step IS NULL OR totp_last_step < $1)")
            .bind(step)
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a user's recovery codes with these SHA-256 hashes.
    pub async fn replace_recovery_codes(
        &mut self,
        id: UserId,
        hashes: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        sqlx::query("DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2")
            .bind(t.clone())
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?;
        for h in hashes {
            sqlx::query("INSERT INTO recovery_codes (tenant_id, user_id, code_hash, created_at) VALUES ($1, $2, $3, $4)")
                .bind(t.clone())
                .bind(id.to_string())
                .bind(h.to_vec())
                .bind(now)
                .execute(self.scope.conn())
                .await?;
        }
        Ok(())
    }

    /// Spends a recovery code: true only the first time an unused code's hash is presented.
    pub async fn use_recovery_code(
        &mut self,
        id: UserId,
        hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        let done = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE tenant_id = $2 AND user_id = $3 AND code_hash = $4 AND used_at IS NULL")
            .bind(now)
            .bind(t)
            .bind(id.to_string())
            .bind(hash.to_vec())
            .execute(self.scope.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Unused recovery codes left.
    pub async fn recovery_codes_left(&mut self, id: UserId) -> Result<i64, StoreError> {
        use sqlx::Row;
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query("SELECT COUNT(*) FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL")
            .bind(t)
            .bind(id.to_string())
            .fetch_one(self.scope.conn())
            .await?;
        Ok(row.try_get(0)?)
    }
}

impl Store {
    /// The global lookup key of a login email.
    pub(crate) fn login_email_index(&self, email: &Email) -> Result<Vec<u8>, StoreError> {
        self.keys()
            .platform_blind_index(LOGIN_EMAIL_INDEX, email.as_str().as_bytes())
    }

    /// The membership a login email signs in to when no tenant is named: its oldest (`None` for
    /// an unknown email), and the email's global lookup key (used to throttle the account, known
    /// or not). One person may be a member of several tenants, each membership with its own
    /// password; [`Self::login_memberships`] lists them all.
    pub async fn find_login(
        &self,
        email: &Email,
    ) -> Result<(Vec<u8>, Option<(confide_core::ids::TenantId, UserId)>), StoreError> {
        let (lookup, all) = self.login_memberships(email).await?;
        Ok((lookup, all.into_iter().next()))
    }

    /// Every tenant a login email is a member of, oldest membership first, and the email's
    /// global lookup key.
    pub async fn login_memberships(
        &self,
        email: &Email,
    ) -> Result<(Vec<u8>, Vec<(confide_core::ids::TenantId, UserId)>), StoreError> {
        use sqlx::Row;
        let lookup = self.login_email_index(email)?;
        let rows = sqlx::query(
            "SELECT tenant_id, subject_id FROM principals WHERE lookup = $1 AND kind = 'email' \
             ORDER BY created_at, subject_id LIMIT 100",
        )
        .bind(lookup.clone())
        .fetch_all(self.pool())
        .await?;
        let found = rows
            .iter()
            .map(|r| {
                let t: String = r.try_get(0)?;
                let u: String = r.try_get(1)?;
                Ok((
                    t.parse()
                        .map_err(|_| StoreError::Corrupt("tenant id".into()))?,
                    u.parse()
                        .map_err(|_| StoreError::Corrupt("user id".into()))?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((lookup, found))
    }

    /// The global lookup key of a login email (for throttling).
    pub fn login_email_lookup(&self, email: &Email) -> Result<Vec<u8>, StoreError> {
        self.login_email_index(email)
    }
}
