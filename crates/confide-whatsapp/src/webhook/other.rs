//! Change kinds other than `messages`: template status, user preferences, BSUID updates.

use super::common::{Contact, ItemKind, Metadata, SkippedItem, parse_items};
use super::json::{Obj, kind, opt_id, opt_str, opt_timestamp, req_str, timestamp};
use crate::send::TemplateStatus;
use serde_json::Value;

/// `field: "message_template_status_update"`: a template was approved, rejected, paused, …
/// The change is WABA-level (no `metadata`); route it by the entry's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStatusUpdate {
    pub event: TemplateStatus,
    pub message_template_id: Option<String>,
    /// `message_template_name`.
    pub name: Option<String>,
    /// `message_template_language`.
    pub language: Option<String>,
    /// `NONE` when there is nothing to say.
    pub reason: Option<String>,
    /// `message_template_category`, when sent.
    pub category: Option<String>,
}

pub(crate) fn parse_template_status(o: &Obj) -> Result<TemplateStatusUpdate, String> {
    Ok(TemplateStatusUpdate {
        event: TemplateStatus::parse(&req_str(o, "event")?),
        message_template_id: opt_id(o, "message_template_id")?,
        name: opt_str(o, "message_template_name")?,
        language: opt_str(o, "message_template_language")?,
        reason: opt_str(o, "reason")?,
        category: opt_str(o, "message_template_category")?,
    })
}

/// `field: "user_preferences"`: consent events whose source is Meta (the user stopped or resumed
/// marketing messages inside WhatsApp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPreferencesValue {
    pub metadata: Metadata,
    pub contacts: Vec<Contact>,
    pub preferences: Vec<UserPreference>,
    pub skipped: Vec<SkippedItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPreference {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub detail: Option<String>,
    /// `marketing_messages` so far.
    pub category: Option<String>,
    pub value: PreferenceValue,
    /// Unix seconds.
    pub timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreferenceValue {
    Stop,
    Resume,
    Other(String),
}

impl PreferenceValue {
    pub fn parse(s: &str) -> Self {
        match s {
            "stop" => Self::Stop,
            "resume" => Self::Resume,
            other => Self::Other(other.to_owned()),
        }
    }
}

pub(crate) fn parse_user_preferences(o: &Obj) -> Result<UserPreferencesValue, String> {
    let metadata = Metadata::parse(o)?;
    let mut skipped = Vec::new();
    let contacts = parse_items(
        o,
        "contacts",
        ItemKind::Contact,
        &mut skipped,
        Contact::parse,
    )?;
    let preferences = parse_items(
        o,
        "user_preferences",
        ItemKind::UserPreference,
        &mut skipped,
        |v| {
            let p = v
                .as_object()
                .ok_or_else(|| format!("should be an object, found {}", kind(v)))?;
            Ok(UserPreference {
                wa_id: opt_id(p, "wa_id")?,
                user_id: opt_str(p, "user_id")?,
                detail: opt_str(p, "detail")?,
                category: opt_str(p, "category")?,
                value: PreferenceValue::parse(&req_str(p, "value")?),
                timestamp: timestamp(p, "timestamp")?,
            })
        },
    )?;
    Ok(UserPreferencesValue {
        metadata,
        contacts,
        preferences,
        skipped,
    })
}

/// `field: "user_id_update"`, the older way of announcing a BSUID change (newer payloads use a
/// `system` message). Its exact shape is not pinned down in our spec, so the parser reads what it
/// can: items of a `user_id_update` array, or the value itself, with `previous_user_id` and
/// `user_id` (also `new_user_id`). `raw` keeps the whole value for anything not modelled.
#[derive(Debug, Clone, PartialEq)]
pub struct UserIdUpdateValue {
    pub metadata: Option<Metadata>,
    pub updates: Vec<UserIdChange>,
    pub skipped: Vec<SkippedItem>,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdChange {
    pub wa_id: Option<String>,
    pub previous_user_id: Option<String>,
    pub user_id: Option<String>,
    pub timestamp: Option<i64>,
}

pub(crate) fn parse_user_id_update(value: Value) -> Result<UserIdUpdateValue, String> {
    let o = value
        .as_object()
        .ok_or_else(|| format!("`value` should be an object, found {}", kind(&value)))?;
    let metadata = Metadata::parse_opt(o);
    let mut skipped = Vec::new();
    let item = |v: &Value| -> Result<UserIdChange, String> {
        let u = v
            .as_object()
            .ok_or_else(|| format!("should be an object, found {}", kind(v)))?;
        Ok(UserIdChange {
            wa_id: opt_id(u, "wa_id")?,
            previous_user_id: opt_str(u, "previous_user_id")?,
            user_id: match opt_str(u, "user_id")? {
                Some(id) => Some(id),
                None => opt_str(u, "new_user_id")?,
            },
            timestamp: opt_timestamp(u, "timestamp")?,
        })
    };
    let updates = if o.contains_key("user_id_update") {
        parse_items(
            o,
            "user_id_update",
            ItemKind::UserIdUpdate,
            &mut skipped,
            item,
        )?
    } else if o.contains_key("previous_user_id") || o.contains_key("user_id") {
        vec![item(&value)?]
    } else {
        Vec::new()
    };
    Ok(UserIdUpdateValue {
        metadata,
        updates,
        skipped,
        raw: value,
    })
}
