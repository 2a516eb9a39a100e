//! [`SendError`], why an outbound body was refused, and [`check_text`], the length check every
//! constructor uses.

/// Why an outbound body was refused before it was sent. Field names are static; no input is echoed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {len} characters; at most {max} allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} has {len} items; at most {max} allowed")]
    TooMany {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} holds the same id twice")]
    DuplicateId { field: &'static str },
    #[error("{field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("{field} is not allowed on a {kind} message")]
    NotAllowed {
        field: &'static str,
        kind: &'static str,
    },
    #[error("the recipient is not a phone number with a country code")]
    InvalidPhone,
    #[error("the recipient is not a business-scoped user id")]
    InvalidBsuid,
}

/// Checks a free-text field: non-empty (when required) and at most `max` characters.
pub(crate) fn check_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<(), SendError> {
    if required && s.trim().is_empty() {
        return Err(SendError::Empty { field });
    }
    let len = s.chars().count();
    if len > max {
        return Err(SendError::TooLong { field, len, max });
    }
    Ok(())
}
