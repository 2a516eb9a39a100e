//! Message templates as the gate sees them: category, review status and parameter count.

use super::consent::Purpose;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A template's category, set by Meta's review; it decides the consent purpose of the send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

impl TemplateCategory {
    pub const ALL: [TemplateCategory; 3] = [
        TemplateCategory::Marketing,
        TemplateCategory::Utility,
        TemplateCategory::Authentication,
    ];

    /// Meta's name: `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateCategory::Marketing => "MARKETING",
            TemplateCategory::Utility => "UTILITY",
            TemplateCategory::Authentication => "AUTHENTICATION",
        }
    }

    /// The consent purpose of a send of this category: MARKETING is `marketing`; UTILITY and
    /// AUTHENTICATION (one-time codes the person asked for) are `utility`.
    pub fn purpose(self) -> Purpose {
        match self {
            TemplateCategory::Marketing => Purpose::Marketing,
            TemplateCategory::Utility | TemplateCategory::Authentication => Purpose::Utility,
        }
    }
}

impl fmt::Display for TemplateCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TemplateCategory {
    type Err = UnknownTemplateValue;
    fn from_str(s: &str) -> Result<Self, UnknownTemplateValue> {
        TemplateCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownTemplateValue {
                field: "category",
                value: s.to_string(),
            })
    }
}

/// A template's review status. Only [`TemplateStatus::Approved`] may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
}

impl TemplateStatus {
    pub const ALL: [TemplateStatus; 9] = [
        TemplateStatus::Approved,
        TemplateStatus::Pending,
        TemplateStatus::Rejected,
        TemplateStatus::Paused,
        TemplateStatus::Disabled,
        TemplateStatus::InAppeal,
        TemplateStatus::PendingDeletion,
        TemplateStatus::Archived,
        TemplateStatus::LimitExceeded,
    ];

    /// Meta's name, e.g. `APPROVED`, `IN_APPEAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Approved => "APPROVED",
            TemplateStatus::Pending => "PENDING",
            TemplateStatus::Rejected => "REJECTED",
            TemplateStatus::Paused => "PAUSED",
            TemplateStatus::Disabled => "DISABLED",
            TemplateStatus::InAppeal => "IN_APPEAL",
            TemplateStatus::PendingDeletion => "PENDING_DELETION",
            TemplateStatus::Archived => "ARCHIVED",
            TemplateStatus::LimitExceeded => "LIMIT_EXCEEDED",
        }
    }

    /// Whether a template in this status may be sent (only APPROVED).
    pub fn is_sendable(self) -> bool {
        self == TemplateStatus::Approved
    }
}

impl fmt::Display for TemplateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TemplateStatus {
    type Err = UnknownTemplateValue;
    fn from_str(s: &str) -> Result<Self, UnknownTemplateValue> {
        TemplateStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownTemplateValue {
                field: "status",
                value: s.to_string(),
            })
    }
}

/// A category or status name that is not known. A template whose status cannot be read must not
/// be handed to the gate; without it the send is refused as `template_not_approved`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown template {field} {value:?}")]
pub struct UnknownTemplateValue {
    /// `category` or `status`.
    pub field: &'static str,
    pub value: String,
}

/// A template of the sending channel, as stored (synced from Meta and kept current by
/// `message_template_status_update` webhooks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    /// Meta's language code, e.g. `en_US`.
    pub language: String,
    pub category: TemplateCategory,
    pub status: TemplateStatus,
    /// How many parameters the template's components take, all components together.
    pub param_count: usize,
}
