//! The outbound message envelope and its simple payloads.

use super::error::{SendError, check_text};
use super::interactive::Interactive;
use super::limits::*;
use super::media::{MediaKind, MediaObject, MediaSource};
use super::template::Template;
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Who a message goes to. A phone serialises as `"to"`, a BSUID as `"recipient"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// E.164 (`+16505551234`); Meta also takes bare digits.
    Phone(String),
    /// A BSUID or parent BSUID (`US.1349…`, `US.ENT.118…`). Authentication templates cannot go to one (131062).
    Bsuid(String),
}

impl Recipient {
    /// A phone number, normalised to E.164 (refused without a country code).
    pub fn phone(input: &str) -> Result<Self, SendError> {
        confide_core::phone::Phone::parse(input)
            .map(|p| Self::Phone(p.as_str().to_owned()))
            .map_err(|_| SendError::InvalidPhone)
    }

    /// A BSUID, checked with [`crate::is_bsuid`].
    pub fn bsuid(input: &str) -> Result<Self, SendError> {
        if crate::bsuid::is_bsuid(input) {
            Ok(Self::Bsuid(input.to_owned()))
        } else {
            Err(SendError::InvalidBsuid)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Phone(s) | Self::Bsuid(s) => s,
        }
    }
}

/// `text`: `{body, preview_url}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub body: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub preview_url: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `reaction`: `{message_id, emoji}`; an empty emoji removes our reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub message_id: String,
    #[serde(default)]
    pub emoji: String,
}

/// What a message carries; its variant names the wire `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Text(Text),
    Media(MediaKind, MediaObject),
    Template(Template),
    Interactive(Interactive),
    Reaction(Reaction),
}

impl Payload {
    /// The wire `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Media(k, _) => k.as_str(),
            Self::Template(_) => "template",
            Self::Interactive(_) => "interactive",
            Self::Reaction(_) => "reaction",
        }
    }
}

/// A message to send. Build it with the constructors (which validate), then add a quoted reply or
/// callback data; serialise it as the request body.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    pub recipient: Recipient,
    /// `context.message_id`: the wamid this message quotes.
    pub reply_to: Option<String>,
    /// Echoed back in the status webhooks of this message.
    pub biz_opaque_callback_data: Option<String>,
    pub payload: Payload,
}

impl OutboundMessage {
    fn checked(recipient: Recipient, payload: Payload) -> Result<Self, SendError> {
        let m = Self {
            recipient,
            reply_to: None,
            biz_opaque_callback_data: None,
            payload,
        };
        m.validate()?;
        Ok(m)
    }

    /// A text message: body 1..=4096 characters.
    pub fn text(
        to: Recipient,
        body: impl Into<String>,
        preview_url: bool,
    ) -> Result<Self, SendError> {
        Self::checked(
            to,
            Payload::Text(Text {
                body: body.into(),
                preview_url,
            }),
        )
    }

    /// A media message. `caption` only for image, video and document (≤ 1024); `filename` only for documents.
    pub fn media(
        to: Recipient,
        kind: MediaKind,
        source: MediaSource,
        caption: Option<String>,
        filename: Option<String>,
    ) -> Result<Self, SendError> {
        Self::checked(
            to,
            Payload::Media(
                kind,
                MediaObject {
                    source,
                    caption,
                    filename,
                },
            ),
        )
    }

    /// A template message (the only kind allowed outside the 24-hour window).
    pub fn template(to: Recipient, template: Template) -> Result<Self, SendError> {
        Self::checked(to, Payload::Template(template))
    }

    /// An interactive message (reply buttons or list).
    pub fn interactive(to: Recipient, interactive: Interactive) -> Result<Self, SendError> {
        Self::checked(to, Payload::Interactive(interactive))
    }

    /// A reaction to `message_id`; `None` removes ours.
    pub fn reaction(
        to: Recipient,
        message_id: impl Into<String>,
        emoji: Option<&str>,
    ) -> Result<Self, SendError> {
        let r = Reaction {
            message_id: message_id.into(),
            emoji: emoji.unwrap_or_default().to_owned(),
        };
        Self::checked(to, Payload::Reaction(r))
    }

    /// Quote `message_id` (a quoted reply).
    pub fn in_reply_to(mut self, message_id: impl Into<String>) -> Result<Self, SendError> {
        let id = message_id.into();
        check_text("context.message_id", &id, MAX_BUTTON_ID, true)?;
        self.reply_to = Some(id);
        Ok(self)
    }

    /// Attach data Meta echoes in this message's statuses (≤ 512 characters).
    pub fn with_callback_data(mut self, data: impl Into<String>) -> Result<Self, SendError> {
        let data = data.into();
        check_text("biz_opaque_callback_data", &data, MAX_CALLBACK_DATA, true)?;
        self.biz_opaque_callback_data = Some(data);
        Ok(self)
    }

    /// Checks every limit; the constructors call it, the simulator calls it on what it receives.
    pub fn validate(&self) -> Result<(), SendError> {
        match &self.recipient {
            Recipient::Phone(p) => {
                if confide_core::phone::Phone::parse(p).is_err() {
                    return Err(SendError::InvalidPhone);
                }
            }
            Recipient::Bsuid(b) => {
                if !crate::bsuid::is_bsuid(b) {
                    return Err(SendError::InvalidBsuid);
                }
            }
        }
        if let Some(id) = &self.reply_to {
            check_text("context.message_id", id, MAX_BUTTON_ID, true)?;
        }
        if let Some(d) = &self.biz_opaque_callback_data {
            check_text("biz_opaque_callback_data", d, MAX_CALLBACK_DATA, true)?;
        }
        match &self.payload {
            Payload::Text(t) => check_text("text.body", &t.body, MAX_TEXT_BODY, true),
            Payload::Media(kind, m) => m.validate(*kind),
            Payload::Template(t) => t.validate(),
            Payload::Interactive(i) => i.validate(),
            Payload::Reaction(r) => {
                check_text("reaction.message_id", &r.message_id, MAX_BUTTON_ID, true)
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct ContextRef {
    message_id: String,
}

impl Serialize for OutboundMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("messaging_product", "whatsapp")?;
        m.serialize_entry("recipient_type", "individual")?;
        match &self.recipient {
            Recipient::Phone(p) => m.serialize_entry("to", p)?,
            Recipient::Bsuid(b) => m.serialize_entry("recipient", b)?,
        }
        let t = self.payload.type_name();
        m.serialize_entry("type", t)?;
        match &self.payload {
            Payload::Text(x) => m.serialize_entry(t, x)?,
            Payload::Media(_, x) => m.serialize_entry(t, x)?,
            Payload::Template(x) => m.serialize_entry(t, x)?,
            Payload::Interactive(x) => m.serialize_entry(t, x)?,
            Payload::Reaction(x) => m.serialize_entry(t, x)?,
        }
        if let Some(id) = &self.reply_to {
            m.serialize_entry(
                "context",
                &ContextRef {
                    message_id: id.clone(),
                },
            )?;
        }
        if let Some(d) = &self.biz_opaque_callback_data {
            m.serialize_entry("biz_opaque_callback_data", d)?;
        }
        m.end()
    }
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    messaging_product: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    recipient: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    context: Option<ContextRef>,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    text: Option<Text>,
    #[serde(default)]
    image: Option<MediaObject>,
    #[serde(default)]
    video: Option<MediaObject>,
    #[serde(default)]
    audio: Option<MediaObject>,
    #[serde(default)]
    document: Option<MediaObject>,
    #[serde(default)]
    sticker: Option<MediaObject>,
    #[serde(default)]
    template: Option<Template>,
    #[serde(default)]
    interactive: Option<Interactive>,
    #[serde(default)]
    reaction: Option<Reaction>,
}

/// Reads a request body as Meta does: `messaging_product` must be `whatsapp`, `to` wins over
/// `recipient`, `type` defaults to `text`, the body must sit under the key named by `type`.
/// Limits are not checked here: call [`OutboundMessage::validate`].
impl<'de> Deserialize<'de> for OutboundMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireMessage::deserialize(d)?;
        if w.messaging_product.as_deref() != Some("whatsapp") {
            return Err(D::Error::custom("messaging_product must be \"whatsapp\""));
        }
        let recipient = match (w.to, w.recipient) {
            (Some(to), _) => Recipient::Phone(to),
            (None, Some(r)) => Recipient::Bsuid(r),
            (None, None) => return Err(D::Error::custom("missing `to` or `recipient`")),
        };
        let kind = w.kind.unwrap_or_else(|| "text".to_owned());
        let missing = || D::Error::custom(format!("missing `{kind}` object"));
        let media = |k: MediaKind, o: Option<MediaObject>| o.map(|m| Payload::Media(k, m));
        let payload = match kind.as_str() {
            "text" => w.text.map(Payload::Text),
            "image" => media(MediaKind::Image, w.image),
            "video" => media(MediaKind::Video, w.video),
            "audio" => media(MediaKind::Audio, w.audio),
            "document" => media(MediaKind::Document, w.document),
            "sticker" => media(MediaKind::Sticker, w.sticker),
            "template" => w.template.map(Payload::Template),
            "interactive" => w.interactive.map(Payload::Interactive),
            "reaction" => w.reaction.map(Payload::Reaction),
            _ => return Err(D::Error::custom("unsupported message `type`")),
        }
        .ok_or_else(missing)?;
        Ok(Self {
            recipient,
            reply_to: w.context.map(|c| c.message_id),
            biz_opaque_callback_data: w.biz_opaque_callback_data,
            payload,
        })
    }
}

/// Mark an inbound message as read: `{"messaging_product":"whatsapp","status":"read","message_id":…}`;
/// Meta answers `{"success":true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    pub messaging_product: String,
    pub status: String,
    pub message_id: String,
}

impl MarkRead {
    pub fn new(message_id: impl Into<String>) -> Result<Self, SendError> {
        let message_id = message_id.into();
        check_text("message_id", &message_id, MAX_BUTTON_ID, true)?;
        Ok(Self {
            messaging_product: "whatsapp".into(),
            status: "read".into(),
            message_id,
        })
    }
}
