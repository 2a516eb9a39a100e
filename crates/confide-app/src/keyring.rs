//! Where the keyring comes from: inline configuration (`CONFIDE_KEYRING`), or the keyring file,
//! created on first start when missing.

use crate::config::Config;
use confide_core::clock::Clock;
use confide_core::entropy::Entropy;
use confide_crypto::keyring::{Keyring, KeyringError};
use confide_store::KeyringReload;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// What loading found.
pub enum Origin {
    Inline,
    File,
    Created,
}

/// Loads the keyring named by the configuration; creates the file when `create` and it is missing.
pub fn load(
    config: &Config,
    create: bool,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> Result<(Keyring, Origin), String> {
    if let Some(inline) = &config.keyring {
        return Keyring::from_json(inline.expose_secret())
            .map(|k| (k, Origin::Inline))
            .map_err(|e| format!("keyring: {e}"));
    }
    let path = &config.keyring_path;
    match Keyring::load(path) {
        Ok(k) => Ok((k, Origin::File)),
        Err(KeyringError::NotFound { .. }) if create => {
            let k = Keyring::generate(clock, entropy);
            k.create_new(path)
                .map_err(|e| format!("keyring_path: {e}"))?;
            Ok((k, Origin::Created))
        }
        Err(e) => Err(format!("keyring_path: {e}")),
    }
}

/// How the store reads the keyring again after another process rotated it.
pub fn reloader(config: &Config) -> Option<KeyringReload> {
    if config.keyring.is_some() {
        return None;
    }
    let path = config.keyring_path.clone();
    Some(Arc::new(move || {
        Keyring::load(&path).map_err(|e| e.to_string())
    }))
}
