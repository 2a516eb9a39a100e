//! Inbound messages (`value.messages[]`).
//!
//! A message whose envelope (id, sender, timestamp, context, errors) cannot be read is skipped and
//! reported. A message whose *content* cannot be read is kept with [`MessageContent::Malformed`]: the
//! customer did write, and the inbox should show that rather than lose it.

use super::common::WebhookError;
use super::json::{Obj, kind, opt_id, opt_object, opt_str, req_id, timestamp, typed};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The wamid; the dedupe key.
    pub id: String,
    /// Sender phone digits; absent when the user withholds their phone.
    pub from: Option<String>,
    /// Sender BSUID; absent in payloads older than April 2026.
    pub from_user_id: Option<String>,
    /// Unix seconds.
    pub timestamp: i64,
    /// Present on replies, button and list answers.
    pub context: Option<Context>,
    pub content: MessageContent,
    /// `messages[].errors`, e.g. 131051 on an unsupported message.
    pub errors: Vec<WebhookError>,
}

/// `context`: which message this one answers or quotes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// The number the quoted message came from (ours, for button answers).
    pub from: Option<String>,
    /// The wamid quoted or answered.
    pub id: Option<String>,
    pub forwarded: bool,
    pub frequently_forwarded: bool,
}

/// What a message carries, by its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageContent {
    Text {
        body: String,
    },
    Image(Media),
    Video(Media),
    Audio(Media),
    Document(Media),
    Sticker(Media),
    Location(Location),
    /// Shared contact cards.
    Contacts(Vec<SharedContact>),
    Interactive(InteractiveReply),
    /// A template's quick-reply button.
    Button {
        payload: String,
        text: String,
    },
    /// `emoji: None` means the reaction was removed.
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
    System(System),
    /// Meta could not render the message (`type: "unsupported"`, or the older `"unknown"`);
    /// `type_name` is the inner kind (`edit`, `poll_update`, …) when given. Details in `Message::errors`.
    Unsupported {
        type_name: Option<String>,
    },
    /// A `type` this parser does not model (`order`, `request_welcome`, …). Never an error.
    Unknown {
        type_name: String,
    },
    /// A known `type` whose body could not be read; the message is kept so nothing is lost.
    Malformed {
        type_name: String,
        reason: String,
    },
}

impl MessageContent {
    /// The media part, for the five media types.
    pub fn media(&self) -> Option<&Media> {
        match self {
            Self::Image(m)
            | Self::Video(m)
            | Self::Audio(m)
            | Self::Document(m)
            | Self::Sticker(m) => Some(m),
            _ => None,
        }
    }
}

/// An inbound media reference; fetch it with `GET /{id}` (webhook media ids live 7 days).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Media {
    pub id: Option<String>,
    pub mime_type: Option<String>,
    /// Base64 SHA-256 of the file, as Meta sends it.
    pub sha256: Option<String>,
    /// Image, video, document.
    pub caption: Option<String>,
    /// Document.
    pub filename: Option<String>,
    /// Audio recorded as a voice note.
    #[serde(deserialize_with = "null_false")]
    pub voice: bool,
    /// Sticker.
    #[serde(deserialize_with = "null_false")]
    pub animated: bool,
    /// Newer payloads may carry a download url.
    pub url: Option<String>,
}

fn null_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// A shared contact card (vCard-like). The common fields are typed; `raw` keeps the whole card.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SharedContact {
    pub formatted_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phones: Vec<SharedPhone>,
    pub emails: Vec<SharedEmail>,
    pub organization: Option<String>,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct SharedPhone {
    pub phone: Option<String>,
    pub wa_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct SharedEmail {
    pub email: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCard {
    name: RawCardName,
    phones: Vec<SharedPhone>,
    emails: Vec<SharedEmail>,
    org: RawOrg,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCardName {
    formatted_name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawOrg {
    company: Option<String>,
}

/// The answer to an interactive message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractiveReply {
    ButtonReply {
        id: String,
        title: String,
    },
    ListReply {
        id: String,
        title: String,
        description: Option<String>,
    },
    /// Another interactive answer (`nfm_reply` for flows, …), kept by name.
    Other {
        type_name: String,
    },
}

/// A `system` message: an identity change announced by WhatsApp. Such a change has no `contacts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    pub body: Option<String>,
    pub kind: SystemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemKind {
    /// The user moved to a new phone number, which gives them a new BSUID. `Message::from` is the
    /// old phone; move history, consent and labels from `previous_user_id` to `user_id`.
    UserChangedNumber {
        new_wa_id: Option<String>,
        previous_user_id: Option<String>,
        user_id: Option<String>,
    },
    /// The user's BSUID changed.
    UserChangedUserId {
        previous_user_id: Option<String>,
        user_id: Option<String>,
    },
    Other {
        type_name: Option<String>,
    },
}

/// Parses one `messages[]` item.
pub(crate) fn parse_message(v: &Value) -> Result<Message, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("should be an object, found {}", kind(v)))?;
    let id = req_id(o, "id")?;
    let from = opt_id(o, "from")?;
    let from_user_id = opt_str(o, "from_user_id")?;
    let timestamp = timestamp(o, "timestamp")?;
    let context = match opt_object(o, "context")? {
        Some(c) => Some(parse_context(c).map_err(|e| format!("context: {e}"))?),
        None => None,
    };
    let errors = super::common::WebhookError::parse_list(o, "errors")?;
    let content = parse_content(o);
    Ok(Message {
        id,
        from,
        from_user_id,
        timestamp,
        context,
        content,
        errors,
    })
}

fn parse_context(c: &Obj) -> Result<Context, String> {
    let flag = |k: &str| match c.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("`{k}` should be a boolean, found {}", kind(other))),
    };
    Ok(Context {
        from: opt_id(c, "from")?,
        id: opt_str(c, "id")?,
        forwarded: flag("forwarded")?,
        frequently_forwarded: flag("frequently_forwarded")?,
    })
}

fn parse_content(o: &Obj) -> MessageContent {
    let type_name = match o.get("type") {
        Some(Value::String(t)) => t.clone(),
        None | Some(Value::Null) => {
            return MessageContent::Malformed {
                type_name: String::new(),
                reason: "missing `type`".into(),
            };
        }
        Some(other) => {
            let reason = format!("`type` should be a string, found {}", kind(other));
            return MessageContent::Malformed {
                type_name: String::new(),
                reason,
            };
        }
    };
    match content_of(&type_name, o) {
        Ok(c) => c,
        Err(reason) => MessageContent::Malformed {
            type_name,
            reason: super::json::bounded(reason),
        },
    }
}

fn content_of(type_name: &str, o: &Obj) -> Result<MessageContent, String> {
    // The body sits under the key named by `type`.
    let body = || {
        o.get(type_name)
            .ok_or_else(|| format!("missing `{type_name}`"))
    };
    let media = || typed::<Media>(type_name, body()?);
    Ok(match type_name {
        "text" => {
            #[derive(Deserialize)]
            struct Text {
                body: String,
            }
            MessageContent::Text {
                body: typed::<Text>("text", body()?)?.body,
            }
        }
        "image" => MessageContent::Image(media()?),
        "video" => MessageContent::Video(media()?),
        "audio" => MessageContent::Audio(media()?),
        "document" => MessageContent::Document(media()?),
        "sticker" => MessageContent::Sticker(media()?),
        "location" => MessageContent::Location(typed("location", body()?)?),
        "contacts" => MessageContent::Contacts(parse_cards(body()?)?),
        "interactive" => MessageContent::Interactive(parse_interactive(body()?)?),
        "button" => {
            #[derive(Deserialize)]
            struct Button {
                #[serde(default)]
                payload: Option<String>,
                #[serde(default)]
                text: Option<String>,
            }
            let b: Button = typed("button", body()?)?;
            MessageContent::Button {
                payload: b.payload.unwrap_or_default(),
                text: b.text.unwrap_or_default(),
            }
        }
        "reaction" => {
            #[derive(Deserialize)]
            struct Reaction {
                message_id: String,
                #[serde(default)]
                emoji: Option<String>,
            }
            let r: Reaction = typed("reaction", body()?)?;
            // An empty emoji is how a removal is *sent*; treat it like the documented missing one.
            MessageContent::Reaction {
                message_id: r.message_id,
                emoji: r.emoji.filter(|e| !e.is_empty()),
            }
        }
        "system" => MessageContent::System(parse_system(body()?)?),
        "unsupported" | "unknown" => {
            let inner = match o.get(type_name) {
                Some(Value::Object(u)) => opt_str(u, "type").unwrap_or(None),
                _ => None,
            };
            MessageContent::Unsupported { type_name: inner }
        }
        other => MessageContent::Unknown {
            type_name: other.to_owned(),
        },
    })
}

fn parse_cards(v: &Value) -> Result<Vec<SharedContact>, String> {
    let items = v
        .as_array()
        .ok_or_else(|| format!("`contacts` should be an array, found {}", kind(v)))?;
    items
        .iter()
        .enumerate()
        .map(|(i, card)| {
            let raw: RawCard = typed(&format!("contacts[{i}]"), card)?;
            Ok(SharedContact {
                formatted_name: raw.name.formatted_name,
                first_name: raw.name.first_name,
                last_name: raw.name.last_name,
                phones: raw.phones,
                emails: raw.emails,
                organization: raw.org.company,
                raw: card.clone(),
            })
        })
        .collect()
}

fn parse_interactive(v: &Value) -> Result<InteractiveReply, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("`interactive` should be an object, found {}", kind(v)))?;
    let t = super::json::req_str(o, "type").map_err(|e| format!("interactive: {e}"))?;
    let part =
        |key: &str| opt_object(o, key)?.ok_or_else(|| format!("interactive: missing `{key}`"));
    Ok(match t.as_str() {
        "button_reply" => {
            let b = part("button_reply")?;
            InteractiveReply::ButtonReply {
                id: req_id(b, "id")?,
                title: opt_str(b, "title")?.unwrap_or_default(),
            }
        }
        "list_reply" => {
            let l = part("list_reply")?;
            InteractiveReply::ListReply {
                id: req_id(l, "id")?,
                title: opt_str(l, "title")?.unwrap_or_default(),
                description: opt_str(l, "description")?,
            }
        }
        _ => InteractiveReply::Other { type_name: t },
    })
}

fn parse_system(v: &Value) -> Result<System, String> {
    let s = v
        .as_object()
        .ok_or_else(|| format!("`system` should be an object, found {}", kind(v)))?;
    let body = opt_str(s, "body")?;
    let type_name = opt_str(s, "type")?;
    let kind = match type_name.as_deref() {
        // `customer_changed_number` / `new_wa_id` are the pre-2023 spellings.
        Some("user_changed_number" | "customer_changed_number") => SystemKind::UserChangedNumber {
            new_wa_id: match opt_id(s, "wa_id")? {
                Some(w) => Some(w),
                None => opt_id(s, "new_wa_id")?,
            },
            previous_user_id: opt_str(s, "previous_user_id")?,
            user_id: opt_str(s, "user_id")?,
        },
        Some("user_changed_user_id") => SystemKind::UserChangedUserId {
            previous_user_id: opt_str(s, "previous_user_id")?,
            user_id: opt_str(s, "user_id")?,
        },
        _ => SystemKind::Other { type_name },
    };
    Ok(System { body, kind })
}
