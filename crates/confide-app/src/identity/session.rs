//! Sign-in and sessions of team members.
//!
//! Sign-in answers unknown emails and wrong passwords alike (`invalid_credentials`), after the
//! same work: a write transaction reserving the attempt on the throttle counters
//! ([`super::throttle`]), an argon2 verification (a dummy one for unknown emails) and one write
//! transaction settling it. A second factor is spent in the transaction that creates the
//! session, so one code cannot open two sessions.

use super::throttle::{self, Attempt};
use crate::error::{AppError, Code};
use crate::origin::Origin;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::email::Email;
use confide_core::ids::{SessionId, TenantId, UserId};
use confide_crypto::password::Verification;
use confide_crypto::token::{SecretToken, hash_token};
use confide_crypto::totp::Totp;
use confide_store::sessions::NewSession;
use serde::Deserialize;
use serde_json::json;

pub use confide_store::sessions::Session;

/// Prefix of session tokens.
pub const SESSION_TOKEN_PREFIX: &str = "cfd_sess_";

/// A sign-in attempt.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// The member's email address.
    pub email: String,
    /// Their password.
    pub password: String,
    /// A current two-factor code (TOTP or recovery code), when the account has 2FA.
    #[serde(default)]
    pub totp: Option<String>,
    /// Which membership to sign in to, for a person who belongs to several tenants; without it,
    /// their oldest. A tenant they do not belong to answers like a wrong password.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A new session. `token` is its secret (for the cookie), shown only now.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub tenant: TenantId,
    pub expires_at: i64,
    /// How long the session lives at most, in seconds.
    pub lifetime_secs: i64,
    pub must_change_password: bool,
    pub two_factor_enrolment_required: bool,
}

pub fn invalid_credentials() -> AppError {
    AppError::new(
        Code::InvalidCredentials,
        "The email or password is not right.",
    )
}

/// How a verified password is completed: TOTP or a recovery code.
enum SecondFactor {
    NotEnrolled,
    Missing,
    Totp(i64),
    RecoveryCode([u8; 32]),
    Wrong,
}

fn second_factor(
    secret: Option<&[u8]>,
    last_step: Option<i64>,
    given: Option<&str>,
    now_secs: i64,
) -> SecondFactor {
    let Some(secret) = secret else {
        return SecondFactor::NotEnrolled;
    };
    let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) else {
        return SecondFactor::Missing;
    };
    if given.len() == 6 && given.bytes().all(|b| b.is_ascii_digit()) {
        return match Totp::new(secret).verify(given, now_secs, last_step) {
            Some(step) => SecondFactor::Totp(step),
            None => SecondFactor::Wrong,
        };
    }
    SecondFactor::RecoveryCode(super::secrets::recovery_code_hash(given))
}

/// In a tenant transaction: confirms a failed password check (already counted by its
/// reservation), audits it as `action` with its reason, and audits `session.locked` when this
/// failure brought the account to the cap.
pub(crate) async fn audit_failure(
    s: &mut confide_store::Scope<'_>,
    attempt: &Attempt,
    actor: Actor,
    action: &str,
    target: String,
    reason: &str,
    origin: &Origin,
) -> Result<(), AppError> {
    attempt.failed_in(s).await?;
    s.audit(
        &origin.stamp(
            AuditEvent::new(actor.clone(), action, target.clone())
                .with_details(json!({"reason": reason, "known_ip": attempt.known_ip()})),
        ),
    )
    .await?;
    if attempt.reached_cap() {
        s.audit(
            &origin.stamp(
                AuditEvent::new(actor, "session.locked", target.clone())
                    .with_details(json!({"failures": throttle::HARD_CAP})),
            ),
        )
        .await?;
        tracing::warn!(event = "session.locked", target = %target, "account reached the failed password check cap");
    }
    Ok(())
}

fn own_user(p: &Principal) -> Result<(UserId, SessionId), AppError> {
    p.user().ok_or_else(AppError::forbidden)
}

impl App {
    /// Signs a team member in.
    pub async fn sign_in(&self, body: Credentials, origin: &Origin) -> Result<SignedIn, AppError> {
        let now = self.clock.now_micros();
        let email = Email::parse(&body.email).ok();
        // An email that does not parse is throttled and answered like an unknown one.
        let email_lookup = match &email {
            Some(e) => self.store.login_email_lookup(e)?,
            None => hash_token(&body.email.trim().to_lowercase()).to_vec(),
        };
        let keys = throttle::Keys::tenant(&email_lookup, self.auth.ip_key(&origin.ip));
        // Counted as a failure from here until settled: concurrent guesses cannot share an
        // "allow".
        let attempt = throttle::reserve(&self.store, keys, now)
            .await?
            .map_err(throttle::too_many)?;
        let found = match &email {
            Some(e) => {
                let (_, memberships) = self.store.login_memberships(e).await?;
                match body.tenant_id.as_deref().map(str::trim) {
                    None | Some("") => memberships.into_iter().next(),
                    Some(wanted) => memberships
                        .into_iter()
                        .find(|(t, _)| t.to_string() == wanted),
                }
            }
            None => None,
        };
        let Some((tenant, user_id)) = found else {
            self.auth.dummy_verify(body.password.clone()).await?;
            attempt.failed(&self.store).await?;
            tracing::info!(event = "session.login_failed", "sign-in failed");
            return Err(invalid_credentials());
        };
        let (tenant_status, require_2fa) = self.store.tenant_settings(tenant).await?;
        let creds = {
            let mut s = self.store.read_scope(tenant).await?;
            let (_, c) = s.users().credentials(user_id).await?;
            s.commit().await?;
            c
        };
        let verification = self
            .auth
            .verify(body.password.clone(), creds.password_hash.clone())
            .await?;
        let password_ok = matches!(verification, Verification::Valid { .. });
        let usable = creds.status == "active" && tenant_status == "active";
        if !(password_ok && usable) {
            let reason = if password_ok {
                "account_disabled"
            } else {
                "wrong_password"
            };
            self.record_sign_in_failure(tenant, user_id, &attempt, reason, origin)
                .await?;
            return Err(invalid_credentials());
        }
        let factor = second_factor(
            creds.totp_secret.as_ref().map(|s| s.as_slice()),
            creds.totp_last_step,
            body.totp.as_deref(),
            now.div_euclid(1_000_000),
        );
        if matches!(factor, SecondFactor::Missing) {
            // The password was right: ask for the second factor (no failure is counted).
            attempt.withdrawn(&self.store).await?;
            return Err(AppError::new(
                Code::TotpRequired,
                "Enter the code from your authenticator app, or a recovery code.",
            ));
        }
        if matches!(factor, SecondFactor::Wrong) {
            self.record_sign_in_failure(tenant, user_id, &attempt, "wrong_totp", origin)
                .await?;
            return Err(invalid_credentials());
        }
        let rehash = match verification {
            Verification::Valid { needs_rehash: true } => Some(
                self.auth
                    .hash(body.password.clone(), self.entropy.clone())
                    .await?,
            ),
            _ => None,
        };
        let token = SecretToken::generate(self.entropy.as_ref(), SESSION_TOKEN_PREFIX);
        let absolute = self.auth.config.session_absolute_timeout_secs;
        let mut s = self.store.scope(tenant).await?;
        // The second factor is spent inside the transaction that creates the session, so the
        // same code cannot open two sessions.
        let spent = match factor {
            SecondFactor::Totp(step) => s.users().advance_totp_step(user_id, step).await?,
            SecondFactor::RecoveryCode(hash) => s.users().use_recovery_code(user_id, &hash).await?,
            _ => true,
        };
        if !spent {
            drop(s);
            self.record_sign_in_failure(tenant, user_id, &attempt, "wrong_totp", origin)
                .await?;
            return Err(invalid_credentials());
        }
        // Settles the reservation: the pair (and, from an address that is not known, the
        // account) is cleared; the address counter gets its reserved failure back. Counters
        // before the audit head, as on every path, so transactions take their locks in one
        // order.
        attempt.succeeded_in(&mut s).await?;
        if matches!(factor, SecondFactor::RecoveryCode(_)) {
            s.audit(&origin.stamp(AuditEvent::new(
                Actor::User(user_id.to_string()),
                "2fa.recovery_code_used",
                format!("user:{user_id}"),
            )))
            .await?;
        }
        if let Some(hash) = &rehash {
            s.users()
                .set_password_hash(user_id, hash, creds.must_change_password)
                .await?;
        }
        s.throttle_remember_ip(&attempt.keys.account, &attempt.keys.ip_index)
            .await?;
        let expires_at = now + absolute * 1_000_000;
        let session_id = s
            .sessions()
            .create(NewSession {
                user_id,
                token_hash: token.hash(),
                user_agent: origin
                    .user_agent
                    .as_ref()
                    .map(|v| v.chars().take(256).collect()),
                ip: Some(origin.ip.to_string()),
                expires_at,
            })
            .await?;
        s.audit(
            &origin.stamp(
                AuditEvent::new(
                    Actor::User(user_id.to_string()),
                    "session.login",
                    format!("session:{session_id}"),
                )
                .with_details(json!({
                    "rehashed": rehash.is_some(),
                    "second_factor": !matches!(factor, SecondFactor::NotEnrolled),
                })),
            ),
        )
        .await?;
        s.commit().await?;
        Ok(SignedIn {
            token: token.as_str().to_string(),
            session_id,
            user_id,
            tenant,
            expires_at,
            lifetime_secs: absolute,
            must_change_password: creds.must_change_password,
            two_factor_enrolment_required: require_2fa && creds.totp_secret.is_none(),
        })
    }

    /// Confirms a failed sign-in of a known account (already counted by its reservation) and
    /// audits it, in one transaction.
    async fn record_sign_in_failure(
        &self,
        tenant: TenantId,
        user_id: UserId,
        attempt: &Attempt,
        reason: &str,
        origin: &Origin,
    ) -> Result<(), AppError> {
        let mut s = self.store.scope(tenant).await?;
        audit_failure(
            &mut s,
            attempt,
            Actor::User(user_id.to_string()),
            "session.login_failed",
            format!("user:{user_id}"),
            reason,
            origin,
        )
        .await?;
        s.commit().await?;
        tracing::info!(event = "session.login_failed", tenant = %tenant, reason, "sign-in failed");
        Ok(())
    }

    /// Signs out: the server-side session is deleted.
    pub async fn sign_out(&self, p: &Principal) -> Result<(), AppError> {
        let (user_id, session_id) = own_user(p)?;
        let mut s = self.store.scope(p.tenant).await?;
        s.sessions().end(session_id, Some(user_id)).await?;
        s.audit(&AuditEvent::new(
            p.actor(),
            "session.logout",
            format!("session:{session_id}"),
        ))
        .await?;
        s.commit().await?;
        Ok(())
    }

    /// My sessions, and which one is this.
    pub async fn my_sessions(&self, p: &Principal) -> Result<(Vec<Session>, SessionId), AppError> {
        let (user_id, current) = own_user(p)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let sessions = s.sessions().list(user_id).await?;
        s.commit().await?;
        Ok((sessions, current))
    }

    /// Ends one of my sessions (another user's id is `not_found`).
    pub async fn end_my_session(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        let (user_id, _) = own_user(p)?;
        let session_id: SessionId = id.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.scope(p.tenant).await?;
        if !s.sessions().end(session_id, Some(user_id)).await? {
            return Err(AppError::not_found());
        }
        s.audit(&AuditEvent::new(
            p.actor(),
            "session.revoked",
            format!("session:{session_id}"),
        ))
        .await?;
        s.commit().await?;
        Ok(())
    }

    /// Ends all my other sessions; how many ended.
    pub async fn end_my_other_sessions(&self, p: &Principal) -> Result<u64, AppError> {
        let (user_id, current) = own_user(p)?;
        let mut s = self.store.scope(p.tenant).await?;
        let n = s.sessions().end_all(user_id, Some(current)).await?;
        s.audit(
            &AuditEvent::new(
                p.actor(),
                "session.revoked_others",
                format!("user:{user_id}"),
            )
            .with_details(json!({"ended": n})),
        )
        .await?;
        s.commit().await?;
        Ok(n)
    }
}
