//! One's own account: who I am, my password, and my second factor (enrol, confirm, disable, new
//! recovery codes). Every change of password or 2FA needs the current password again and ends
//! my other sessions. Those password checks (and the code checks that go with them) are
//! throttled exactly like sign-in ([`super::throttle`]): a session does not buy unlimited
//! guesses at the password.

use super::secrets::{recovery_code_hash, recovery_codes};
use super::session::audit_failure;
use super::throttle::{self, Attempt};
use crate::error::{AppError, Code};
use crate::origin::Origin;
use crate::principal::{Principal, PrincipalKind};
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::ids::UserId;
use confide_crypto::password::Verification;
use confide_crypto::password_policy;
use confide_crypto::totp::{Totp, base32_encode};
use confide_store::roles::Role;
use confide_store::users::{Credentials, User};
use serde::Deserialize;
use serde_json::json;

/// Who the caller is: a member, an API key or a platform admin under a support grant.
#[derive(Debug)]
pub enum Identity {
    User(User),
    ApiKey { key_id: String },
    Support { admin_id: String, grant_id: String },
}

/// The caller and their role.
#[derive(Debug)]
pub struct Me {
    pub identity: Identity,
    pub role: Role,
}

/// A password change.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new password (checked against the password policy).
    pub new_password: String,
}

/// A new TOTP secret to scan (not active until confirmed).
#[derive(Debug)]
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

/// The password and a current code (TOTP or recovery), for a 2FA change.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordAndCode {
    /// The current password.
    pub password: String,
    /// A current TOTP code or a recovery code.
    pub code: String,
}

fn own_user(p: &Principal) -> Result<UserId, AppError> {
    p.user().map(|(u, _)| u).ok_or_else(AppError::forbidden)
}

impl App {
    /// Who the caller is.
    pub async fn me(&self, p: &Principal) -> Result<Me, AppError> {
        let mut s = self.store.read_scope(p.tenant).await?;
        let role = s.roles().get(p.role_id).await?;
        let identity = match &p.kind {
            PrincipalKind::User { user_id, .. } => Identity::User(s.users().get(*user_id).await?),
            PrincipalKind::ApiKey { key_id } => Identity::ApiKey {
                key_id: key_id.to_string(),
            },
            PrincipalKind::Support {
                admin_id, grant_id, ..
            } => Identity::Support {
                admin_id: admin_id.clone(),
                grant_id: grant_id.clone(),
            },
        };
        s.commit().await?;
        Ok(Me { identity, role })
    }

    /// Checks my current password (for changes that need it again), under the sign-in
    /// throttle: the check is reserved like a sign-in attempt of the account from the caller's
    /// address (`too_many_attempts` when throttled), and a wrong password counts as a failed
    /// sign-in (audited as `user.reauth_failed`). The caller settles the returned attempt once
    /// it knows the whole check passed.
    async fn confirm_password(
        &self,
        p: &Principal,
        password: &str,
        origin: &Origin,
    ) -> Result<(Credentials, Attempt), AppError> {
        let user_id = own_user(p)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let (_, creds) = s.users().credentials(user_id).await?;
        s.commit().await?;
        let lookup = self.store.login_email_lookup(&creds.email)?;
        let keys = throttle::Keys::tenant(&lookup, self.auth.ip_key(&origin.ip));
        let attempt = throttle::reserve(&self.store, keys, self.clock.now_micros())
            .await?
            .map_err(throttle::too_many)?;
        match self
            .auth
            .verify(password.to_string(), creds.password_hash.clone())
            .await?
        {
            Verification::Valid { .. } => Ok((creds, attempt)),
            Verification::Invalid => {
                self.reauth_failed(p, &attempt, "wrong_password", origin)
                    .await?;
                Err(AppError::new(
                    Code::WrongPassword,
                    "The current password is not right.",
                ))
            }
        }
    }

    /// Confirms a failed check of my own password or code (already counted) and audits it.
    async fn reauth_failed(
        &self,
        p: &Principal,
        attempt: &Attempt,
        reason: &str,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let user_id = own_user(p)?;
        let mut s = self.store.scope(p.tenant).await?;
        audit_failure(
            &mut s,
            attempt,
            p.actor(),
            "user.reauth_failed",
            format!("user:{user_id}"),
            reason,
            origin,
        )
        .await?;
        s.commit().await?;
        tracing::info!(event = "user.reauth_failed", tenant = %p.tenant, reason, "password check failed");
        Ok(())
    }

    /// Changes my password; my other sessions end.
    pub async fn change_my_password(
        &self,
        p: &Principal,
        change: PasswordChange,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let (creds, attempt) = self
            .confirm_password(p, &change.current_password, origin)
            .await?;
        attempt.succeeded(&self.store).await?;
        password_policy::check(
            &change.new_password,
            Some(creds.email.as_str()),
            creds.totp_secret.is_some(),
        )?;
        if change.new_password == change.current_password {
            return Err(AppError::invalid(
                Code::PasswordUnchanged,
                "Choose a new password.",
            ));
        }
        let hash = self
            .auth
            .hash(change.new_password.clone(), self.entropy.clone())
            .await?;
        let (user_id, session_id) = p.user().ok_or_else(AppError::forbidden)?;
        let mut s = self.store.scope(p.tenant).await?;
        s.users().set_password_hash(user_id, &hash, false).await?;
        let ended = s.sessions().end_all(user_id, Some(session_id)).await?;
        s.audit(
            &origin.stamp(
                AuditEvent::new(
                    p.actor(),
                    "user.password_changed",
                    format!("user:{user_id}"),
                )
                .with_details(json!({"other_sessions_ended": ended})),
            ),
        )
        .await?;
        s.commit().await?;
        Ok(())
    }

    /// A new secret to scan (not active until confirmed).
    pub async fn enrol_2fa(
        &self,
        p: &Principal,
        password: &str,
        origin: &Origin,
    ) -> Result<Enrolment, AppError> {
        let (creds, attempt) = self.confirm_password(p, password, origin).await?;
        attempt.succeeded(&self.store).await?;
        if creds.totp_secret.is_some() {
            return Err(AppError::new(
                Code::TwoFactorEnabled,
                "Two-factor authentication is already on; disable it first to enrol a new device.",
            ));
        }
        let secret = Totp::generate_secret(self.entropy.as_ref());
        let mut s = self.store.scope(p.tenant).await?;
        s.users().set_totp_pending(creds.user_id, &secret).await?;
        s.commit().await?;
        let totp = Totp::new(&secret);
        Ok(Enrolment {
            secret_base32: base32_encode(&secret),
            otpauth_uri: totp.otpauth_uri("Confide", creds.email.as_str()),
        })
    }

    /// Turns 2FA on with a code from the new secret; returns the recovery codes, once. Other
    /// sessions end.
    pub async fn confirm_2fa(&self, p: &Principal, code: &str) -> Result<Vec<String>, AppError> {
        let (user_id, session_id) = p.user().ok_or_else(AppError::forbidden)?;
        let now_secs = self.clock.now_micros().div_euclid(1_000_000);
        let mut s = self.store.scope(p.tenant).await?;
        let Some(secret) = s.users().totp_pending(user_id).await? else {
            return Err(AppError::invalid(
                Code::NoEnrolment,
                "Start with POST /api/v1/me/2fa/enroll.",
            ));
        };
        let Some(step) = Totp::new(&secret).verify(code, now_secs, None) else {
            return Err(AppError::invalid(
                Code::InvalidCode,
                "The code is not right.",
            ));
        };
        s.users()
            .set_totp(user_id, Some(&secret), Some(step))
            .await?;
        let codes = recovery_codes(self.entropy.as_ref());
        let hashes: Vec<[u8; 32]> = codes.iter().map(|c| recovery_code_hash(c)).collect();
        s.users().replace_recovery_codes(user_id, &hashes).await?;
        let ended = s.sessions().end_all(user_id, Some(session_id)).await?;
        s.audit(
            &AuditEvent::new(p.actor(), "2fa.enabled", format!("user:{user_id}"))
                .with_details(json!({"other_sessions_ended": ended})),
        )
        .await?;
        s.commit().await?;
        Ok(codes)
    }

    /// Checks password and a current TOTP code (or recovery code) for a 2FA change, both under
    /// the sign-in throttle: a wrong password or a wrong code counts as a failed sign-in.
    async fn confirm_both(
        &self,
        p: &Principal,
        body: &PasswordAndCode,
        origin: &Origin,
    ) -> Result<(Credentials, Option<i64>), AppError> {
        let (creds, attempt) = self.confirm_password(p, &body.password, origin).await?;
        let Some(secret) = creds.totp_secret.as_ref() else {
            // Not a failure: there is no code to check.
            attempt.withdrawn(&self.store).await?;
            return Err(AppError::invalid(
                Code::TwoFactorDisabled,
                "Two-factor authentication is not on.",
            ));
        };
        let now_secs = self.clock.now_micros().div_euclid(1_000_000);
        let step = Totp::new(secret).verify(&body.code, now_secs, creds.totp_last_step);
        if step.is_none() {
            let mut s = self.store.scope(p.tenant).await?;
            let ok = s
                .users()
                .use_recovery_code(creds.user_id, &recovery_code_hash(&body.code))
                .await?;
            s.commit().await?;
            if !ok {
                self.reauth_failed(p, &attempt, "wrong_code", origin)
                    .await?;
                return Err(AppError::invalid(
                    Code::InvalidCode,
                    "The code is not right.",
                ));
            }
        }
        attempt.succeeded(&self.store).await?;
        Ok((creds, step))
    }

    /// Turns 2FA off (not where the tenant requires it); other sessions end.
    pub async fn disable_2fa(
        &self,
        p: &Principal,
        body: PasswordAndCode,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let (creds, _) = self.confirm_both(p, &body, origin).await?;
        let (_, require) = self.store.tenant_settings(p.tenant).await?;
        if require {
            return Err(AppError::new(
                Code::TwoFactorRequired,
                "This organisation requires two-factor authentication.",
            ));
        }
        let (user_id, session_id) = p.user().ok_or_else(AppError::forbidden)?;
        let mut s = self.store.scope(p.tenant).await?;
        s.users().set_totp(creds.user_id, None, None).await?;
        let ended = s.sessions().end_all(user_id, Some(session_id)).await?;
        s.audit(
            &AuditEvent::new(p.actor(), "2fa.disabled", format!("user:{user_id}"))
                .with_details(json!({"other_sessions_ended": ended})),
        )
        .await?;
        s.commit().await?;
        Ok(())
    }

    /// Ten new recovery codes (the old ones stop working).
    pub async fn regenerate_recovery_codes(
        &self,
        p: &Principal,
        body: PasswordAndCode,
        origin: &Origin,
    ) -> Result<Vec<String>, AppError> {
        let (creds, step) = self.confirm_both(p, &body, origin).await?;
        let mut s = self.store.scope(p.tenant).await?;
        if let Some(step) = step {
            s.users().advance_totp_step(creds.user_id, step).await?;
        }
        let codes = recovery_codes(self.entropy.as_ref());
        let hashes: Vec<[u8; 32]> = codes.iter().map(|c| recovery_code_hash(c)).collect();
        s.users()
            .replace_recovery_codes(creds.user_id, &hashes)
            .await?;
        s.audit(&AuditEvent::new(
            p.actor(),
            "2fa.recovery_codes_replaced",
            format!("user:{}", creds.user_id),
        ))
        .await?;
        s.commit().await?;
        Ok(codes)
    }
}
