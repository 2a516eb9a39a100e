//! [`CryptoError`]: why a cryptographic operation failed, shared by every module of the crate.

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
