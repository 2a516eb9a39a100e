//! The one send gate (DESIGN.md §2.2; SECURITY-CLAIMS C19, C20).
//!
//! Every outbound message (agent reply, API send, template, broadcast, automation, retry) needs a
//! [`Permit`], and the only way to get one is [`decide`]. The gate is pure: it does no I/O, never
//! reads the clock (the decision time `now`, Unix microseconds, is a parameter), and keeps no
//! state; the caller loads the facts ([`SendFacts`]) and passes them in. A retry is decided again,
//! at its own `now`, with the path of the send it retries: a permit is good for one attempt.
//!
//! # Check order
//!
//! The checks run in this order and the first failure is the answer ([`Refusal::code`] is the
//! API's 422 code):
//!
//! 1. **role** — the sender holds the path's permission ([`SendPath::required_permission`]:
//!    `broadcasts.send` for broadcasts, `inbox.reply` for everything else) → `forbidden`;
//! 2. **channel health** — the channel is not stopped (after Meta errors 190, 368 or 131031, see
//!    [`stops_channel`], or by an administrator) → `channel_disabled`;
//! 3. **template** (template sends only) — a template with that name and language exists and is
//!    APPROVED (every other status is refused) → `template_not_approved`; the number of
//!    parameters equals the template's → `template_params`;
//! 4. **consent** for the send's purpose, from the contact's [`ConsentLedger`] (see below) →
//!    `no_consent`;
//! 5. **the 24-hour customer service window** (free-form messages only) — `now` is before
//!    `last_inbound_at + 24 h` ([`window_open`]) → `outside_window`. Templates may be sent outside
//!    the window.
//! 6. **the messaging limit** (business-initiated sends only, i.e. outside the window) — the
//!    number's tier ([`MessagingLimit`]) has room for one more unique user in the rolling 24 hours,
//!    or the contact is already one of them ([`Reach`]) → `messaging_limit`.
//!
//! Meta's pair rate (one message per ~6 s to the same user) is not a refusal: the dispatcher
//! paces each recipient with [`PairPacer`] (see [`limits`]).
//!
//! So a contact who opted out and whose window has closed is told `no_consent`: the stronger and
//! more lasting reason wins, and a template (which could pass the window) is still refused.
//!
//! # Consent policy
//!
//! The purpose of a free-form message (text, media, interactive, reaction) is `service`; of a
//! template, its category's ([`TemplateCategory::purpose`]: MARKETING → `marketing`, UTILITY and
//! AUTHENTICATION → `utility`). The current consent for a purpose is its latest ledger event (ties
//! in time go to the event recorded later). Then:
//!
//! | purpose | current opt-out | no event | current opt-in |
//! |---|---|---|---|
//! | `marketing` | refused | refused | allowed |
//! | `utility` | refused | allowed inside the window, refused outside it (business-initiated) | allowed |
//! | `service` | refused | allowed | allowed |
//!
//! An opted-out purpose is always refused, whatever the path, the kind or the window.
//!
//! # Example
//!
//! ```
//! use confide_core::ids::{ChannelId, ContactId, TenantId};
//! use confide_core::permissions::BuiltinRole;
//! use confide_core::send_gate::*;
//! use uuid::Uuid;
//!
//! let now: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
//! let hour: i64 = 3_600_000_000;
//! let request = SendRequest {
//!     tenant: TenantId::from_uuid(Uuid::from_u128(1)),
//!     channel: ChannelId::from_uuid(Uuid::from_u128(2)),
//!     contact: ContactId::from_uuid(Uuid::from_u128(3)),
//!     conversation: None,
//!     path: SendPath::AgentReply,
//!     content: Content::Text,
//! };
//! let permissions = BuiltinRole::Agent.permissions();
//! let ledger = ConsentLedger::new();
//! let mut facts = SendFacts {
//!     permissions: &permissions,
//!     channel: ChannelHealth::Active,
//!     template: None,
//!     consent: &ledger,
//!     last_inbound_at: Some(now - 2 * hour),
//!     reach: Reach::UNLIMITED,
//! };
//! let permit = decide(&request, &facts, now).expect("inside the window");
//! assert_eq!(permit.purpose(), Purpose::Service);
//!
//! facts.last_inbound_at = Some(now - 25 * hour);
//! let refusal = decide(&request, &facts, now).unwrap_err();
//! assert_eq!(refusal.code(), "outside_window");
//! ```

mod consent;
pub mod keywords;
pub mod limits;
mod template;
mod window;

#[cfg(test)]
mod tests;

pub use consent::{
    BadConsentRow, ConsentEvent, ConsentLedger, ConsentStatus, CurrentConsent, Purpose,
    UnknownConsentValue,
};
pub use limits::{MessagingLimit, PairPacer, Reach};
pub use template::{Template, TemplateCategory, TemplateStatus, UnknownTemplateValue};
pub use window::{WINDOW_MICROS, window_closes_at, window_open};

use crate::ids::{ChannelId, ContactId, ConversationId, MessageId, TenantId};
use crate::permissions::Permission;
use std::collections::BTreeSet;
use std::fmt;

/// Where a send comes from; it decides the permission the sender needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendPath {
    /// A team member answering in the inbox.
    AgentReply,
    /// An integration through the API.
    Api,
    /// One recipient of a broadcast.
    Broadcast,
    /// A rule or scheduled job acting for the tenant.
    Automation,
}

impl SendPath {
    pub const ALL: [SendPath; 4] = [
        SendPath::AgentReply,
        SendPath::Api,
        SendPath::Broadcast,
        SendPath::Automation,
    ];

    /// `broadcasts.send` for broadcasts, `inbox.reply` for every other path.
    pub fn required_permission(self) -> Permission {
        match self {
            SendPath::Broadcast => Permission::BroadcastsSend,
            SendPath::AgentReply | SendPath::Api | SendPath::Automation => Permission::InboxReply,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SendPath::AgentReply => "agent_reply",
            SendPath::Api => "api",
            SendPath::Broadcast => "broadcast",
            SendPath::Automation => "automation",
        }
    }
}

impl fmt::Display for SendPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of an outbound message, without its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Text,
    Media,
    Interactive,
    Reaction,
    Template,
}

impl MessageKind {
    pub const ALL: [MessageKind; 5] = [
        MessageKind::Text,
        MessageKind::Media,
        MessageKind::Interactive,
        MessageKind::Reaction,
        MessageKind::Template,
    ];

    /// Free-form messages (everything but templates) may only be sent inside the window.
    pub fn is_free_form(self) -> bool {
        self != MessageKind::Template
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Media => "media",
            MessageKind::Interactive => "interactive",
            MessageKind::Reaction => "reaction",
            MessageKind::Template => "template",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is being sent, as far as the gate cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content<'a> {
    Text,
    Media,
    Interactive,
    Reaction,
    /// A template by name and language, with the number of parameters the send supplies.
    Template {
        name: &'a str,
        language: &'a str,
        params: usize,
    },
}

impl Content<'_> {
    pub fn kind(&self) -> MessageKind {
        match self {
            Content::Text => MessageKind::Text,
            Content::Media => MessageKind::Media,
            Content::Interactive => MessageKind::Interactive,
            Content::Reaction => MessageKind::Reaction,
            Content::Template { .. } => MessageKind::Template,
        }
    }
}

/// Why a channel does not send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelStop {
    /// Meta answered with an error that stops the channel ([`stops_channel`]), e.g. 190 (access
    /// token expired), 368 or 131031 (blocked / account locked).
    MetaError(i64),
    /// A tenant administrator disabled the channel.
    Admin,
}

impl fmt::Display for ChannelStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelStop::MetaError(190) => f.write_str(
                "Meta rejected its access token (error 190); reconnect the WhatsApp number",
            ),
            ChannelStop::MetaError(code @ (368 | 131031)) => write!(
                f,
                "Meta blocked or locked the account (error {code}); resolve it in WhatsApp Manager"
            ),
            ChannelStop::MetaError(code) => {
                write!(f, "Meta refused the channel's requests (error {code})")
            }
            ChannelStop::Admin => f.write_str("an administrator disabled it"),
        }
    }
}

/// Whether a Meta error code stops the channel until someone acts (whatsapp-cloud-api.md §2): an
/// invalid or expired token (190, 0), a permission error (10, 200–299), a blocked or locked
/// account (368, 131031). Rate limits and per-message errors do not.
pub fn stops_channel(meta_code: i64) -> bool {
    matches!(meta_code, 0 | 10 | 190 | 200..=299 | 368 | 131031)
}

/// The sending channel's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelHealth {
    Active,
    Stopped(ChannelStop),
}

/// Who sends, to whom, what.
#[derive(Clone, Copy, Debug)]
pub struct SendRequest<'a> {
    pub tenant: TenantId,
    pub channel: ChannelId,
    pub contact: ContactId,
    pub conversation: Option<ConversationId>,
    pub path: SendPath,
    pub content: Content<'a>,
}

/// What the store knows at decision time.
#[derive(Clone, Copy, Debug)]
pub struct SendFacts<'a> {
    /// The sending principal's permissions (role, custom role or API-key scope).
    pub permissions: &'a BTreeSet<Permission>,
    pub channel: ChannelHealth,
    /// The channel's template for the requested name and language, if there is one (ignored for
    /// free-form sends). A template of another name or language counts as none.
    pub template: Option<&'a Template>,
    /// The contact's consent ledger.
    pub consent: &'a ConsentLedger,
    /// Unix microseconds of the contact's latest message on this channel; `None` if they never
    /// wrote in.
    pub last_inbound_at: Option<i64>,
    /// The channel's messaging limit and whom it reached in the last 24 hours.
    pub reach: Reach,
}

/// Proof that the gate allowed one send. Only [`decide`] makes one: the fields are private, there
/// is no constructor, and it is neither `Clone` nor deserializable, so holding a `Permit` means the
/// checks ran. The outbox's enqueue takes it by value.
///
/// It cannot be built outside this module:
///
/// ```compile_fail
/// use confide_core::send_gate::{MessageKind, Permit, Purpose};
/// let forged = Permit { purpose: Purpose::Marketing, kind: MessageKind::Text, decided_at: 0 };
/// ```
///
/// nor copied to send twice:
///
/// ```compile_fail
/// use confide_core::send_gate::Permit;
/// fn twice(p: Permit) -> (Permit, Permit) {
///     (p.clone(), p)
/// }
/// ```
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit is the only way to enqueue a send"]
pub struct Permit {
    tenant: TenantId,
    channel: ChannelId,
    contact: ContactId,
    conversation: Option<ConversationId>,
    path: SendPath,
    kind: MessageKind,
    purpose: Purpose,
    template: Option<PermittedTemplate>,
    inside_window: bool,
    decided_at: i64,
}

#[derive(Debug, PartialEq, Eq)]
struct PermittedTemplate {
    name: String,
    language: String,
    category: TemplateCategory,
}

impl Permit {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
    pub fn channel(&self) -> ChannelId {
        self.channel
    }
    pub fn contact(&self) -> ContactId {
        self.contact
    }
    pub fn conversation(&self) -> Option<ConversationId> {
        self.conversation
    }
    pub fn path(&self) -> SendPath {
        self.path
    }
    pub fn kind(&self) -> MessageKind {
        self.kind
    }
    /// The consent purpose the send was checked for.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }
    /// The template's name, for template sends.
    pub fn template_name(&self) -> Option<&str> {
        self.template.as_ref().map(|t| t.name.as_str())
    }
    /// The template's language, for template sends.
    pub fn template_language(&self) -> Option<&str> {
        self.template.as_ref().map(|t| t.language.as_str())
    }
    /// The template's category, for template sends.
    pub fn template_category(&self) -> Option<TemplateCategory> {
        self.template.as_ref().map(|t| t.category)
    }
    /// Whether the customer service window was open at the decision; a send outside it is
    /// business-initiated.
    pub fn inside_window(&self) -> bool {
        self.inside_window
    }
    /// Unix microseconds of the decision.
    pub fn decided_at(&self) -> i64 {
        self.decided_at
    }
}

/// A permit bound to the outbox entry being dispatched: the only thing the Graph client's
/// message send accepts. The dispatcher makes one for each attempt, from the permit the gate
/// gave that attempt and the queued message it is for.
///
/// A permit cannot be made outside [`decide`]:
///
/// ```compile_fail,E0451
/// use confide_core::send_gate::Permit;
/// let forged = Permit { decided_at: 0 };
/// ```
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a dispatch is what the Graph client sends"]
pub struct Dispatch {
    permit: Permit,
    message: MessageId,
}

impl Permit {
    /// Binds this permit to the queued message the dispatcher is sending (one attempt).
    pub fn dispatch(self, outbox_message: MessageId) -> Dispatch {
        Dispatch {
            permit: self,
            message: outbox_message,
        }
    }
}

impl Dispatch {
    pub fn permit(&self) -> &Permit {
        &self.permit
    }
    /// The outbox entry (and message) this attempt sends.
    pub fn message(&self) -> MessageId {
        self.message
    }
}

/// Why the gate refused a send. [`Refusal::code`] is the API's 422 code; `Display` (and
/// [`Refusal::message`]) is the plain message shown to the sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `forbidden`: the sender lacks the permission the path needs.
    Forbidden { needed: Permission },
    /// `channel_disabled`: the channel is stopped.
    ChannelDisabled { reason: ChannelStop },
    /// `template_not_approved`: no template of that name and language (`status: None`), or one
    /// that is not APPROVED.
    TemplateNotApproved {
        name: String,
        language: String,
        status: Option<TemplateStatus>,
    },
    /// `template_params`: the send supplies `got` parameters, the template takes `expected`.
    TemplateParams {
        name: String,
        expected: usize,
        got: usize,
    },
    /// `no_consent`: the purpose is opted out, or an opt-in it needs is missing (`current: None`).
    NoConsent {
        purpose: Purpose,
        current: Option<ConsentStatus>,
    },
    /// `outside_window`: a free-form message while the customer service window is closed.
    OutsideWindow { last_inbound_at: Option<i64> },
    /// `messaging_limit`: a business-initiated send to a new user when the number's tier is used
    /// up for the rolling 24 hours.
    MessagingLimit { limit: MessagingLimit, reached: u64 },
}

impl Refusal {
    /// Every code the gate can answer, in check order.
    pub const CODES: [&'static str; 7] = [
        "forbidden",
        "channel_disabled",
        "template_not_approved",
        "template_params",
        "no_consent",
        "outside_window",
        "messaging_limit",
    ];

    /// The stable machine code (the API's 422 `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Forbidden { .. } => "forbidden",
            Refusal::ChannelDisabled { .. } => "channel_disabled",
            Refusal::TemplateNotApproved { .. } => "template_not_approved",
            Refusal::TemplateParams { .. } => "template_params",
            Refusal::NoConsent { .. } => "no_consent",
            Refusal::OutsideWindow { .. } => "outside_window",
            Refusal::MessagingLimit { .. } => "messaging_limit",
        }
    }

    /// The plain message for the sender.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Forbidden { needed } => {
                write!(f, "sending this needs the {needed} permission")
            }
            Refusal::ChannelDisabled { reason } => {
                write!(f, "this WhatsApp number is not sending: {reason}")
            }
            Refusal::TemplateNotApproved {
                name,
                language,
                status: None,
            } => write!(f, "there is no template {name:?} in language {language}"),
            Refusal::TemplateNotApproved {
                name,
                language,
                status: Some(status),
            } => write!(
                f,
                "template {name:?} ({language}) is {status}; only APPROVED templates can be sent"
            ),
            Refusal::TemplateParams {
                name,
                expected,
                got,
            } => write!(
                f,
                "template {name:?} takes {expected} parameters, but {got} were given"
            ),
            Refusal::NoConsent {
                purpose,
                current: Some(ConsentStatus::OptedOut),
            } => write!(f, "the contact opted out of {purpose} messages"),
            Refusal::NoConsent {
                purpose: Purpose::Utility,
                ..
            } => f.write_str(
                "the contact has not opted in to utility messages, which they need \
                 outside the 24-hour customer service window",
            ),
            Refusal::NoConsent { purpose, .. } => {
                write!(f, "the contact has not opted in to {purpose} messages")
            }
            Refusal::OutsideWindow {
                last_inbound_at: None,
            } => f.write_str(
                "the contact has never written in; only an approved template can start the conversation",
            ),
            Refusal::OutsideWindow { .. } => f.write_str(
                "more than 24 hours have passed since the contact last wrote; only an approved template can be sent",
            ),
            Refusal::MessagingLimit { limit, reached } => write!(
                f,
                "this WhatsApp number's messaging limit ({limit}) is used up: it reached {reached} people \
                 who had not written in the last 24 hours; a new one can be reached when the oldest \
                 of those is more than 24 hours ago, or after Meta raises the tier"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Decides one send at `now` (Unix microseconds): a [`Permit`] or the first [`Refusal`] in the
/// documented check order (see the module documentation).
pub fn decide(
    request: &SendRequest<'_>,
    facts: &SendFacts<'_>,
    now: i64,
) -> Result<Permit, Refusal> {
    // 1. Role.
    let needed = request.path.required_permission();
    if !facts.permissions.contains(&needed) {
        return Err(Refusal::Forbidden { needed });
    }

    // 2. Channel health.
    if let ChannelHealth::Stopped(reason) = facts.channel {
        return Err(Refusal::ChannelDisabled { reason });
    }

    // 3. Template status and parameters; the purpose follows from the content.
    let (purpose, template) = match request.content {
        Content::Template {
            name,
            language,
            params,
        } => {
            let found = facts
                .template
                .filter(|t| t.name == name && t.language == language);
            let Some(t) = found else {
                return Err(Refusal::TemplateNotApproved {
                    name: name.to_string(),
                    language: language.to_string(),
                    status: None,
                });
            };
            if !t.status.is_sendable() {
                return Err(Refusal::TemplateNotApproved {
                    name: name.to_string(),
                    language: language.to_string(),
                    status: Some(t.status),
                });
            }
            if t.param_count != params {
                return Err(Refusal::TemplateParams {
                    name: name.to_string(),
                    expected: t.param_count,
                    got: params,
                });
            }
            let permitted = PermittedTemplate {
                name: t.name.clone(),
                language: t.language.clone(),
                category: t.category,
            };
            (t.category.purpose(), Some(permitted))
        }
        Content::Text | Content::Media | Content::Interactive | Content::Reaction => {
            (Purpose::Service, None)
        }
    };

    // 4. Consent for the purpose.
    let inside_window = window_open(facts.last_inbound_at, now);
    let current = facts.consent.status(purpose);
    let consented = match (current, purpose) {
        (Some(ConsentStatus::OptedOut), _) => false,
        (Some(ConsentStatus::OptedIn), _) => true,
        (None, Purpose::Marketing) => false,
        (None, Purpose::Utility) => inside_window,
        (None, Purpose::Service) => true,
    };
    if !consented {
        return Err(Refusal::NoConsent { purpose, current });
    }

    // 5. The customer service window, for free-form messages.
    let kind = request.content.kind();
    if kind.is_free_form() && !inside_window {
        return Err(Refusal::OutsideWindow {
            last_inbound_at: facts.last_inbound_at,
        });
    }

    // 6. The messaging limit, for business-initiated sends to someone not reached yet.
    if !inside_window
        && !facts.reach.contact_reached
        && !facts.reach.limit.has_room(facts.reach.reached)
    {
        return Err(Refusal::MessagingLimit {
            limit: facts.reach.limit,
            reached: facts.reach.reached,
        });
    }

    Ok(Permit {
        tenant: request.tenant,
        channel: request.channel,
        contact: request.contact,
        conversation: request.conversation,
        path: request.path,
        kind,
        purpose,
        template,
        inside_window,
        decided_at: now,
    })
}
