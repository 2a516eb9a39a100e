//! [`SimError`]: errors of the control API and of starting the simulator.

/// Errors of the control API and of starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("unknown phone number id {0}")]
    UnknownNumber(String),
    #[error("unknown user {0}")]
    UnknownUser(String),
    #[error("unknown template {name} ({language}) in WABA {waba_id}")]
    UnknownTemplate {
        waba_id: String,
        name: String,
        language: String,
    },
    #[error("phone number {0} has no callback url")]
    NoCallback(String),
    #[error("invalid config: {0}")]
    Config(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(String),
}
