//! The outbox: outbound messages the send gate let in, waiting for the dispatcher.
//!
//! An outbound message is a `messages` row (sealed body, `status = queued`) plus an `outbox` row
//! (ids, path, priority, state, attempts, next attempt; nothing personal). States:
//! `pending` → `in_flight` (claimed by a dispatcher holding the channel's lease, see
//! [`crate::leases`]; being handed to Graph) → `done` (sent, or failed with a plain reason), or
//! back to `pending` for a retry. An entry left `in_flight` by a dispatcher that no longer holds
//! the channel's lease (its process died or stopped mid-send) was interrupted between the
//! hand-over to Graph and its record: it becomes `review` (the message `needs_review`, with a
//! plain reason) and is never sent again automatically (never silently twice). Should the
//! holder after all record Graph's answer, that answer wins (`sent`, or back to `pending`).

use crate::conversations::{Direction, Message, NewMessage, Stored};
use crate::error::{StoreError, parse_id};
use crate::scope::Scope;
use crate::store::Store;
use confide_core::ids::{BroadcastId, ChannelId, ContactId, ConversationId, MessageId, TenantId};
use sqlx::Row;

/// Replies to a conversation go ahead of broadcast traffic.
pub const PRIORITY_REPLY: i64 = 0;
pub const PRIORITY_BROADCAST: i64 = 1;

/// What the gate let in, to queue.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub conversation: ConversationId,
    pub channel: ChannelId,
    pub contact: ContactId,
    /// The send path (`agent_reply`, `api`, ...), decided again at dispatch.
    pub path: String,
    pub priority: i64,
    /// `text`, `template`, ...
    pub kind: String,
    /// The content as JSON (sealed with the message).
    pub body: serde_json::Value,
    /// The broadcast this send belongs to, if any.
    pub broadcast: Option<BroadcastId>,
}

/// What queuing did: a new message, or the one an earlier request with the same
/// `Idempotency-Key` queued.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    New(Message),
    Replayed(Message),
}

/// A queued send as the dispatcher reads it across tenants (ids and states only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSend {
    pub tenant: TenantId,
    pub message: MessageId,
    pub channel: ChannelId,
    pub contact: ContactId,
    pub priority: i64,
    pub attempts: i64,
}

/// A queued send, read inside its tenant's scope.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub message: MessageId,
    pub conversation: ConversationId,
    pub channel: ChannelId,
    pub contact: ContactId,
    pub path: String,
    pub state: String,
    pub attempts: i64,
    pub kind: String,
    pub body: serde_json::Value,
}

impl<'s> Scope<'s> {
    /// The tenant's outbox.
    pub fn outbox(&mut self) -> Outbox<'_, 's> {
        Outbox { scope: self }
    }
}

/// What can be done to the tenant's queued sends, in the scope's transaction.
pub struct Outbox<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Outbox<'_, '_> {
    /// Queues an outbound message (status `queued`, due now). With an `Idempotency-Key`, a second
    /// call with the same key returns the message the first one queued and queues nothing; the
    /// key is kept only as a keyed hash.
    pub async fn enqueue(
        &mut self,
        new: NewOutbound,
        idempotency_key: Option<&str>,
    ) -> Result<Enqueued, StoreError> {
        let hash =
            idempotency_key.map(|k| self.scope.blind_index("outbox-idempotency", k.as_bytes()));
        if let Some(hash) = &hash
            && let Some(existing) = self.by_idempotency(hash).await?
        {
            return Ok(Enqueued::Replayed(existing));
        }
        let now = self.scope.now();
        let message = NewMessage {
            direction: Direction::Outbound,
            wamid: None,
            kind: new.kind.clone(),
            body: new.body.clone(),
            status: "queued".to_string(),
            at_micros: now,
        };
        let Stored::Inserted(id) = self
            .scope
            .insert_message_row(new.conversation, message)
            .await?
        else {
            return Err(StoreError::Conflict("message"));
        };
        self.scope
            .touch_conversations(&[(new.conversation, now, None)])
            .await?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO outbox (tenant_id, message_id, channel_id, contact_id, conversation_id, path, priority, state, attempts, next_attempt_at, idempotency_hash, created_at, broadcast_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $8, $10)",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(new.channel.to_string())
        .bind(new.contact.to_string())
        .bind(new.conversation.to_string())
        .bind(new.path)
        .bind(new.priority)
        .bind(now)
        .bind(hash)
        .bind(new.broadcast.map(|b| b.to_string()))
        .execute(self.scope.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "a send with this Idempotency-Key"))?;
        Ok(Enqueued::New(Message {
            id,
            conversation_id: new.conversation,
            direction: Direction::Outbound,
            wamid: None,
            kind: new.kind,
            body: new.body,
            status: "queued".to_string(),
            error: None,
            created_at: now,
        }))
    }

    async fn by_idempotency(&mut self, hash: &[u8]) -> Result<Option<Message>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(
            "SELECT message_id, conversation_id FROM outbox WHERE tenant_id = $1 AND idempotency_hash = $2",
        )
        .bind(t)
        .bind(hash.to_vec())
        .fetch_optional(self.scope.conn())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let message: MessageId = parse_id(row.try_get(0)?, "message")?;
        let conversation: ConversationId = parse_id(row.try_get(1)?, "conversation")?;
        self.scope
            .inbox()
            .message(conversation, message)
            .await
            .map(Some)
    }

    /// A queued send of this tenant with its content; [`StoreError::NotFound`] when absent.
    pub async fn entry(&mut self, message: MessageId) -> Result<OutboxEntry, StoreError> {
        let r = self
            .scope
            .tenant_row(
                "SELECT o.conversation_id, o.channel_id, o.contact_id, o.path, o.state, o.attempts, m.kind, m.body_ct \
                 FROM outbox o JOIN messages m ON m.tenant_id = o.tenant_id AND m.message_id = o.message_id \
                 WHERE o.tenant_id = $1 AND o.message_id = $2"
                    .to_string(),
                message.to_string(),
            )
            .await?;
        let body: Option<Vec<u8>> = r.try_get(7)?;
        let body = match body {
            Some(b) => serde_json::from_str(&self.scope.open_string(
                "messages",
                "body",
                &message.to_string(),
                &b,
            )?)
            .map_err(|_| StoreError::Corrupt("message body".into()))?,
            None => serde_json::Value::Null,
        };
        Ok(OutboxEntry {
            message,
            conversation: parse_id(r.try_get(0)?, "conversation")?,
            channel: parse_id(r.try_get(1)?, "channel")?,
            contact: parse_id(r.try_get(2)?, "contact")?,
            path: r.try_get(3)?,
            state: r.try_get(4)?,
            attempts: r.try_get(5)?,
            kind: r.try_get(6)?,
            body,
        })
    }

    /// Claims a pending send for one attempt by `holder` (`in_flight` since now, the holder and
    /// one more attempt recorded); false when it is not pending (another dispatcher has it, or it
    /// is done) or when `holder` does not hold the channel's dispatch lease right now.
    pub async fn claim(&mut self, message: MessageId, holder: &str) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        let n = sqlx::query(
            "UPDATE outbox SET state = 'in_flight', lease_holder = $4, attempts = attempts + 1, next_attempt_at = $3 \
             WHERE tenant_id = $1 AND message_id = $2 AND state = 'pending' AND EXISTS \
             (SELECT 1 FROM dispatch_leases l WHERE l.channel_id = outbox.channel_id AND l.holder = $4 AND l.expires_at > $3)",
        )
        .bind(t)
        .bind(message.to_string())
        .bind(now)
        .bind(holder.to_string())
        .execute(self.scope.conn())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records how a media message's bytes reach Meta (`link` or `upload`).
    pub async fn set_media_delivery(
        &mut self,
        message: MessageId,
        delivery: &str,
    ) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "UPDATE outbox SET media_delivery = $3 WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(t)
        .bind(message.to_string())
        .bind(delivery.to_string())
        .execute(self.scope.conn())
        .await?;
        Ok(())
    }

    /// How a media message's bytes were handed to Meta, once dispatched.
    pub async fn media_delivery(
        &mut self,
        message: MessageId,
    ) -> Result<Option<String>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT media_delivery FROM outbox WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(t)
        .bind(message.to_string())
        .fetch_optional(self.scope.conn())
        .await?;
        Ok(row.and_then(|r| r.0))
    }

    async fn set_state(
        &mut self,
        message: MessageId,
        sql: &'static str,
    ) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let n = sqlx::query(sql)
            .bind(t)
            .bind(message.to_string())
            .execute(self.scope.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Graph accepted the send as `wamid`: the message moves to `status` (`sent`, or further on
    /// when status webhooks for the wamid came in before this record; see
    /// [`Outbox::recorded_statuses`]) with its `rank`.
    pub async fn sent(
        &mut self,
        message: MessageId,
        wamid: &str,
        status: &str,
        rank: i64,
    ) -> Result<(), StoreError> {
        self.set_state(
            message,
            "UPDATE outbox SET state = 'done' WHERE tenant_id = $1 AND message_id = $2",
        )
        .await?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "UPDATE messages SET wamid = $3, status = $4, status_rank = $5 WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(t)
        .bind(message.to_string())
        .bind(wamid.to_string())
        .bind(status.to_string())
        .bind(rank)
        .execute(self.scope.conn())
        .await?;
        Ok(())
    }

    /// The statuses status webhooks recorded for `wamid` so far.
    pub async fn recorded_statuses(&mut self, wamid: &str) -> Result<Vec<String>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows =
            sqlx::query("SELECT status FROM message_statuses WHERE tenant_id = $1 AND wamid = $2")
                .bind(t)
                .bind(wamid.to_string())
                .fetch_all(self.scope.conn())
                .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }

    /// Puts a claimed send back in the queue, due at `at` (Unix micros).
    pub async fn retry_at(&mut self, message: MessageId, at: i64) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $3 WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(t)
        .bind(message.to_string())
        .bind(at)
        .execute(self.scope.conn())
        .await?;
        // Held for review meanwhile (its dispatcher's lease lapsed mid-send), but Graph's answer
        // shows it was not sent: queued again.
        sqlx::query(
            "UPDATE messages SET status = 'queued', error_reason = NULL WHERE tenant_id = $1 AND message_id = $2 AND status = 'needs_review'",
        )
        .bind(self.scope.tenant_str().to_string())
        .bind(message.to_string())
        .execute(self.scope.conn())
        .await?;
        Ok(())
    }

    /// The send failed for good: the message is `failed` with Meta's code (if any) and a plain
    /// reason; nothing is retried.
    pub async fn fail(
        &mut self,
        message: MessageId,
        code: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.set_state(
            message,
            "UPDATE outbox SET state = 'done' WHERE tenant_id = $1 AND message_id = $2",
        )
        .await?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "UPDATE messages SET status = 'failed', status_rank = 2, error_code = $3, error_reason = $4 WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(t)
        .bind(message.to_string())
        .bind(code)
        .bind(reason.chars().take(300).collect::<String>())
        .execute(self.scope.conn())
        .await?;
        Ok(())
    }

    /// Why the message Graph accepted as `wamid` failed later (a `failed` status webhook): its
    /// code and plain reason, kept while the message is `failed` (a later delivery receipt wins
    /// and clears nothing it does not own).
    pub async fn failure_reason(
        &mut self,
        wamid: &str,
        code: Option<i64>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "UPDATE messages SET error_code = $3, error_reason = $4 WHERE tenant_id = $1 AND wamid = $2 AND status = 'failed'",
        )
        .bind(t)
        .bind(wamid.to_string())
        .bind(code)
        .bind(reason.chars().take(300).collect::<String>())
        .execute(self.scope.conn())
        .await?;
        Ok(())
    }

    /// A send interrupted between the hand-over to Graph and its record: kept for a person to
    /// check (the message `needs_review`, with [`REVIEW_REASON`]), never sent again
    /// automatically.
    pub async fn hold_for_review(&mut self, message: MessageId) -> Result<bool, StoreError> {
        let held = self
            .set_state(
                message,
                "UPDATE outbox SET state = 'review' WHERE tenant_id = $1 AND message_id = $2 AND state = 'in_flight'",
            )
            .await?;
        if held {
            let t = self.scope.tenant_str().to_string();
            sqlx::query(
                "UPDATE messages SET status = 'needs_review', error_reason = $3 WHERE tenant_id = $1 AND message_id = $2 AND status = 'queued'",
            )
            .bind(t)
            .bind(message.to_string())
            .bind(REVIEW_REASON)
            .execute(self.scope.conn())
            .await?;
        }
        Ok(held)
    }
}

/// What a send held for review says.
pub const REVIEW_REASON: &str = "Confide stopped while handing this message to WhatsApp, so it may or may not have been sent; it will not be sent again automatically. Check the conversation on WhatsApp before sending it again.";

/// The message status of a send held for review.
pub const NEEDS_REVIEW: &str = "needs_review";

impl Store {
    /// Sends that are due, replies before broadcast traffic, oldest first; channels whose
    /// dispatch lease another holder than `holder` has (unexpired) are left to it.
    pub async fn due_sends(
        &self,
        now_micros: i64,
        limit: i64,
        holder: &str,
    ) -> Result<Vec<DueSend>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant_id, message_id, channel_id, contact_id, priority, attempts FROM outbox \
             WHERE state = 'pending' AND next_attempt_at <= $1 AND NOT EXISTS \
             (SELECT 1 FROM dispatch_leases l WHERE l.channel_id = outbox.channel_id AND l.holder <> $3 AND l.expires_at > $1) \
             ORDER BY priority, next_attempt_at LIMIT $2",
        )
        .bind(now_micros)
        .bind(limit)
        .bind(holder.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(due_send).collect()
    }

    /// Sends left `in_flight` by a dispatcher that no longer holds its channel's lease at `now`
    /// (its process died or stopped mid-send; the lease expired, was released or taken over), or
    /// claimed before `claimed_before` (a send never takes that long): interrupted between the
    /// hand-over to Graph and its record.
    pub async fn interrupted_sends(
        &self,
        claimed_before: i64,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueSend>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant_id, message_id, channel_id, contact_id, priority, attempts FROM outbox o \
             WHERE o.state = 'in_flight' AND (o.next_attempt_at <= $1 OR o.lease_holder IS NULL OR NOT EXISTS \
             (SELECT 1 FROM dispatch_leases l WHERE l.channel_id = o.channel_id AND l.holder = o.lease_holder AND l.expires_at > $2)) \
             ORDER BY o.next_attempt_at LIMIT $3",
        )
        .bind(claimed_before)
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(due_send).collect()
    }
}

fn due_send(r: &sqlx::any::AnyRow) -> Result<DueSend, StoreError> {
    Ok(DueSend {
        tenant: parse_id(r.try_get(0)?, "tenant")?,
        message: parse_id(r.try_get(1)?, "message")?,
        channel: parse_id(r.try_get(2)?, "channel")?,
        contact: parse_id(r.try_get(3)?, "contact")?,
        priority: r.try_get(4)?,
        attempts: r.try_get(5)?,
    })
}
