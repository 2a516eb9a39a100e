//! Messages: what the inbox lists and ingest stores. Message bodies are sealed; a message from
//! WhatsApp is stored once per `(tenant, wamid)`, so Meta's retries and duplicates change
//! nothing. What can be done to conversations and their messages is [`crate::inbox::Inbox`];
//! storing what webhooks bring is [`crate::ingest`].

use confide_core::ids::{ConversationId, MessageId};
use serde::Serialize;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

impl NewMessage {
    pub(crate) fn direction_str(&self) -> &'static str {
        self.direction.as_str()
    }
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub direction: Direction,
    pub wamid: Option<String>,
    /// `text`, `image`, `template`, ...
    pub kind: String,
    /// The content as JSON (sealed before storage).
    pub body: serde_json::Value,
    pub status: String,
    pub at_micros: i64,
}

/// What storing a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Inserted(MessageId),
    /// The wamid was already stored: nothing changed.
    Duplicate,
}

/// A message, decrypted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub direction: Direction,
    pub wamid: Option<String>,
    pub kind: String,
    pub body: serde_json::Value,
    pub status: String,
    /// Why an outbound message failed (or is held for review), in plain words.
    pub error: Option<String>,
    pub created_at: i64,
}
