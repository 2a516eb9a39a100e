//! The platform operator: its own sign-in (a separate identity, throttled like tenant sign-in),
//! tenants' metadata, creating, disabling and enabling tenants, and starting a support session in
//! a tenant that has granted one. Nothing here reads a tenant's conversations or contacts (C8).

use crate::error::{AppError, Code};
use crate::identity::secrets::one_time_password;
use crate::identity::session::{SESSION_TOKEN_PREFIX, invalid_credentials};
use crate::identity::throttle;
use crate::origin::Origin;
use crate::principal::PlatformPrincipal;
use crate::runtime::App;
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::ids::TenantId;
use confide_crypto::password::Verification;
use confide_crypto::password_policy;
use confide_crypto::token::SecretToken;
use serde::Deserialize;

pub use confide_store::tenants::TenantSummary;

/// Prefix of platform session tokens.
pub const PLATFORM_TOKEN_PREFIX: &str = "cfd_plat_";

/// A platform admin's sign-in.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PlatformCredentials {
    /// The administrator's email address.
    pub email: String,
    /// Their password.
    pub password: String,
}

/// A platform session; `token` is its secret, shown only now.
#[derive(Debug)]
pub struct PlatformSignedIn {
    pub token: String,
    pub session_id: String,
    pub admin_id: String,
    pub lifetime_secs: i64,
    pub must_change_password: bool,
}

/// A tenant to create, with its first owner.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewTenant {
    /// The tenant's name.
    pub name: String,
    /// The first owner's email address (they get a one-time password).
    pub owner_email: String,
}

/// A created tenant and its owner's one-time password (shown once).
#[derive(Debug)]
pub struct CreatedTenant {
    pub tenant_id: TenantId,
    pub owner_user_id: confide_core::ids::UserId,
    pub owner_password: String,
}

/// A support session in a tenant; `token` is its secret (the tenant session cookie).
#[derive(Debug)]
pub struct SupportSession {
    pub token: String,
    pub session_id: String,
    pub tenant: TenantId,
    pub grant_id: String,
    pub expires_at: i64,
    pub lifetime_secs: i64,
}

fn as_admin(admin: &PlatformPrincipal) -> Actor {
    Actor::User(format!("platform-admin:{}", admin.admin_id))
}

impl App {
    /// Signs a platform admin in: throttled like tenant sign-in (reserved before the check),
    /// the same answers.
    pub async fn platform_sign_in(
        &self,
        body: PlatformCredentials,
        origin: &Origin,
    ) -> Result<PlatformSignedIn, AppError> {
        let now = self.clock.now_micros();
        let email = Email::parse(&body.email).ok();
        let lookup = match &email {
            Some(e) => self.store.platform_email_lookup(e)?,
            None => confide_crypto::token::hash_token(&body.email).to_vec(),
        };
        let keys = throttle::Keys::platform(&lookup, self.auth.ip_key(&origin.ip));
        let attempt = throttle::reserve(&self.store, keys, now)
            .await?
            .map_err(throttle::too_many)?;
        let admin = self.store.platform_admin_by_lookup(&lookup).await?;
        let ok = match &admin {
            Some(a) => {
                matches!(
                    self.auth
                        .verify(body.password.clone(), a.password_hash.clone())
                        .await?,
                    Verification::Valid { .. }
                ) && a.status == "active"
            }
            None => {
                self.auth.dummy_verify(body.password.clone()).await?;
                false
            }
        };
        let Some(admin) = admin.filter(|_| ok) else {
            attempt.failed(&self.store).await?;
            tracing::warn!(event = "platform.login_failed", "platform sign-in failed");
            return Err(invalid_credentials());
        };
        attempt.succeeded(&self.store).await?;
        let token = SecretToken::generate(self.entropy.as_ref(), PLATFORM_TOKEN_PREFIX);
        let absolute = self.auth.config.session_absolute_timeout_secs;
        let session = self
            .store
            .create_platform_session(&admin.id, &token.hash(), now + absolute * 1_000_000)
            .await?;
        tracing::info!(event = "platform.login", admin = %admin.id, "platform admin signed in");
        Ok(PlatformSignedIn {
            token: token.as_str().to_string(),
            session_id: session,
            admin_id: admin.id,
            lifetime_secs: absolute,
            must_change_password: admin.must_change_password,
        })
    }

    pub async fn platform_sign_out(&self, admin: &PlatformPrincipal) -> Result<(), AppError> {
        self.store.end_platform_session(&admin.session_id).await?;
        Ok(())
    }

    /// Changes the admin's password; the current one is checked under the platform sign-in's
    /// throttle (a wrong one counts as a failed sign-in).
    pub async fn platform_change_password(
        &self,
        admin: &PlatformPrincipal,
        current: &str,
        new: &str,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let record = self.store.platform_admin(&admin.admin_id).await?;
        let lookup = self.store.throttle_platform_lookup(&admin.admin_id).await?;
        let keys = throttle::Keys::platform(&lookup, self.auth.ip_key(&origin.ip));
        let attempt = throttle::reserve(&self.store, keys, self.clock.now_micros())
            .await?
            .map_err(throttle::too_many)?;
        if !matches!(
            self.auth
                .verify(current.to_string(), record.password_hash)
                .await?,
            Verification::Valid { .. }
        ) {
            attempt.failed(&self.store).await?;
            tracing::warn!(event = "platform.reauth_failed", admin = %admin.admin_id, "wrong current password");
            return Err(AppError::new(
                Code::WrongPassword,
                "The current password is not right.",
            ));
        }
        attempt.succeeded(&self.store).await?;
        password_policy::check(new, None, false)?;
        let hash = self
            .auth
            .hash(new.to_string(), self.entropy.clone())
            .await?;
        self.store
            .set_platform_password(&admin.admin_id, &hash, false)
            .await?;
        Ok(())
    }

    /// Tenants' metadata.
    pub async fn list_tenants(
        &self,
        _admin: &PlatformPrincipal,
    ) -> Result<Vec<TenantSummary>, AppError> {
        Ok(self.store.list_tenants().await?)
    }

    /// A tenant and its first owner, who gets a one-time password.
    pub async fn create_tenant(
        &self,
        admin: &PlatformPrincipal,
        new: NewTenant,
    ) -> Result<CreatedTenant, AppError> {
        let email = Email::parse(&new.owner_email)
            .map_err(|_| AppError::invalid(Code::InvalidEmail, "Not a valid email address."))?;
        let password = one_time_password(self.entropy.as_ref());
        let hash = self
            .auth
            .hash(password.clone(), self.entropy.clone())
            .await?;
        let created = self
            .store
            .create_tenant(&new.name, &email, &hash, as_admin(admin))
            .await
            .map_err(|e| match e {
                confide_store::StoreError::Config(m) => AppError::invalid(Code::InvalidName, m),
                e => e.into(),
            })?;
        Ok(CreatedTenant {
            tenant_id: created.tenant_id,
            owner_user_id: created.owner_user_id,
            owner_password: password,
        })
    }

    /// `active` or `disabled`.
    pub async fn set_tenant_status(
        &self,
        admin: &PlatformPrincipal,
        tenant: &str,
        status: &str,
    ) -> Result<(), AppError> {
        let tenant: TenantId = tenant.parse().map_err(|_| AppError::not_found())?;
        self.store
            .set_tenant_status(tenant, status, as_admin(admin))
            .await?;
        Ok(())
    }

    /// A support session, only with an active grant from that tenant to this admin; it carries
    /// the grant's role and ends with the grant.
    pub async fn start_support_session(
        &self,
        admin: &PlatformPrincipal,
        tenant: &str,
    ) -> Result<SupportSession, AppError> {
        let tenant: TenantId = tenant.parse().map_err(|_| AppError::not_found())?;
        let now = self.clock.now_micros();
        let mut s = match self.store.scope(tenant).await {
            Ok(s) => s,
            Err(confide_store::StoreError::NotFound) => return Err(AppError::not_found()),
            Err(e) => return Err(e.into()),
        };
        let Some(grant) = s.active_grant_for(&admin.admin_id).await? else {
            return Err(AppError::not_found());
        };
        let token = SecretToken::generate(self.entropy.as_ref(), SESSION_TOKEN_PREFIX);
        let absolute = self.auth.config.session_absolute_timeout_secs * 1_000_000;
        let expires_at = grant.expires_at.min(now + absolute);
        let session = s
            .create_support_session(&grant, &token.hash(), expires_at)
            .await?;
        s.commit().await?;
        Ok(SupportSession {
            token: token.as_str().to_string(),
            session_id: session.to_string(),
            tenant,
            grant_id: grant.id,
            expires_at,
            lifetime_secs: (expires_at - now).div_euclid(1_000_000),
        })
    }
}
