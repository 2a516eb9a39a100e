//! Delivery statuses of outbound messages (`value.statuses[]`).

use super::common::WebhookError;
use super::json::{kind, opt_object, opt_str, req_id, req_str, timestamp, typed};
use serde::Deserialize;
use serde_json::Value;

/// One status notification. Dedupe on `(id, status)`; statuses arrive out of order and `delivered`
/// may be skipped, so apply them with [`StatusKind::supersedes`].
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The wamid of our outbound message.
    pub id: String,
    pub status: StatusKind,
    /// Unix seconds.
    pub timestamp: i64,
    /// Phone digits; only when the phone may be shared.
    pub recipient_id: Option<String>,
    /// BSUID; absent only on `failed` for a phone send.
    pub recipient_user_id: Option<String>,
    /// Parent BSUID (also read from the older `parent_recipient_user_id`).
    pub recipient_parent_user_id: Option<String>,
    /// Echo of what we sent with the message.
    pub biz_opaque_callback_data: Option<String>,
    /// On `sent` and on one of `delivered`/`read`.
    pub pricing: Option<Pricing>,
    /// On `failed`.
    pub errors: Vec<WebhookError>,
}

/// The `status` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    /// A voice message was played.
    Played,
    Failed,
    /// Any other value (kept, never an error).
    Other(String),
}

impl StatusKind {
    pub fn parse(s: &str) -> Self {
        match s {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Other(s) => s,
        }
    }

    /// Where a status sits in a message's life, so a late arrival never moves it backwards.
    ///
    /// `Other < Sent < Failed < Delivered < Read < Played`:
    /// - `read` never goes back to `delivered`, `delivered` never back to `sent`;
    /// - `played` (a voice note was listened to) implies it was read;
    /// - `failed` beats `sent` whichever arrives first: a failure is final for a message that was
    ///   only accepted;
    /// - a `delivered`/`read`/`played` beats `failed` whichever arrives first: a receipt from the
    ///   user's phone is proof of delivery that a contradictory failure cannot undo;
    /// - an unknown status never replaces a known one.
    ///
    /// Because the order is total, the final state does not depend on arrival order.
    pub fn rank(&self) -> u8 {
        match self {
            Self::Other(_) => 0,
            Self::Sent => 1,
            Self::Failed => 2,
            Self::Delivered => 3,
            Self::Read => 4,
            Self::Played => 5,
        }
    }

    /// True when a message currently at `current` should move to `self`.
    pub fn supersedes(&self, current: &StatusKind) -> bool {
        self.rank() > current.rank()
    }
}

/// `pricing` on a status (pricing model `PMP` since July 2025).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Pricing {
    pub billable: Option<bool>,
    pub pricing_model: Option<String>,
    /// `regular`, `free_customer_service`, `free_entry_point`.
    #[serde(rename = "type")]
    pub pricing_type: Option<String>,
    /// `marketing`, `utility`, `authentication`, `service`, …
    pub category: Option<String>,
}

/// Parses one `statuses[]` item.
pub(crate) fn parse_status(v: &Value) -> Result<Status, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("should be an object, found {}", kind(v)))?;
    let id = req_id(o, "id")?;
    let status = StatusKind::parse(&req_str(o, "status")?);
    let timestamp = timestamp(o, "timestamp")?;
    let recipient_parent_user_id = match opt_str(o, "recipient_parent_user_id")? {
        Some(p) => Some(p),
        None => opt_str(o, "parent_recipient_user_id")?,
    };
    let pricing = match opt_object(o, "pricing")? {
        Some(_) => o
            .get("pricing")
            .map(|p| typed::<Pricing>("pricing", p))
            .transpose()?,
        None => None,
    };
    Ok(Status {
        id,
        status,
        timestamp,
        recipient_id: super::json::opt_id(o, "recipient_id")?,
        recipient_user_id: opt_str(o, "recipient_user_id")?,
        recipient_parent_user_id,
        biz_opaque_callback_data: opt_str(o, "biz_opaque_callback_data")?,
        pricing,
        errors: WebhookError::parse_list(o, "errors")?,
    })
}

#[cfg(test)]
mod tests {
    use super::StatusKind::*;
    use super::*;

    #[test]
    fn ranks_never_go_backwards() {
        assert!(Read.supersedes(&Delivered));
        assert!(!Delivered.supersedes(&Read));
        assert!(Delivered.supersedes(&Sent));
        assert!(!Sent.supersedes(&Delivered));
        assert!(Read.supersedes(&Sent), "delivered may be skipped");
        assert!(Played.supersedes(&Read));
        assert!(!Read.supersedes(&Played));
        assert!(Failed.supersedes(&Sent));
        assert!(!Sent.supersedes(&Failed));
        assert!(Delivered.supersedes(&Failed));
        assert!(!Failed.supersedes(&Read));
        assert!(!Other("deleted".into()).supersedes(&Sent));
        assert!(Sent.supersedes(&Other("x".into())));
        assert!(!Read.supersedes(&Read), "a duplicate changes nothing");
    }

    #[test]
    fn final_state_is_order_independent() {
        let all = [Sent, Delivered, Read, Failed];
        // every permutation of 4 statuses ends at the highest rank
        let mut idx = [0usize, 1, 2, 3];
        let mut perms = 0;
        loop {
            let mut cur = Other(String::new());
            for &i in &idx {
                if all[i].supersedes(&cur) {
                    cur = all[i].clone();
                }
            }
            assert_eq!(cur, Read);
            perms += 1;
            // next permutation
            let Some(k) = (0..3).rev().find(|&k| idx[k] < idx[k + 1]) else {
                break;
            };
            let Some(l) = (k + 1..4).rev().find(|&l| idx[k] < idx[l]) else {
                break;
            };
            idx.swap(k, l);
            idx[k + 1..].reverse();
        }
        assert_eq!(perms, 24);
    }

    #[test]
    fn wire_names_round_trip() {
        for s in ["sent", "delivered", "read", "played", "failed", "deleted"] {
            assert_eq!(StatusKind::parse(s).as_str(), s);
        }
    }
}
