//! Store errors: typed, so the edge can map them once; details stay in logs.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(&'static str),
    #[error("configuration: {0}")]
    Config(String),
    #[error("stored data could not be decrypted or decoded: {0}")]
    Corrupt(String),
    #[error("key management: {0}")]
    Keys(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`], anything else to Database.
    pub(crate) fn from_insert(e: sqlx::Error, what: &'static str) -> StoreError {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(what);
        }
        StoreError::Database(e)
    }

    /// True when the database itself is unreachable or failing (the caller should answer 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Tls(_)
            )
        )
    }
}

impl From<confide_crypto::CryptoError> for StoreError {
    fn from(e: confide_crypto::CryptoError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// An id read back from a row; a value that is not one is corrupt data, named by `what`.
pub(crate) fn parse_id<T: std::str::FromStr>(s: String, what: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} id")))
}
