//! What tests inspect: accepted sends, rejections, inbound messages, webhook events, deliveries.

use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;

/// How an accepted send ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum SendOutcome {
    /// `sent` (and `delivered`/`read`) statuses follow.
    Accepted,
    /// HTTP 200, then a `failed` status with this code (131047, 131026, 131050, 131053).
    FailedAsync { code: i64 },
}

/// A send the Graph API answered 200.
#[derive(Debug, Clone, Serialize)]
pub struct OutboundRecord {
    pub wamid: String,
    pub phone_number_id: String,
    /// `to` or `recipient` as given.
    pub input: String,
    /// The recipient's BSUID when the simulator knows the user.
    pub user_id: Option<String>,
    /// The phone digits for a phone send.
    pub wa_id: Option<String>,
    /// `text`, `template`, `image`, ...
    pub kind: String,
    /// `(name, language)` of a template send.
    pub template: Option<(String, String)>,
    /// The request body as received.
    pub body: serde_json::Value,
    #[serde(with = "time::serde::timestamp")]
    pub at: OffsetDateTime,
    pub outcome: SendOutcome,
}

/// A request the Graph API refused (any endpoint).
#[derive(Debug, Clone, Serialize)]
pub struct RejectedRequest {
    pub path: String,
    pub http_status: u16,
    pub code: i64,
    pub subcode: Option<i64>,
    pub message: String,
    #[serde(with = "time::serde::timestamp")]
    pub at: OffsetDateTime,
}

/// A message a scripted customer sent.
#[derive(Debug, Clone, Serialize)]
pub struct InboundRecord {
    pub wamid: String,
    pub phone_number_id: String,
    pub user_id: String,
    pub kind: String,
    pub media_id: Option<String>,
    #[serde(with = "time::serde::timestamp")]
    pub at: OffsetDateTime,
}

/// A mark-as-read call.
#[derive(Debug, Clone, Serialize)]
pub struct ReadReceipt {
    pub phone_number_id: String,
    pub message_id: String,
    pub typing_indicator: bool,
    #[serde(with = "time::serde::timestamp")]
    pub at: OffsetDateTime,
}

/// One webhook change the simulator generated (whether or not a callback exists).
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEvent {
    pub seq: u64,
    pub phone_number_id: String,
    pub field: String,
    /// The change object (`{"field":..,"value":..}`).
    pub change: serde_json::Value,
    #[serde(with = "time::serde::timestamp")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Pending,
    /// The receiver answered 200.
    Acknowledged,
    /// Given up (max age or max attempts).
    Dropped,
}

/// One POST attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The HTTP status, or none when the receiver was unreachable.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One webhook delivery (a body POSTed until acknowledged).
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub id: u64,
    pub phone_number_id: String,
    pub url: String,
    /// The exact bytes sent (empty when `record_bodies` is off).
    #[serde(skip)]
    pub body: Arc<str>,
    /// The `X-Hub-Signature-256` header value.
    pub signature: String,
    pub changes: usize,
    /// Set when this delivery re-sends an earlier one byte for byte.
    pub duplicate_of: Option<u64>,
    pub attempts: Vec<Attempt>,
    pub outcome: DeliveryOutcome,
}

/// A media link Meta fetched for a media message sent with `link`.
#[derive(Debug, Clone)]
pub struct LinkFetch {
    pub url: String,
    /// The message the link was for.
    pub wamid: String,
    /// 0 when the request failed outright.
    pub http_status: u16,
    pub bytes: Vec<u8>,
    pub at: OffsetDateTime,
}
