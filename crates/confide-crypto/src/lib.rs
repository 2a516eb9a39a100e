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
mod error;
pub mod keyring;
pub mod media;
pub mod media_link;
pub mod password;
pub mod password_policy;
mod primitives;
pub mod token;
pub mod totp;

pub use envelope::{DataKey, FieldRef, TenantKeys, envelope_key_version};
pub use error::CryptoError;
pub use keyring::{KekInfo, Keyring, KeyringError, WrappedKey};
pub use password::{PasswordHasher, PasswordParams, Verification};
pub use token::{SecretToken, constant_time_eq, hash_token};
