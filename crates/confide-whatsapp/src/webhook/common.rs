//! Parts shared by several change kinds: metadata, contacts, errors, skipped items.

use super::json::{Obj, opt_array, opt_id, opt_object, opt_str, req_id, typed};
use serde::Deserialize;
use serde_json::Value;

/// The business phone number a change is about (`value.metadata`). `phone_number_id` is what routes
/// a change to its channel; a change without it is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub display_phone_number: Option<String>,
    pub phone_number_id: String,
}

impl Metadata {
    pub(crate) fn parse(value: &Obj) -> Result<Self, String> {
        let m = opt_object(value, "metadata")?.ok_or("missing `metadata`")?;
        Ok(Self {
            display_phone_number: opt_id(m, "display_phone_number")
                .map_err(|e| format!("metadata: {e}"))?,
            phone_number_id: req_id(m, "phone_number_id").map_err(|e| format!("metadata: {e}"))?,
        })
    }

    pub(crate) fn parse_opt(value: &Obj) -> Option<Self> {
        Self::parse(value).ok()
    }
}

/// A WhatsApp user as a change's `contacts[]` describes them. Identity is the BSUID (`user_id`)
/// first; the phone (`wa_id`) is omitted when the user withholds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// `profile.name`.
    pub name: Option<String>,
    /// `profile.username`, when the user has adopted one.
    pub username: Option<String>,
    /// Phone digits without `+`.
    pub wa_id: Option<String>,
    /// BSUID.
    pub user_id: Option<String>,
    /// Parent BSUID (`CC.ENT.…`), when enabled for the portfolio.
    pub parent_user_id: Option<String>,
}

impl Contact {
    pub(crate) fn parse(v: &Value) -> Result<Self, String> {
        let o = v.as_object().ok_or("not an object")?;
        let (name, username) = match opt_object(o, "profile")? {
            Some(p) => (opt_str(p, "name")?, opt_str(p, "username")?),
            None => (None, None),
        };
        Ok(Self {
            name,
            username,
            wa_id: opt_id(o, "wa_id")?,
            user_id: opt_str(o, "user_id")?,
            parent_user_id: opt_str(o, "parent_user_id")?,
        })
    }
}

/// An error object as webhooks carry it (`value.errors[]`, `statuses[].errors[]`, `messages[].errors[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
    /// `error_data.details`.
    pub details: Option<String>,
    pub href: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_data: Option<RawErrorData>,
    #[serde(default)]
    href: Option<String>,
}

#[derive(Deserialize)]
struct RawErrorData {
    #[serde(default)]
    details: Option<String>,
}

impl WebhookError {
    /// Parses an `errors` array under `key`; any bad item fails the whole array.
    pub(crate) fn parse_list(o: &Obj, key: &str) -> Result<Vec<Self>, String> {
        opt_array(o, key)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let raw: RawError = typed(&format!("{key}[{i}]"), v)?;
                Ok(Self {
                    code: raw.code,
                    title: raw.title,
                    message: raw.message,
                    details: raw.error_data.and_then(|d| d.details),
                    href: raw.href,
                })
            })
            .collect()
    }
}

/// Which array a skipped item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Message,
    Status,
    Contact,
    UserPreference,
    UserIdUpdate,
}

/// One item of a change that could not be read. The rest of the change is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    pub kind: ItemKind,
    /// Position in its array.
    pub index: usize,
    /// The item's `id` (a wamid for messages and statuses) when it could be read: useful to find
    /// the item in Meta's logs, and safe to log.
    pub id: Option<String>,
    pub reason: String,
}

impl SkippedItem {
    pub(crate) fn new(kind: ItemKind, index: usize, item: &Value, reason: String) -> Self {
        let id = item
            .as_object()
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .filter(|s| s.len() <= 256)
            .map(str::to_owned);
        Self {
            kind,
            index,
            id,
            reason: super::json::bounded(reason),
        }
    }
}

/// Parses every item of `o[key]` with `parse`, keeping the good ones and recording the bad.
pub(crate) fn parse_items<T>(
    o: &Obj,
    key: &str,
    kind: ItemKind,
    skipped: &mut Vec<SkippedItem>,
    parse: impl Fn(&Value) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let items = opt_array(o, key)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parse(item) {
            Ok(t) => out.push(t),
            Err(reason) => skipped.push(SkippedItem::new(
                kind,
                i,
                item,
                format!("{key}[{i}]: {reason}"),
            )),
        }
    }
    Ok(out)
}
