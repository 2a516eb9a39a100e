//! The pure rules of ingest: who a webhook message is from (BSUID first, then phone), which system
//! messages move a contact to a new identity, and how a message and a status are kept (their kind
//! and the JSON stored, sealed, as their body). No I/O here.

use confide_core::phone::Phone;
use confide_store::ingest::WaIdentity;
use confide_whatsapp::webhook::{
    Contact, InteractiveReply, Message, MessageContent, MessagesValue, Status, SystemKind,
};
use serde_json::{Value, json};

/// The sender of a message as the webhook names it: BSUID first, then phone.
pub(crate) fn identity_of(v: &MessagesValue, m: &Message) -> WaIdentity {
    let profile: Option<&Contact> = v.contact_for(m);
    WaIdentity {
        user_id: m
            .from_user_id
            .clone()
            .or_else(|| profile.and_then(|c| c.user_id.clone())),
        phone: phone(m.from.as_deref()).or_else(|| phone(profile.and_then(|c| c.wa_id.as_deref()))),
        username: profile.and_then(|c| c.username.clone()),
        name: profile.and_then(|c| c.name.clone()),
    }
}

pub(crate) type IdentityKey = (Option<String>, Option<String>);

pub(crate) fn identity_key(who: &WaIdentity) -> IdentityKey {
    (
        who.user_id.clone(),
        who.phone.as_ref().map(|p| p.as_str().to_string()),
    )
}

/// A system message that moves a contact to a new identity.
pub(crate) fn changes_identity(m: &Message) -> bool {
    matches!(
        &m.content,
        MessageContent::System(s) if matches!(s.kind, SystemKind::UserChangedNumber { .. } | SystemKind::UserChangedUserId { .. })
    )
}

/// WhatsApp's phone digits (`16505551234`) as E.164; `None` when absent or not a number.
pub(crate) fn phone(digits: Option<&str>) -> Option<Phone> {
    digits.and_then(|d| Phone::parse(&format!("+{d}")).ok())
}

/// Delivery facts worth keeping with a status (no personal data).
pub(crate) fn status_details(s: &Status) -> Value {
    let mut d = serde_json::Map::new();
    if let Some(p) = &s.pricing {
        d.insert(
            "pricing".into(),
            json!({"billable": p.billable, "pricing_model": p.pricing_model, "type": p.pricing_type, "category": p.category}),
        );
    }
    if !s.errors.is_empty() {
        d.insert(
            "errors".into(),
            Value::Array(
                s.errors
                    .iter()
                    .map(|e| json!({"code": e.code, "title": e.title}))
                    .collect(),
            ),
        );
    }
    Value::Object(d)
}

/// A message's kind and content as stored (sealed) JSON.
pub fn content_json(m: &Message) -> (String, Value) {
    let mut body = match &m.content {
        MessageContent::Text { body } => json!({"text": body}),
        MessageContent::Image(media)
        | MessageContent::Video(media)
        | MessageContent::Audio(media)
        | MessageContent::Document(media)
        | MessageContent::Sticker(media) => json!({"media": media}),
        MessageContent::Location(l) => json!({"location": l}),
        MessageContent::Contacts(cards) => {
            json!({"contacts": cards.iter().map(|c| c.raw.clone()).collect::<Vec<_>>()})
        }
        MessageContent::Interactive(InteractiveReply::ButtonReply { id, title }) => {
            json!({"reply": {"type": "button_reply", "id": id, "title": title}})
        }
        MessageContent::Interactive(InteractiveReply::ListReply {
            id,
            title,
            description,
        }) => {
            json!({"reply": {"type": "list_reply", "id": id, "title": title, "description": description}})
        }
        MessageContent::Interactive(other) => json!({"reply": {"type": format!("{other:?}")}}),
        MessageContent::Button { payload, text } => {
            json!({"button": {"payload": payload, "text": text}})
        }
        MessageContent::Reaction { message_id, emoji } => {
            json!({"reaction": {"message_id": message_id, "emoji": emoji}})
        }
        MessageContent::System(sys) => {
            json!({"system": {"body": sys.body, "kind": system_kind(&sys.kind)}})
        }
        MessageContent::Unsupported { type_name } => json!({"unsupported": type_name}),
        MessageContent::Unknown { type_name } => json!({"unknown": type_name}),
        MessageContent::Malformed { type_name, reason } => {
            json!({"malformed": {"type": type_name, "reason": reason}})
        }
    };
    if let Some(ctx) = &m.context {
        body["context"] = json!({"id": ctx.id, "forwarded": ctx.forwarded});
    }
    if !m.errors.is_empty() {
        body["errors"] = Value::Array(
            m.errors
                .iter()
                .map(|e| json!({"code": e.code, "title": e.title}))
                .collect(),
        );
    }
    (kind_name(&m.content).to_string(), body)
}

fn system_kind(k: &SystemKind) -> &'static str {
    match k {
        SystemKind::UserChangedNumber { .. } => "user_changed_number",
        SystemKind::UserChangedUserId { .. } => "user_changed_user_id",
        SystemKind::Other { .. } => "other",
    }
}

fn kind_name(c: &MessageContent) -> &'static str {
    match c {
        MessageContent::Text { .. } => "text",
        MessageContent::Image(_) => "image",
        MessageContent::Video(_) => "video",
        MessageContent::Audio(_) => "audio",
        MessageContent::Document(_) => "document",
        MessageContent::Sticker(_) => "sticker",
        MessageContent::Location(_) => "location",
        MessageContent::Contacts(_) => "contacts",
        MessageContent::Interactive(_) => "interactive",
        MessageContent::Button { .. } => "button",
        MessageContent::Reaction { .. } => "reaction",
        MessageContent::System(_) => "system",
        MessageContent::Unsupported { .. } => "unsupported",
        MessageContent::Unknown { .. } => "unknown",
        MessageContent::Malformed { .. } => "malformed",
    }
}
