//! [`KeyringError`]: why the keyring could not be loaded, saved or changed.

use std::io;
use std::path::PathBuf;

/// Why the keyring could not be loaded, saved or changed. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No file at the path.
    #[error("keyring file {path} does not exist; create one with `confide keys init`")]
    NotFound {
        /// The keyring file's path.
        path: PathBuf,
    },
    /// The file's mode lets group or others access it.
    #[error(
        "keyring file {path} has mode {mode:03o}, which lets group or others access it; \
         run `chmod 600 {path}`"
    )]
    InsecurePermissions {
        /// The keyring file's path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file exists but could not be read.
    #[error("cannot read keyring file {path}: {source}")]
    Read {
        /// The keyring file's path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file (or its directory) could not be written.
    #[error("cannot write keyring file {path}: {source}")]
    Write {
        /// The keyring file's path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// [`Keyring::create_new`](super::Keyring::create_new) found a file already there.
    #[error("keyring file {path} already exists; refusing to overwrite it")]
    AlreadyExists {
        /// The keyring file's path.
        path: PathBuf,
    },
    /// The keyring's content is not a valid keyring.
    #[error("malformed keyring ({origin}): {reason}")]
    Malformed {
        /// The file path, or `inline JSON` for [`Keyring::from_json`](super::Keyring::from_json).
        origin: String,
        /// What is wrong (never key bytes).
        reason: String,
    },
    /// The keyring could not be encoded (a creation time outside RFC 3339's years 0–9999).
    #[error("cannot encode the keyring: {reason}")]
    Encode {
        /// What failed.
        reason: String,
    },
    /// [`Keyring::remove`](super::Keyring::remove) was asked to remove the primary KEK.
    #[error("{0} is the primary key-encryption key; rotate to a new one before removing it")]
    RemovePrimary(String),
    /// No KEK with this id.
    #[error("no key-encryption key {0} in the keyring")]
    UnknownKek(String),
}
