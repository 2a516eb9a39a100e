//! Conversations and their messages. Message bodies are sealed; a message from WhatsApp is
//! stored once per `(tenant, wamid)`, so Meta's retries and duplicates change nothing.

use crate::StoreError;
use crate::scope::Scope;
use confide_core::ids::{ChannelId, ContactId, ConversationId, MessageId};
use serde::Serialize;
use sqlx::Row;

const TABLE: &str = "messages";

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    fn as_str(self) -> &'static str {
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
    pub created_at: i64,
}

impl Scope<'_> {
    /// The open conversation between a contact and a channel, if there is one.
    pub async fn find_open_conversation(
        &mut self,
        contact: ContactId,
        channel: ChannelId,
    ) -> Result<Option<ConversationId>, StoreError> {
        let t = self.tenant_str().to_string();
        let found = sqlx::query(
            "SELECT conversation_id FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND channel_id = $3 AND status = 'open' \
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(t)
        .bind(contact.to_string())
        .bind(channel.to_string())
        .fetch_optional(self.conn())
        .await?;
        found
            .map(|r| {
                let id: String = r.try_get(0)?;
                id.parse()
                    .map_err(|_| StoreError::Corrupt("conversation id".into()))
            })
            .transpose()
    }

    /// The open conversation between a contact and a channel, created when there is none.
    pub async fn open_conversation(
        &mut self,
        contact: ContactId,
        channel: ChannelId,
    ) -> Result<ConversationId, StoreError> {
        if let Some(id) = self.find_open_conversation(contact, channel).await? {
            return Ok(id);
        }
        let t = self.tenant_str().to_string();
        let id = ConversationId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
        let now = self.now();
        let inserted = sqlx::query(
            "INSERT INTO conversations (tenant_id, conversation_id, contact_id, channel_id, status, last_message_at, created_at) \
             VALUES ($1, $2, $3, $4, 'open', $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(contact.to_string())
        .bind(channel.to_string())
        .bind(now)
        .execute(self.conn())
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(id);
        }
        // Another writer opened it first (one open conversation per pair is a unique index).
        self.find_open_conversation(contact, channel)
            .await?
            .ok_or(StoreError::Conflict("conversation"))
    }

    /// Stores a message in a conversation, once per wamid.
    pub async fn insert_message(
        &mut self,
        conversation: ConversationId,
        m: NewMessage,
    ) -> Result<Stored, StoreError> {
        let at = m.at_micros;
        let inbound = (m.direction == Direction::Inbound).then_some(at);
        let stored = self.insert_message_row(conversation, m).await?;
        if let Stored::Inserted(_) = stored {
            self.touch_conversation(conversation, at, inbound).await?;
        }
        Ok(stored)
    }

    /// Stores a message once per wamid without touching its conversation's times (bulk ingest
    /// touches each conversation once per round with [`Scope::touch_conversation`]).
    pub async fn insert_message_row(
        &mut self,
        conversation: ConversationId,
        m: NewMessage,
    ) -> Result<Stored, StoreError> {
        let id = MessageId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
        let row = id.to_string();
        let body = self.seal_str(TABLE, "body", &row, &m.body.to_string())?;
        let t = self.tenant_str().to_string();
        let res = sqlx::query(
            "INSERT INTO messages (tenant_id, message_id, conversation_id, direction, wamid, kind, body_ct, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, wamid) DO NOTHING",
        )
        .bind(t.clone())
        .bind(row)
        .bind(conversation.to_string())
        .bind(m.direction.as_str().to_string())
        .bind(m.wamid)
        .bind(m.kind)
        .bind(body)
        .bind(m.status)
        .bind(m.at_micros)
        .execute(self.conn())
        .await?;
        if res.rows_affected() == 0 {
            return Ok(Stored::Duplicate);
        }
        Ok(Stored::Inserted(id))
    }

    /// Moves a conversation's last-message time (and last-inbound time, which opens the 24-hour
    /// window) forward, never back.
    pub async fn touch_conversation(
        &mut self,
        conversation: ConversationId,
        last_message_at: i64,
        last_inbound_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        sqlx::query(
            "UPDATE conversations SET last_message_at = CASE WHEN last_message_at > $1 THEN last_message_at ELSE $1 END, \
             last_inbound_at = CASE WHEN $2 IS NULL THEN last_inbound_at WHEN last_inbound_at > $2 THEN last_inbound_at ELSE $2 END \
             WHERE tenant_id = $3 AND conversation_id = $4",
        )
        .bind(last_message_at)
        .bind(last_inbound_at)
        .bind(t)
        .bind(conversation.to_string())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Messages of a conversation, newest first.
    pub async fn list_messages(
        &mut self,
        conversation: ConversationId,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let t = self.tenant_str().to_string();
        let rows = sqlx::query(
            "SELECT message_id, direction, wamid, kind, body_ct, status, created_at FROM messages \
             WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY created_at DESC, message_id DESC LIMIT $3",
        )
        .bind(t)
        .bind(conversation.to_string())
        .bind(limit.clamp(1, 500))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| self.message_from_row(r, conversation))
            .collect()
    }
}

impl Scope<'_> {
    /// A message of `conversation` from a row whose first seven columns are `message_id,
    /// direction, wamid, kind, body_ct, status, created_at`; the body is opened.
    pub(crate) fn message_from_row(
        &self,
        r: &sqlx::any::AnyRow,
        conversation: ConversationId,
    ) -> Result<Message, StoreError> {
        let id: String = r.try_get(0)?;
        let direction: String = r.try_get(1)?;
        let body: Option<Vec<u8>> = r.try_get(4)?;
        let body = match body {
            Some(b) => serde_json::from_str(&self.open_string(TABLE, "body", &id, &b)?)
                .map_err(|_| StoreError::Corrupt("message body".into()))?,
            None => serde_json::Value::Null,
        };
        Ok(Message {
            id: id
                .parse()
                .map_err(|_| StoreError::Corrupt("message id".into()))?,
            conversation_id: conversation,
            direction: if direction == "inbound" {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            wamid: r.try_get(2)?,
            kind: r.try_get(3)?,
            body,
            status: r.try_get(5)?,
            created_at: r.try_get(6)?,
        })
    }
}
