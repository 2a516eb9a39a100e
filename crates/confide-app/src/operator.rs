//! The local operator's way in (feature `operator`): the CLI's commands and the demo run on the
//! machine that holds the database and the keyring, and some of them (migrations, key rotation,
//! seeding the demo) work on the store itself. Tests use it (feature `test-support`) to arrange
//! and inspect state. The HTTP crate never enables it: `cargo check -p confide-server` builds the
//! application layer without it, so a handler that reached for the store would not compile.

pub use confide_store as store;

impl crate::App {
    /// The store, for the local operator's commands and for tests.
    pub fn operator_store(&self) -> &confide_store::Store {
        &self.store
    }
}

/// A fresh one-time password and its argon2id hash (at the configured cost, peppered by the
/// keyring), for the operator's commands that create or reset an account without a running
/// server (`tenant create`, `user reset-password`, `platform-admin create`, the demo).
pub fn one_time_password_hash(
    config: &crate::Config,
    store: &confide_store::Store,
    entropy: &dyn confide_core::entropy::Entropy,
) -> Result<(String, String), String> {
    let auth = crate::identity::AuthRuntime::from_config(config, store)?;
    let password = crate::identity::secrets::one_time_password(entropy);
    let hash = auth
        .hasher
        .hash(&password, entropy)
        .map_err(|e| format!("password: {e}"))?;
    Ok((password, hash))
}
