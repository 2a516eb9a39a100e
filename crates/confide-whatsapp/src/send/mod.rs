//! Outbound Graph bodies (`POST /{version}/{PHONE_NUMBER_ID}/messages`) and the Graph responses.
//!
//! Constructors check Meta's documented limits and return [`SendError`] rather than let Meta refuse
//! the message later. The types also deserialise, so the simulator can read what the product sends
//! and check it with [`OutboundMessage::validate`].

mod error;
mod interactive;
mod limits;
mod media;
mod message;
mod response;
mod template;

pub use error::SendError;
pub(crate) use error::check_text;
pub use interactive::{Interactive, ListRow, ListSection, ReplyButton, TextObject};
pub use limits::*;
pub use media::{MediaKind, MediaObject, MediaSource};
pub use message::{MarkRead, OutboundMessage, Payload, Reaction, Recipient, Text};
pub use response::{
    Cursors, GraphError, GraphErrorData, GraphErrorResponse, Paging, SendResponse, SentContact,
    SentMessage, SuccessResponse, TemplateComponentInfo, TemplateInfo, TemplateList,
    TemplateStatus, count_params, param_names,
};
pub use template::{
    ButtonSubType, ComponentKind, Language, Parameter, Template, TemplateComponent,
};
