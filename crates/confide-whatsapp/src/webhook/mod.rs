//! Inbound webhooks: the typed model and [`parse_webhook`].
//!
//! Failure is layered (DESIGN.md §2.7, "bad input loses nothing"):
//! - the **envelope** (JSON object, `object == "whatsapp_business_account"`, an `entry` array) fails the
//!   whole body with an [`EnvelopeError`];
//! - a malformed **entry** or **change** is recorded in [`WebhookBatch::skipped_entries`] /
//!   [`WebhookBatch::skipped`] and the others are kept;
//! - a malformed **item** (a message, status, contact, preference) is recorded in its change's
//!   `skipped` list and the rest of the change is kept;
//! - an unreadable message *body* keeps the message as [`MessageContent::Malformed`];
//! - unknown `field`s and message `type`s are kept by name, never errors.
//!
//! Verify the signature over the raw bytes ([`crate::signature`]) before calling the parser.

mod common;
mod json;
mod messages;
mod other;
mod statuses;

pub use crate::bsuid::{is_bsuid, is_parent_bsuid};
pub use common::{Contact, ItemKind, Metadata, SkippedItem, WebhookError};
pub use messages::{
    Context, InteractiveReply, Location, Media, Message, MessageContent, SharedContact,
    SharedEmail, SharedPhone, System, SystemKind,
};
pub use other::{
    PreferenceValue, TemplateStatusUpdate, UserIdChange, UserIdUpdateValue, UserPreference,
    UserPreferencesValue,
};
pub use statuses::{Pricing, Status, StatusKind};

use common::parse_items;
use json::{Obj, kind};
use serde_json::Value;

/// The only `object` value a WhatsApp webhook carries.
pub const OBJECT_WABA: &str = "whatsapp_business_account";

/// `field` values kept as [`Change::Other`] with their raw value (account and number events the
/// product may surface). Any other unrecognised field is [`Change::Unknown`].
pub const OTHER_FIELDS: &[&str] = &[
    "phone_number_quality_update",
    "account_update",
    "account_alerts",
    "account_review_update",
    "business_capability_update",
    "message_template_quality_update",
    "template_category_update",
];

/// The body as a whole could not be read: nothing in it is usable. (The signature was checked
/// first, so this is Meta sending a shape we do not know, or a bug; the server decides the answer.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("webhook body is not valid JSON: {0}")]
    NotJson(String),
    #[error("webhook body is not a JSON object")]
    NotObject,
    #[error("webhook `object` is not \"whatsapp_business_account\" (found {found:?})")]
    WrongObject { found: Option<String> },
    #[error("webhook `entry` is missing or not an array")]
    MissingEntry,
}

/// A parsed webhook body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebhookBatch {
    /// Readable entries, in body order.
    pub entries: Vec<Entry>,
    /// Changes that could not be read.
    pub skipped: Vec<SkippedChange>,
    /// Entries that could not be read at all (not an object, no `changes` array).
    pub skipped_entries: Vec<SkippedEntry>,
}

impl WebhookBatch {
    /// Every kept change with the entry it came from.
    pub fn changes(&self) -> impl Iterator<Item = (&Entry, &Change)> {
        self.entries
            .iter()
            .flat_map(|e| e.changes.iter().map(move |c| (e, c)))
    }

    /// Every kept message with the `messages` value it came from.
    pub fn messages(&self) -> impl Iterator<Item = (&MessagesValue, &Message)> {
        self.messages_values()
            .flat_map(|v| v.messages.iter().map(move |m| (v, m)))
    }

    /// Every kept status with the `messages` value it came from.
    pub fn statuses(&self) -> impl Iterator<Item = (&MessagesValue, &Status)> {
        self.messages_values()
            .flat_map(|v| v.statuses.iter().map(move |s| (v, s)))
    }

    fn messages_values(&self) -> impl Iterator<Item = &MessagesValue> {
        self.changes().filter_map(|(_, c)| match c {
            Change::Messages(v) => Some(v),
            _ => None,
        })
    }

    /// Skipped items of every kind plus skipped changes and entries: what to log and count.
    pub fn skipped_count(&self) -> usize {
        let items: usize = self
            .changes()
            .map(|(_, c)| match c {
                Change::Messages(v) => v.skipped.len(),
                Change::UserPreferences(v) => v.skipped.len(),
                Change::UserIdUpdate(v) => v.skipped.len(),
                _ => 0,
            })
            .sum();
        items + self.skipped.len() + self.skipped_entries.len()
    }
}

/// One `entry[]`: the WABA it concerns and its readable changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Position in the body's `entry` array.
    pub index: usize,
    /// The WhatsApp Business Account id.
    pub id: Option<String>,
    /// `time`, when present (template updates carry it).
    pub time: Option<i64>,
    pub changes: Vec<Change>,
}

/// A change that could not be read; the rest of the batch is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedChange {
    pub entry: usize,
    pub change: usize,
    pub reason: String,
}

/// An entry that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    pub entry: usize,
    pub reason: String,
}

/// One `changes[]` item, by `field`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `messages`: inbound messages, statuses of outbound ones, or errors.
    Messages(MessagesValue),
    /// `message_template_status_update`.
    TemplateStatus(TemplateStatusUpdate),
    /// `user_preferences`.
    UserPreferences(UserPreferencesValue),
    /// `user_id_update` (older payloads).
    UserIdUpdate(UserIdUpdateValue),
    /// A field in [`OTHER_FIELDS`], kept raw.
    Other { field: String, value: Value },
    /// Any other field: accepted and ignored.
    Unknown { field: String },
}

/// The `value` of a `messages` change.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagesValue {
    pub metadata: Metadata,
    pub contacts: Vec<Contact>,
    pub messages: Vec<Message>,
    pub statuses: Vec<Status>,
    /// `value.errors`: a problem Meta reports about the number or the app, not about one message.
    pub errors: Vec<WebhookError>,
    /// Items that could not be read.
    pub skipped: Vec<SkippedItem>,
}

impl MessagesValue {
    /// The `contacts[]` entry describing a message's sender: matched on BSUID first, then phone.
    pub fn contact_for(&self, message: &Message) -> Option<&Contact> {
        let by_user = message.from_user_id.as_deref().and_then(|u| {
            self.contacts
                .iter()
                .find(|c| c.user_id.as_deref() == Some(u))
        });
        by_user.or_else(|| {
            let from = message.from.as_deref()?;
            self.contacts
                .iter()
                .find(|c| c.wa_id.as_deref() == Some(from))
        })
    }
}

/// Parses a webhook body. Only an envelope problem is an error; see the module docs.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookBatch, EnvelopeError> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| EnvelopeError::NotJson(json::redact(&e.to_string())))?;
    let Value::Object(mut root) = root else {
        return Err(EnvelopeError::NotObject);
    };
    match root.get("object") {
        Some(Value::String(s)) if s == OBJECT_WABA => {}
        Some(Value::String(s)) => {
            let mut found = s.clone();
            if found.len() > 64 {
                found = json::bounded(found.chars().take(64).collect());
            }
            return Err(EnvelopeError::WrongObject { found: Some(found) });
        }
        _ => return Err(EnvelopeError::WrongObject { found: None }),
    }
    let Some(Value::Array(entries)) = root.remove("entry") else {
        return Err(EnvelopeError::MissingEntry);
    };

    let mut batch = WebhookBatch::default();
    for (ei, entry) in entries.into_iter().enumerate() {
        let Value::Object(mut entry) = entry else {
            let reason = format!("entry should be an object, found {}", kind(&entry));
            batch
                .skipped_entries
                .push(SkippedEntry { entry: ei, reason });
            continue;
        };
        let changes = match entry.remove("changes") {
            Some(Value::Array(c)) => c,
            Some(other) => {
                let reason = format!("`changes` should be an array, found {}", kind(&other));
                batch
                    .skipped_entries
                    .push(SkippedEntry { entry: ei, reason });
                continue;
            }
            None => {
                batch.skipped_entries.push(SkippedEntry {
                    entry: ei,
                    reason: "missing `changes`".into(),
                });
                continue;
            }
        };
        let mut kept = Entry {
            index: ei,
            id: json::opt_id(&entry, "id").ok().flatten(),
            time: json::opt_timestamp(&entry, "time").ok().flatten(),
            changes: Vec::with_capacity(changes.len()),
        };
        for (ci, change) in changes.into_iter().enumerate() {
            match parse_change(change) {
                Ok(c) => kept.changes.push(c),
                Err(reason) => {
                    batch.skipped.push(SkippedChange {
                        entry: ei,
                        change: ci,
                        reason: json::bounded(reason),
                    });
                }
            }
        }
        batch.entries.push(kept);
    }
    Ok(batch)
}

fn parse_change(change: Value) -> Result<Change, String> {
    let Value::Object(mut change) = change else {
        return Err(format!(
            "change should be an object, found {}",
            kind(&change)
        ));
    };
    let field = match change.remove("field") {
        Some(Value::String(f)) => f,
        Some(other) => {
            return Err(format!(
                "`field` should be a string, found {}",
                kind(&other)
            ));
        }
        None => return Err("missing `field`".into()),
    };
    let value = change.remove("value").unwrap_or(Value::Null);
    if OTHER_FIELDS.contains(&field.as_str()) {
        return Ok(Change::Other { field, value });
    }
    let parsed = match field.as_str() {
        "messages" => object(&value)
            .and_then(parse_messages_value)
            .map(Change::Messages),
        "message_template_status_update" => object(&value)
            .and_then(other::parse_template_status)
            .map(Change::TemplateStatus),
        "user_preferences" => object(&value)
            .and_then(other::parse_user_preferences)
            .map(Change::UserPreferences),
        "user_id_update" => other::parse_user_id_update(value).map(Change::UserIdUpdate),
        _ => return Ok(Change::Unknown { field }),
    };
    parsed.map_err(|e| format!("{field}: {e}"))
}

fn object(v: &Value) -> Result<&Obj, String> {
    v.as_object()
        .ok_or_else(|| format!("`value` should be an object, found {}", kind(v)))
}

fn parse_messages_value(o: &Obj) -> Result<MessagesValue, String> {
    let metadata = Metadata::parse(o)?;
    let mut skipped = Vec::new();
    let contacts = parse_items(
        o,
        "contacts",
        ItemKind::Contact,
        &mut skipped,
        Contact::parse,
    )?;
    let messages = parse_items(
        o,
        "messages",
        ItemKind::Message,
        &mut skipped,
        messages::parse_message,
    )?;
    let statuses = parse_items(
        o,
        "statuses",
        ItemKind::Status,
        &mut skipped,
        statuses::parse_status,
    )?;
    let errors = WebhookError::parse_list(o, "errors")?;
    Ok(MessagesValue {
        metadata,
        contacts,
        messages,
        statuses,
        errors,
        skipped,
    })
}
