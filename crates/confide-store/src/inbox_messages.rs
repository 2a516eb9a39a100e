//! A conversation's messages, read and stored: the message half of [`crate::inbox::Inbox`]
//! (conversations are in `inbox.rs`).

use crate::conversations::{Direction, Message, NewMessage, Stored};
use crate::error::StoreError;
use crate::inbox::{Inbox, InboxMessage, MediaSummary, MessageCursor};
use crate::page::{Page, next_cursor, page_size};
use confide_core::ids::{ConversationId, MessageId};
use sqlx::Row;

impl Inbox<'_, '_> {
    /// A page of a conversation's messages, newest first (`created_at` descending, then id
    /// descending), starting after `after`, each with its media fetch state when it has one.
    /// The conversation is not checked here: look it up first to answer "not found".
    pub async fn messages_page(
        &mut self,
        conversation: ConversationId,
        after: Option<MessageCursor>,
        limit: i64,
    ) -> Result<Page<InboxMessage, MessageCursor>, StoreError> {
        let limit = page_size(limit);
        let keyset = if after.is_some() {
            "AND (m.created_at < $3 OR (m.created_at = $3 AND m.message_id < $4)) ORDER BY m.created_at DESC, m.message_id DESC LIMIT $5"
        } else {
            "ORDER BY m.created_at DESC, m.message_id DESC LIMIT $3"
        };
        let sql = format!(
            "SELECT m.message_id, m.direction, m.wamid, m.kind, m.body_ct, m.status, m.created_at, m.error_reason, f.status, f.attempts, f.last_error, \
             (SELECT MIN(o.media_id) FROM media_objects o WHERE o.tenant_id = m.tenant_id AND o.message_id = m.message_id) \
             FROM messages m LEFT JOIN media_fetches f ON f.tenant_id = m.tenant_id AND f.message_id = m.message_id \
             WHERE m.tenant_id = $1 AND m.conversation_id = $2 {keyset}"
        );
        let t = self.scope.tenant_str().to_string();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(conversation.to_string());
        if let Some(c) = after {
            q = q.bind(c.created_at).bind(c.id.to_string());
        }
        let rows = q.bind(limit + 1).fetch_all(self.scope.conn()).await?;
        let mut items = rows
            .iter()
            .map(|r| {
                let message = self.message_from_row(r, conversation)?;
                let media_status: Option<String> = r.try_get(8)?;
                let media = match media_status {
                    Some(status) => Some(MediaSummary {
                        // Only a fetch that gave up explains itself; a pending one just retries.
                        error: if status == "failed" {
                            r.try_get(10)?
                        } else {
                            None
                        },
                        status,
                        attempts: r.try_get(9)?,
                        media_id: r.try_get(11)?,
                    }),
                    None => None,
                };
                Ok(InboxMessage { message, media })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next = next_cursor(&mut items, limit, |m| MessageCursor {
            created_at: m.message.created_at,
            id: m.message.id,
        });
        Ok(Page { items, next })
    }

    /// Stores a message in a conversation, once per wamid.
    pub async fn insert_message(
        &mut self,
        conversation: ConversationId,
        m: NewMessage,
    ) -> Result<Stored, StoreError> {
        let at = m.at_micros;
        let inbound = (m.direction == Direction::Inbound).then_some(at);
        let stored = self.scope.insert_message_row(conversation, m).await?;
        if let Stored::Inserted(_) = stored {
            self.scope
                .touch_conversations(&[(conversation, at, inbound)])
                .await?;
        }
        Ok(stored)
    }

    /// Messages of a conversation, newest first.
    pub async fn messages(
        &mut self,
        conversation: ConversationId,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows = sqlx::query(
            "SELECT message_id, direction, wamid, kind, body_ct, status, created_at, error_reason FROM messages \
             WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY created_at DESC, message_id DESC LIMIT $3",
        )
        .bind(t)
        .bind(conversation.to_string())
        .bind(limit.clamp(1, 500))
        .fetch_all(self.scope.conn())
        .await?;
        rows.iter()
            .map(|r| self.message_from_row(r, conversation))
            .collect()
    }

    /// One message of a conversation; [`StoreError::NotFound`] when it is not there.
    pub async fn message(
        &mut self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Message, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(
            "SELECT message_id, direction, wamid, kind, body_ct, status, created_at, error_reason FROM messages \
             WHERE tenant_id = $1 AND conversation_id = $2 AND message_id = $3",
        )
        .bind(t)
        .bind(conversation.to_string())
        .bind(id.to_string())
        .fetch_optional(self.scope.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        self.message_from_row(&row, conversation)
    }

    /// A message of `conversation` from a row whose first eight columns are `message_id,
    /// direction, wamid, kind, body_ct, status, created_at, error_reason`; the body is opened.
    fn message_from_row(
        &self,
        r: &sqlx::any::AnyRow,
        conversation: ConversationId,
    ) -> Result<Message, StoreError> {
        let id: String = r.try_get(0)?;
        let direction: String = r.try_get(1)?;
        let body: Option<Vec<u8>> = r.try_get(4)?;
        let body = match body {
            Some(b) => serde_json::from_str(&self.scope.open_string("messages", "body", &id, &b)?)
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
            error: r.try_get(7)?,
            created_at: r.try_get(6)?,
        })
    }

    /// The wamid of the customer's latest message in a conversation (what a read receipt
    /// names: WhatsApp marks it and everything before it read).
    pub async fn latest_inbound_wamid(
        &mut self,
        conversation: ConversationId,
    ) -> Result<Option<String>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(
            "SELECT wamid FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND direction = 'inbound' AND wamid IS NOT NULL \
             ORDER BY created_at DESC, message_id DESC LIMIT 1",
        )
        .bind(t)
        .bind(conversation.to_string())
        .fetch_optional(self.scope.conn())
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// The current status of a message by wamid (for tests and the inbox).
    pub async fn message_status(&mut self, wamid: &str) -> Result<Option<String>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query("SELECT status FROM messages WHERE tenant_id = $1 AND wamid = $2")
            .bind(t)
            .bind(wamid.to_string())
            .fetch_optional(self.scope.conn())
            .await?;
        row.map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .transpose()
    }
}
