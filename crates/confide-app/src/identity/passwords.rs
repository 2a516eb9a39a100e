//! Password hashing on a bounded pool. argon2id at OWASP cost takes tens of milliseconds and
//! 19 MiB per hash; every hash or verification runs on the blocking pool only after taking a
//! permit from a semaphore sized to the cores, so a flood of logins queues here (and gets 503
//! after a wait) instead of starving webhooks and the rest of the API.

use crate::config::AuthConfig;
use crate::error::AppError;
use confide_core::entropy::SharedEntropy;
use confide_crypto::keyring::Keyring;
use confide_crypto::password::{PasswordHasher, Verification};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a request waits for a hashing permit before giving up with 503.
const PERMIT_WAIT: Duration = Duration::from_secs(10);

/// What authentication needs at run time: the hasher, its semaphore, the keyring (for keyed
/// hashes of client IPs) and the settings.
pub struct AuthRuntime {
    pub hasher: Arc<PasswordHasher>,
    pub permits: Arc<Semaphore>,
    pub keyring: Keyring,
    pub config: AuthConfig,
}

impl std::fmt::Debug for AuthRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRuntime")
            .field("hasher", &self.hasher)
            .field("permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl AuthRuntime {
    pub fn new(hasher: PasswordHasher, keyring: Keyring, config: AuthConfig) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let permits = if config.hashing_permits == 0 {
            cores
        } else {
            config.hashing_permits
        };
        AuthRuntime {
            hasher: Arc::new(hasher),
            permits: Arc::new(Semaphore::new(permits.max(1))),
            keyring,
            config,
        }
    }

    /// The runtime for a configuration: argon2id with the configured cost, peppered with the
    /// keyring's password pepper.
    pub fn from_config(
        config: &crate::config::Config,
        store: &confide_store::Store,
    ) -> Result<Self, String> {
        let keyring = store
            .keyring_snapshot()
            .map_err(|e| format!("keyring: {e}"))?;
        let params = confide_crypto::password::PasswordParams {
            m_cost_kib: config.password.m_cost_kib,
            t_cost: config.password.t_cost,
            p_cost: config.password.p_cost,
        };
        let hasher = PasswordHasher::new(params, Some(keyring.password_pepper()))
            .map_err(|e| format!("password: {e}"))?;
        Ok(Self::new(hasher, keyring, config.auth.clone()))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = tokio::time::timeout(PERMIT_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| AppError::unavailable())?
            .map_err(|_| AppError::unavailable())?;
        let hasher = self.hasher.clone();
        let out = tokio::task::spawn_blocking(move || {
            let out = work(&hasher);
            drop(permit);
            out
        })
        .await
        .map_err(|_| AppError::internal())?;
        Ok(out)
    }

    /// Verifies a password against a stored hash (a malformed hash counts as a mismatch and is
    /// logged).
    pub async fn verify(&self, password: String, phc: String) -> Result<Verification, AppError> {
        self.run(move |h| match h.verify(&password, &phc) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "stored password hash is unusable");
                Verification::Invalid
            }
        })
        .await
    }

    /// The same work as a verification, for unknown accounts.
    pub async fn dummy_verify(&self, password: String) -> Result<Verification, AppError> {
        self.run(move |h| h.dummy_verify(&password)).await
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String, entropy: SharedEntropy) -> Result<String, AppError> {
        self.run(move |h| h.hash(&password, entropy.as_ref()))
            .await?
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                AppError::internal()
            })
    }

    /// A keyed hash naming a client IP (never stored in clear).
    pub fn ip_key(&self, ip: &std::net::IpAddr) -> Vec<u8> {
        self.keyring
            .platform_blind_index("login-ip", ip.to_string().as_bytes())
            .to_vec()
    }
}
