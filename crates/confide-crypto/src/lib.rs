//! Confide's cryptography: everything that turns a secret into something safe to store.
//!
//! - [`keyring`]: key-encryption keys (KEKs) kept outside the database, in a file or the
//!   environment; they wrap each tenant's data keys and key the platform-wide blind index.
//! - [`envelope`]: field encryption with a tenant's data keys (AES-256-GCM, a key version on every
//!   ciphertext, associated data binding tenant, table, column and row) and per-tenant blind indexes.
//! - [`password`]: argon2id password hashing with PHC strings, rehash detection and an optional
//!   pepper.
//! - [`token`]: opaque random secrets (session tokens, API keys) and their stored SHA-256 hashes.
//!
//! Time and randomness come in as [`confide_core::clock::Clock`] and
//! [`confide_core::entropy::Entropy`]. Key material is zeroized on drop and never appears in
//! `Debug` output or errors.

pub mod envelope;
pub mod keyring;
pub mod password;
pub mod password_policy;
mod primitives;
pub mod token;
pub mod totp;

pub use envelope::{DataKey, FieldRef, TenantKeys, envelope_key_version};
pub use keyring::{KekInfo, Keyring, KeyringError, WrappedKey};
pub use password::{PasswordHasher, PasswordParams, Verification};
pub use token::{SecretToken, constant_time_eq, hash_token};

/// Why a cryptographic operation failed. No variant carries key bytes or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The ciphertext is shorter than its format requires.
    #[error("ciphertext is truncated or malformed")]
    Malformed,
    /// The ciphertext starts with a format byte this version does not know.
    #[error("unknown ciphertext format {0:#04x}")]
    UnknownFormat(u8),
    /// The ciphertext names a data key version the tenant does not have.
    #[error("no data key with version {0}")]
    UnknownKeyVersion(u32),
    /// The wrapped key names a key-encryption key the keyring does not have.
    #[error("no key-encryption key {0:?} in the keyring")]
    UnknownKek(String),
    /// Authentication failed: wrong key, wrong tenant/table/column/row, or tampered data.
    #[error("decryption failed: wrong key, wrong field, or tampered data")]
    Authentication,
    /// The decrypted bytes are not UTF-8 (the value was not encrypted as text).
    #[error("decrypted value is not valid UTF-8")]
    NotUtf8,
    /// The plaintext exceeds AES-GCM's limit of 64 GiB.
    #[error("plaintext is too long to encrypt")]
    TooLong,
    /// A stored password hash is not an argon2id PHC string within sane parameter limits.
    #[error("malformed or unsupported password hash")]
    MalformedHash,
    /// Password hashing parameters that argon2 rejects.
    #[error("invalid password hashing parameters")]
    InvalidParams,
    /// argon2 failed while hashing (for example, it could not allocate its memory).
    #[error("password hashing failed")]
    Hashing,
}
