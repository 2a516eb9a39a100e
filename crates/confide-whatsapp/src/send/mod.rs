//! Outbound Graph bodies (`POST /{version}/{PHONE_NUMBER_ID}/messages`) and the Graph responses.
//!
//! Constructors check Meta's documented limits and return [`SendError`] rather than let Meta refuse
//! the message later. The types also deserialise, so the simulator can read what the product sends
//! and check it with [`OutboundMessage::validate`].

mod interactive;
mod limits;
mod message;
mod response;
mod template;

pub use interactive::{Interactive, ListRow, ListSection, ReplyButton, TextObject};
pub use limits::*;
pub use message::{
    MarkRead, MediaKind, MediaObject, MediaSource, OutboundMessage, Payload, Reaction, Recipient,
    Text,
};
pub use response::{
    Cursors, GraphError, GraphErrorData, GraphErrorResponse, Paging, SendResponse, SentContact,
    SentMessage, SuccessResponse, TemplateComponentInfo, TemplateInfo, TemplateList,
    TemplateStatus, count_params, param_names,
};
pub use template::{
    ButtonSubType, ComponentKind, Language, Parameter, Template, TemplateComponent,
};

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
