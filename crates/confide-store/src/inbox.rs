//! The inbox: everything that can be done to a tenant's conversations and their messages, through
//! [`Inbox`] (`scope.inbox()`). Conversations are listed with their contact's display fields, and
//! messages a page at a time; pages are keyset-paginated ([`crate::page`]): a
//! [`ConversationCursor`] or [`MessageCursor`] names the last row of the previous page. At most
//! one conversation per contact and channel is open (a unique index).

use crate::conversations::Message;
use crate::error::{StoreError, parse_id};
use crate::page::{Page, next_cursor, page_size};
use crate::scope::Scope;
use crate::tables::{self, conversations::ConversationRow};
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::{ChannelId, ContactId, ConversationId, MessageId, UserId};
use sqlx::Row;

/// A conversation's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatus {
    Open,
    Resolved,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(ConversationStatus::Open),
            "resolved" => Some(ConversationStatus::Resolved),
            _ => None,
        }
    }
}

/// Whom a listed conversation is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Unassigned conversations only.
    Nobody,
    /// Conversations assigned to this user.
    User(UserId),
}

/// Which conversations to list (`None`: no restriction).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub assignee: Option<AssigneeFilter>,
    /// Only this contact's conversations.
    pub contact: Option<ContactId>,
    /// Only conversations whose contact carries exactly this label (through its blind index).
    pub label: Option<String>,
    /// Only conversations of these contacts (a search's matches; empty: none).
    pub contacts: Option<Vec<ContactId>>,
}

/// Where a page of conversations ends: its last row's `last_message_at` and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationCursor {
    pub last_message_at: i64,
    pub id: ConversationId,
}

/// Where a page of messages ends: its last row's `created_at` and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCursor {
    pub created_at: i64,
    pub id: MessageId,
}

/// A conversation as the inbox shows it, with its contact's display fields decrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxConversation {
    pub id: ConversationId,
    pub contact_id: ContactId,
    pub channel_id: ChannelId,
    /// `open` or `resolved`.
    pub status: String,
    pub assignee: Option<UserId>,
    pub last_message_at: i64,
    pub last_inbound_at: Option<i64>,
    pub created_at: i64,
    pub contact_name: Option<String>,
    pub contact_username: Option<String>,
    /// E.164, as stored.
    pub contact_phone: Option<String>,
    /// Customer messages since the team last opened the conversation (all of them if never).
    pub unread: i64,
}

/// Where an inbound message's media fetch stands (`pending`, `stored` or `failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSummary {
    pub status: String,
    pub attempts: i64,
    /// Why the fetch gave up, in plain words.
    pub error: Option<String>,
    /// The stored object, once fetched (`GET /api/v1/media/{id}/link` serves it).
    pub media_id: Option<String>,
}

/// A message of a page, with its media fetch state when it has media.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxMessage {
    pub message: Message,
    pub media: Option<MediaSummary>,
}

/// A change to a conversation: `None` leaves a field as it is; `assignee: Some(None)` unassigns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConversationChange {
    pub status: Option<ConversationStatus>,
    pub assignee: Option<Option<UserId>>,
}

/// Why the inbox refused a change (besides [`StoreError::NotFound`] for a conversation that is
/// not the tenant's and [`StoreError::Conflict`] for a second open conversation).
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("the assignee is not an active user of this tenant")]
    InvalidAssignee,
    #[error("no such contact in this tenant")]
    InvalidContact,
    #[error("no such channel in this tenant")]
    InvalidChannel,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for InboxError {
    fn from(e: sqlx::Error) -> Self {
        InboxError::Store(StoreError::Database(e))
    }
}

/// What a reopen would break: the contact's other open conversation on the same channel.
const OPEN_ELSEWHERE: &str = "an open conversation for this contact and channel";

const CONVERSATION_COLUMNS: &str = "c.conversation_id, c.contact_id, c.channel_id, c.status, c.assignee_user_id, \
     c.last_message_at, c.last_inbound_at, c.created_at, k.name_ct, k.username_ct, k.phone_ct, \
     CASE WHEN c.last_inbound_at > COALESCE(c.last_read_at, 0) THEN \
     (SELECT COUNT(*) FROM messages m WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.conversation_id \
      AND m.created_at > COALESCE(c.last_read_at, 0) AND m.direction = 'inbound') ELSE 0 END";

const CONVERSATION_FROM: &str = "FROM conversations c JOIN contacts k ON k.tenant_id = c.tenant_id AND k.contact_id = c.contact_id";

impl<'s> Scope<'s> {
    /// The tenant's conversations and their messages.
    pub fn inbox(&mut self) -> Inbox<'_, 's> {
        Inbox { scope: self }
    }
}

/// What can be done to the tenant's conversations and their messages, in the scope's transaction:
/// list and read them a page at a time, find or open the one open conversation of a contact
/// and channel, assign, resolve, reopen, store a message. What webhooks bring is stored by
/// [`crate::ingest`].
pub struct Inbox<'a, 's> {
    pub(crate) scope: &'a mut Scope<'s>,
}

impl Inbox<'_, '_> {
    /// A page of the tenant's conversations, most recent activity first (`last_message_at`
    /// descending, then id descending), starting after `after`.
    pub async fn conversations(
        &mut self,
        filter: ConversationFilter,
        after: Option<ConversationCursor>,
        limit: i64,
    ) -> Result<Page<InboxConversation, ConversationCursor>, StoreError> {
        let limit = page_size(limit);
        // $1 is the tenant; the others are numbered as they are added.
        let mut sql =
            format!("SELECT {CONVERSATION_COLUMNS} {CONVERSATION_FROM} WHERE c.tenant_id = $1");
        let mut texts: Vec<String> = Vec::new();
        let mut n = 1;
        let mut next_ph = || {
            n += 1;
            format!("${n}")
        };
        if let Some(status) = filter.status {
            sql.push_str(&format!(" AND c.status = {}", next_ph()));
            texts.push(status.as_str().to_string());
        }
        if let Some(contact) = filter.contact {
            sql.push_str(&format!(" AND c.contact_id = {}", next_ph()));
            texts.push(contact.to_string());
        }
        if let Some(contacts) = &filter.contacts {
            if contacts.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                let phs: Vec<String> = contacts.iter().map(|_| next_ph()).collect();
                sql.push_str(&format!(" AND c.contact_id IN ({})", phs.join(", ")));
                texts.extend(contacts.iter().map(ToString::to_string));
            }
        }
        match filter.assignee {
            None => {}
            Some(AssigneeFilter::Nobody) => sql.push_str(" AND c.assignee_user_id IS NULL"),
            Some(AssigneeFilter::User(u)) => {
                sql.push_str(&format!(" AND c.assignee_user_id = {}", next_ph()));
                texts.push(u.to_string());
            }
        }
        let label_bidx = filter.label.as_deref().map(|l| {
            self.scope
                .blind_index(crate::contacts::LABEL_INDEX, l.as_bytes())
        });
        let label_ph = label_bidx.as_ref().map(|_| next_ph());
        if let Some(ph) = &label_ph {
            sql.push_str(&format!(
                " AND c.contact_id IN (SELECT contact_id FROM contact_labels WHERE tenant_id = $1 AND label_bidx = {ph})"
            ));
        }
        let cursor = after.map(|c| (c.last_message_at, c.id.to_string()));
        if cursor.is_some() {
            let (at, id) = (next_ph(), next_ph());
            sql.push_str(&format!(
                " AND (c.last_message_at < {at} OR (c.last_message_at = {at} AND c.conversation_id < {id}))"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY c.last_message_at DESC, c.conversation_id DESC LIMIT {}",
            next_ph()
        ));
        // The text filters in their placeholders' order, then the label's index, then the cursor.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(self.scope.tenant_str().to_string());
        for t in texts {
            q = q.bind(t);
        }
        if let Some(b) = label_bidx {
            q = q.bind(b);
        }
        if let Some((at, id)) = cursor {
            q = q.bind(at).bind(id);
        }
        let rows = q.bind(limit + 1).fetch_all(self.scope.conn()).await?;
        let mut items = rows
            .iter()
            .map(|r| self.conversation_from_row(r))
            .collect::<Result<Vec<_>, _>>()?;
        let next = next_cursor(&mut items, limit, |c| ConversationCursor {
            last_message_at: c.last_message_at,
            id: c.id,
        });
        Ok(Page { items, next })
    }

    /// How many of the tenant's conversations have customer messages the team has not read
    /// (through a partial index of exactly those conversations).
    pub async fn unread_conversations(&mut self) -> Result<i64, StoreError> {
        let t = self.scope.tenant_str().to_string();
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM conversations WHERE tenant_id = $1 AND last_inbound_at > COALESCE(last_read_at, 0)",
        )
        .bind(t)
        .fetch_one(self.scope.conn())
        .await?
        .try_get(0)?)
    }

    /// The team read the conversation: its customer messages up to the latest are no longer
    /// unread. True when it had unread messages.
    pub async fn mark_read(&mut self, id: ConversationId) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let res = sqlx::query(
            "UPDATE conversations SET last_read_at = last_inbound_at \
             WHERE tenant_id = $1 AND conversation_id = $2 AND last_inbound_at > COALESCE(last_read_at, 0)",
        )
        .bind(t)
        .bind(id.to_string())
        .execute(self.scope.conn())
        .await?;
        Ok(res.rows_affected() > 0)
    }

    /// One conversation of the tenant as the inbox shows it; [`StoreError::NotFound`] when the
    /// id is not this tenant's.
    pub async fn conversation(
        &mut self,
        id: ConversationId,
    ) -> Result<InboxConversation, StoreError> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} {CONVERSATION_FROM} WHERE c.tenant_id = $1 AND c.conversation_id = $2"
        );
        let r = self.scope.tenant_row(sql, id.to_string()).await?;
        self.conversation_from_row(&r)
    }

    fn conversation_from_row(
        &self,
        r: &sqlx::any::AnyRow,
    ) -> Result<InboxConversation, StoreError> {
        let id: String = r.try_get(0)?;
        let contact: String = r.try_get(1)?;
        let channel: String = r.try_get(2)?;
        let assignee: Option<String> = r.try_get(4)?;
        let open = |i: usize, col: &str| -> Result<Option<String>, StoreError> {
            let v: Option<Vec<u8>> = r.try_get(i)?;
            v.map(|v| self.scope.open_string("contacts", col, &contact, &v))
                .transpose()
        };
        Ok(InboxConversation {
            id: parse_id(id, "conversation")?,
            contact_id: parse_id(contact.clone(), "contact")?,
            channel_id: parse_id(channel, "channel")?,
            status: r.try_get(3)?,
            assignee: assignee.map(|a| parse_id(a, "user")).transpose()?,
            last_message_at: r.try_get(5)?,
            last_inbound_at: r.try_get(6)?,
            created_at: r.try_get(7)?,
            contact_name: open(8, "name")?,
            contact_username: open(9, "username")?,
            contact_phone: open(10, "phone")?,
            unread: r.try_get(11)?,
        })
    }

    /// True when `sql` (`$1` the tenant, `$2` the id) finds a row.
    async fn tenant_has(&mut self, sql: &'static str, id: String) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        Ok(sqlx::query(sql)
            .bind(t)
            .bind(id)
            .fetch_optional(self.scope.conn())
            .await?
            .is_some())
    }

    /// Assigns, unassigns, resolves or reopens one of the tenant's conversations, each change
    /// audited (`conversation.assigned`, `conversation.resolved`, `conversation.reopened`, ids
    /// only) in this transaction; a field set to what it already is changes nothing. The
    /// assignee must be an active user of the tenant; reopening while the contact has another
    /// open conversation on the channel is a [`StoreError::Conflict`] (at most one is open).
    pub async fn update(
        &mut self,
        id: ConversationId,
        change: ConversationChange,
        actor: Actor,
    ) -> Result<InboxConversation, InboxError> {
        let current = self.conversation(id).await?;
        if let Some(Some(user)) = change.assignee
            && !self
                .tenant_has(
                    "SELECT 1 FROM users WHERE tenant_id = $1 AND user_id = $2 AND status = 'active'",
                    user.to_string(),
                )
                .await?
        {
            return Err(InboxError::InvalidAssignee);
        }
        let t = self.scope.tenant_str().to_string();
        let row = id.to_string();
        let target = format!("conversation:{row}");
        let status = change
            .status
            .filter(|s| s.as_str() != current.status.as_str());
        if status == Some(ConversationStatus::Open) {
            let other = sqlx::query(
                "SELECT 1 FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND channel_id = $3 \
                 AND status = 'open' AND conversation_id <> $4",
            )
            .bind(t.clone())
            .bind(current.contact_id.to_string())
            .bind(current.channel_id.to_string())
            .bind(row.clone())
            .fetch_optional(self.scope.conn())
            .await?;
            if other.is_some() {
                return Err(StoreError::Conflict(OPEN_ELSEWHERE).into());
            }
        }
        if let Some(assignee) = change.assignee.filter(|a| *a != current.assignee) {
            sqlx::query(
                "UPDATE conversations SET assignee_user_id = $1 WHERE tenant_id = $2 AND conversation_id = $3",
            )
            .bind(assignee.map(|u| u.to_string()))
            .bind(t.clone())
            .bind(row.clone())
            .execute(self.scope.conn())
            .await?;
            let event = AuditEvent::new(actor.clone(), "conversation.assigned", target.clone())
                .with_details(serde_json::json!({
                    "assignee": assignee.map(|u| u.to_string()),
                    "previous_assignee": current.assignee.map(|u| u.to_string()),
                }));
            self.scope.audit(&event).await?;
        }
        if let Some(status) = status {
            sqlx::query(
                "UPDATE conversations SET status = $1 WHERE tenant_id = $2 AND conversation_id = $3",
            )
            .bind(status.as_str().to_string())
            .bind(t)
            .bind(row)
            .execute(self.scope.conn())
            .await
            // A concurrent writer opened another conversation for the pair (unique index).
            .map_err(|e| StoreError::from_insert(e, "another open conversation"))?;
            let action = match status {
                ConversationStatus::Open => "conversation.reopened",
                ConversationStatus::Resolved => "conversation.resolved",
            };
            let event = AuditEvent::new(actor, action, target).with_details(serde_json::json!({
                "contact_id": current.contact_id.to_string(),
                "channel_id": current.channel_id.to_string(),
            }));
            self.scope.audit(&event).await?;
        }
        Ok(self.conversation(id).await?)
    }

    /// The open conversation between a contact and a channel of the tenant, opened (and audited
    /// as `conversation.opened`) when there is none; `true` when it was opened here. A contact
    /// or channel that is not the tenant's is [`InboxError::InvalidContact`] /
    /// [`InboxError::InvalidChannel`], whether or not another tenant has it.
    pub async fn start(
        &mut self,
        contact: ContactId,
        channel: ChannelId,
        actor: Actor,
    ) -> Result<(InboxConversation, bool), InboxError> {
        if !self
            .tenant_has(
                "SELECT 1 FROM contacts WHERE tenant_id = $1 AND contact_id = $2",
                contact.to_string(),
            )
            .await?
        {
            return Err(InboxError::InvalidContact);
        }
        if !self
            .tenant_has(
                "SELECT 1 FROM channels WHERE tenant_id = $1 AND channel_id = $2",
                channel.to_string(),
            )
            .await?
        {
            return Err(InboxError::InvalidChannel);
        }
        if let Some(id) = self.find_open(contact, channel).await? {
            return Ok((self.conversation(id).await?, false));
        }
        let id = self.open(contact, channel).await?;
        let event = AuditEvent::new(actor, "conversation.opened", format!("conversation:{id}"))
            .with_details(serde_json::json!({
                "contact_id": contact.to_string(),
                "channel_id": channel.to_string(),
            }));
        self.scope.audit(&event).await?;
        Ok((self.conversation(id).await?, true))
    }

    /// The open conversation between a contact and a channel, if there is one.
    pub async fn find_open(
        &mut self,
        contact: ContactId,
        channel: ChannelId,
    ) -> Result<Option<ConversationId>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let found = sqlx::query(
            "SELECT conversation_id FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND channel_id = $3 AND status = 'open' \
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(t)
        .bind(contact.to_string())
        .bind(channel.to_string())
        .fetch_optional(self.scope.conn())
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
    pub async fn open(
        &mut self,
        contact: ContactId,
        channel: ChannelId,
    ) -> Result<ConversationId, StoreError> {
        if let Some(id) = self.find_open(contact, channel).await? {
            return Ok(id);
        }
        let t = self.scope.tenant_str().to_string();
        let id = ConversationId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let row = ConversationRow {
            id: id.to_string(),
            contact: contact.to_string(),
            channel: channel.to_string(),
            at: self.scope.now(),
        };
        let inserted = tables::insert(self.scope.store.backend(), &t, &[row])
            .execute(self.scope.conn())
            .await?
            .rows_affected();
        if inserted == 1 {
            return Ok(id);
        }
        // Another writer opened it first (one open conversation per pair is a unique index).
        self.find_open(contact, channel)
            .await?
            .ok_or(StoreError::Conflict("conversation"))
    }
}
