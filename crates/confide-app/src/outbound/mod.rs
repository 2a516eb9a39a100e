//! Outbound messages. Every send passes the one send gate (role, channel health, template,
//! consent, window) in [`send`] before it reaches the outbox, and again in the [`dispatcher`],
//! the only code that hands a message to Graph. Here too: how a contact is addressed, and
//! [`graph::graph_client`], the one way the server builds a Graph client (always behind the
//! egress guard).

pub mod dispatcher;
pub mod graph;
pub mod health;
pub mod lease;
pub mod reasons;
pub mod send;
pub mod template_args;

use confide_store::contacts::Contact;
use confide_whatsapp::send::Recipient;

/// Why a contact cannot be messaged at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the contact has neither a phone number nor a WhatsApp user id")]
    NoAddress,
    #[error(
        "authentication templates need a phone number; this contact has only a WhatsApp user id"
    )]
    AuthenticationNeedsPhone,
}

/// How Meta is told who a message is for: the phone number when the business has it (`to`,
/// accepted for every kind of message), otherwise the business-scoped user id (`recipient`), as
/// for a customer with a username who withholds their phone. Authentication templates cannot go
/// to a BSUID (Meta answers 131062), so for them a phone is required.
pub fn recipient_for(
    contact: &Contact,
    authentication_template: bool,
) -> Result<Recipient, AddressError> {
    if let Some(phone) = &contact.phone {
        return Ok(Recipient::Phone(phone.as_str().to_string()));
    }
    if authentication_template {
        return Err(AddressError::AuthenticationNeedsPhone);
    }
    match &contact.wa_user_id {
        Some(bsuid) => Recipient::bsuid(bsuid).map_err(|_| AddressError::NoAddress),
        None => Err(AddressError::NoAddress),
    }
}
