//! What a customer can send, as scripted by tests: each variant becomes one inbound message.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::wire::Node;

/// Media bytes a customer sends; the simulator stores them and the webhook references them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaBlob {
    pub mime_type: String,
    pub data: Vec<u8>,
}

impl MediaBlob {
    pub fn new(mime_type: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            mime_type: mime_type.into(),
            data: data.into(),
        }
    }
}

/// One card of a `contacts` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactCard {
    pub formatted_name: String,
    pub phone: Option<String>,
    pub wa_id: Option<String>,
    pub email: Option<String>,
}

/// An inbound message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundMessage {
    Text {
        body: String,
    },
    Image {
        media: MediaBlob,
        caption: Option<String>,
    },
    Video {
        media: MediaBlob,
        caption: Option<String>,
    },
    Audio {
        media: MediaBlob,
        voice: bool,
    },
    Document {
        media: MediaBlob,
        filename: String,
        caption: Option<String>,
    },
    Sticker {
        media: MediaBlob,
        animated: bool,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Contacts {
        cards: Vec<ContactCard>,
    },
    /// `emoji: None` removes a reaction (the webhook then has no `emoji`).
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
    /// An interactive reply button tap (`context` = the business message).
    ButtonReply {
        context_id: String,
        id: String,
        title: String,
    },
    ListReply {
        context_id: String,
        id: String,
        title: String,
        description: Option<String>,
    },
    /// A template quick-reply button (`type: "button"`).
    TemplateButton {
        context_id: String,
        payload: String,
        text: String,
    },
    /// A message kind the Cloud API does not support (`edit`, `poll_update`, ...).
    Unsupported {
        kind: String,
    },
}

impl InboundMessage {
    pub fn text(body: impl Into<String>) -> Self {
        Self::Text { body: body.into() }
    }

    pub fn image(media: MediaBlob, caption: Option<&str>) -> Self {
        Self::Image {
            media,
            caption: caption.map(str::to_owned),
        }
    }

    /// The webhook `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Video { .. } => "video",
            Self::Audio { .. } => "audio",
            Self::Document { .. } => "document",
            Self::Sticker { .. } => "sticker",
            Self::Location { .. } => "location",
            Self::Contacts { .. } => "contacts",
            Self::Reaction { .. } => "reaction",
            Self::ButtonReply { .. } | Self::ListReply { .. } => "interactive",
            Self::TemplateButton { .. } => "button",
            Self::Unsupported { .. } => "unsupported",
        }
    }

    /// The media it carries, if any.
    pub fn media(&self) -> Option<&MediaBlob> {
        match self {
            Self::Image { media, .. }
            | Self::Video { media, .. }
            | Self::Audio { media, .. }
            | Self::Document { media, .. }
            | Self::Sticker { media, .. } => Some(media),
            _ => None,
        }
    }

    /// `(body under the type key, context, errors)`; `media_id` names the stored media.
    pub fn wire_parts(
        &self,
        media_id: Option<&str>,
        business_display_number: &str,
    ) -> (Node, Option<Node>, Option<Node>) {
        let media_node = |m: &MediaBlob| {
            Node::obj()
                .put("mime_type", m.mime_type.as_str())
                .put("sha256", sha256_b64(&m.data))
                .put("id", media_id.unwrap_or_default())
        };
        let ctx = |id: &str| {
            Some(
                Node::obj()
                    .put("from", business_display_number)
                    .put("id", id),
            )
        };
        match self {
            Self::Text { body } => (Node::obj().put("body", body.as_str()), None, None),
            Self::Image { media, caption } | Self::Video { media, caption } => {
                let mut n = Node::obj().opt("caption", caption.as_deref());
                if let (Node::Object(f), Node::Object(m)) = (&mut n, media_node(media)) {
                    f.extend(m);
                }
                (n, None, None)
            }
            Self::Audio { media, voice } => (media_node(media).put("voice", *voice), None, None),
            Self::Document {
                media,
                filename,
                caption,
            } => {
                let mut n = Node::obj()
                    .opt("caption", caption.as_deref())
                    .put("filename", filename.as_str());
                if let (Node::Object(f), Node::Object(m)) = (&mut n, media_node(media)) {
                    f.extend(m);
                }
                (n, None, None)
            }
            Self::Sticker { media, animated } => {
                (media_node(media).put("animated", *animated), None, None)
            }
            Self::Location {
                latitude,
                longitude,
                name,
                address,
            } => (
                Node::obj()
                    .put("latitude", *latitude)
                    .put("longitude", *longitude)
                    .opt("name", name.as_deref())
                    .opt("address", address.as_deref()),
                None,
                None,
            ),
            Self::Contacts { cards } => {
                let items = cards
                    .iter()
                    .map(|c| {
                        let phones = c.phone.as_ref().map(|p| {
                            vec![
                                Node::obj()
                                    .put("phone", p.as_str())
                                    .opt("wa_id", c.wa_id.as_deref())
                                    .put("type", "CELL"),
                            ]
                        });
                        let emails = c.email.as_ref().map(|e| {
                            vec![Node::obj().put("email", e.as_str()).put("type", "WORK")]
                        });
                        Node::obj()
                            .put(
                                "name",
                                Node::obj().put("formatted_name", c.formatted_name.as_str()),
                            )
                            .opt("phones", phones)
                            .opt("emails", emails)
                    })
                    .collect::<Vec<_>>();
                (Node::Array(items), None, None)
            }
            Self::Reaction { message_id, emoji } => (
                Node::obj()
                    .put("message_id", message_id.as_str())
                    .opt("emoji", emoji.as_deref()),
                None,
                None,
            ),
            Self::ButtonReply {
                context_id,
                id,
                title,
            } => (
                Node::obj().put("type", "button_reply").put(
                    "button_reply",
                    Node::obj()
                        .put("id", id.as_str())
                        .put("title", title.as_str()),
                ),
                ctx(context_id),
                None,
            ),
            Self::ListReply {
                context_id,
                id,
                title,
                description,
            } => (
                Node::obj().put("type", "list_reply").put(
                    "list_reply",
                    Node::obj()
                        .put("id", id.as_str())
                        .put("title", title.as_str())
                        .opt("description", description.as_deref()),
                ),
                ctx(context_id),
                None,
            ),
            Self::TemplateButton {
                context_id,
                payload,
                text,
            } => (
                Node::obj()
                    .put("payload", payload.as_str())
                    .put("text", text.as_str()),
                ctx(context_id),
                None,
            ),
            Self::Unsupported { kind } => (
                Node::obj().put("type", kind.as_str()),
                None,
                Some(Node::arr(vec![
                    Node::obj()
                        .put("code", 131051i64)
                        .put("title", "Message type unknown")
                        .put("message", "Message type unknown")
                        .put(
                            "error_data",
                            Node::obj().put("details", "Message type is currently not supported."),
                        ),
                ])),
            ),
        }
    }
}

/// Base64 SHA-256, as inbound media webhooks carry it.
pub fn sha256_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data))
}

/// Hex SHA-256, as `GET /{media_id}` returns it.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
