//! What the Graph API answers: send success, errors, template lists.

use crate::errors::{ErrorClass, classify};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A send was *accepted* (not delivered: the outcome comes later as status webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SendResponse {
    #[serde(default)]
    pub messaging_product: Option<String>,
    #[serde(default)]
    pub contacts: Vec<SentContact>,
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

impl SendResponse {
    /// The wamid of the accepted message.
    pub fn wamid(&self) -> Option<&str> {
        self.messages.first().map(|m| m.id.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SentContact {
    /// What we put in `to` / `recipient`.
    #[serde(default)]
    pub input: String,
    /// Absent for a BSUID send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SentMessage {
    pub id: String,
    /// `accepted`, `held_for_quality_assessment`, … when Meta says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
}

/// `{"success": true}` (mark as read, media delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    pub success: bool,
}

/// `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphErrorResponse {
    pub error: GraphError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    /// `OAuthException`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<GraphErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_msg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GraphErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl GraphError {
    /// What to do about it; see [`crate::errors::classify`].
    pub fn class(&self, http_status: Option<u16>) -> ErrorClass {
        classify(self.code, http_status)
    }

    /// `error_data.details`, Meta's most specific explanation.
    pub fn details(&self) -> Option<&str> {
        self.error_data.as_ref().and_then(|d| d.details.as_deref())
    }
}

/// A template's review status (whatsapp-cloud-api.md §4). Only [`TemplateStatus::Approved`] may be sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    InAppeal,
    PendingDeletion,
    Archived,
    LimitExceeded,
    /// Any other value (webhook events like `FLAGGED`, `REINSTATED`, …), kept verbatim.
    Other(String),
}

impl TemplateStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "APPROVED" => Self::Approved,
            "PENDING" => Self::Pending,
            "REJECTED" => Self::Rejected,
            "PAUSED" => Self::Paused,
            "DISABLED" => Self::Disabled,
            "IN_APPEAL" => Self::InAppeal,
            "PENDING_DELETION" => Self::PendingDeletion,
            "ARCHIVED" => Self::Archived,
            "LIMIT_EXCEEDED" => Self::LimitExceeded,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Approved => "APPROVED",
            Self::Pending => "PENDING",
            Self::Rejected => "REJECTED",
            Self::Paused => "PAUSED",
            Self::Disabled => "DISABLED",
            Self::InAppeal => "IN_APPEAL",
            Self::PendingDeletion => "PENDING_DELETION",
            Self::Archived => "ARCHIVED",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
            Self::Other(s) => s,
        }
    }

    /// Only approved templates may be sent.
    pub fn is_sendable(&self) -> bool {
        *self == Self::Approved
    }
}

impl Serialize for TemplateStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TemplateStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

/// `GET /{WABA_ID}/message_templates`: one page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplateList {
    #[serde(default)]
    pub data: Vec<TemplateInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

impl TemplateList {
    /// The cursor for the next page (`paging.cursors.after`), if any.
    ///
    /// Graph may put a cursor on the last page too (its `paging.next` is then absent), so a caller
    /// paging through should also stop on an empty page or a cursor it has already used.
    pub fn next_cursor(&self) -> Option<&str> {
        self.paging
            .as_ref()?
            .cursors
            .as_ref()?
            .after
            .as_deref()
            .filter(|c| !c.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Paging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursors: Option<Cursors>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// A message template as Graph lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateInfo {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    pub name: String,
    pub language: String,
    pub status: TemplateStatus,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `POSITIONAL` or `NAMED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<String>,
    #[serde(default)]
    pub components: Vec<TemplateComponentInfo>,
}

/// One component of a template definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateComponentInfo {
    /// `HEADER`, `BODY`, `FOOTER`, `BUTTONS`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Header format: `TEXT`, `IMAGE`, `VIDEO`, `DOCUMENT`, `LOCATION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<serde_json::Value>,
}

impl TemplateInfo {
    /// The component of `kind` (`BODY`, `HEADER`, …; case-insensitive).
    pub fn component(&self, kind: &str) -> Option<&TemplateComponentInfo> {
        self.components
            .iter()
            .find(|c| c.kind.eq_ignore_ascii_case(kind))
    }

    /// The body text, with its `{{n}}` / `{{name}}` placeholders.
    pub fn body_text(&self) -> Option<&str> {
        self.component("BODY").and_then(|c| c.text.as_deref())
    }

    /// How many parameters the body needs: the number of distinct placeholders in its text.
    pub fn count_body_params(&self) -> usize {
        self.body_text().map_or(0, count_params)
    }

    /// How many parameters a text header needs (0 or 1).
    pub fn count_header_params(&self) -> usize {
        match self.component("HEADER") {
            Some(h)
                if h.format
                    .as_deref()
                    .is_none_or(|f| f.eq_ignore_ascii_case("TEXT")) =>
            {
                h.text.as_deref().map_or(0, count_params)
            }
            // A media header always takes exactly one media parameter.
            Some(_) => 1,
            None => 0,
        }
    }
}

/// The distinct placeholders of a template text, in first-appearance order: `{{1}}` gives `"1"`,
/// `{{first_name}}` gives `"first_name"`. A placeholder is `{{` + one or more ASCII letters, digits
/// or underscores + `}}`; anything else (`{{ 1 }}`, `{{}}`, `{{a-b}}`) is literal text, as Meta treats it.
pub fn param_names(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 && after[len..].starts_with("}}") {
            let name = &after[..len];
            if !names.contains(&name) {
                names.push(name);
            }
            rest = &after[len + 2..];
        } else {
            // Skip one brace so `{{{1}}` still finds `{{1}}`.
            rest = &rest[start + 1..];
        }
    }
    names
}

/// The number of distinct placeholders in a template text.
pub fn count_params(text: &str) -> usize {
    param_names(text).len()
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(u64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    })
}
