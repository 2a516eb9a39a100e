//! The inbox: list, read, start (or find) the open conversation with a contact on a channel,
//! assign, resolve and reopen, and read a conversation's messages.

use crate::error::{AppError, Code};
use crate::paging::{self, Page};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::ids::ConversationId;
use confide_core::permissions::Permission;
use confide_store::inbox::{
    AssigneeFilter, ConversationChange, ConversationCursor, ConversationFilter, InboxError,
    MessageCursor,
};
use serde::Deserialize;

pub use confide_store::conversations::{Direction, Message};
pub use confide_store::inbox::{ConversationStatus, InboxConversation, InboxMessage};

const CONVERSATION_CURSOR: &str = "c1";
const MESSAGE_CURSOR: &str = "m1";

/// A list of conversations, as asked for (text, as it came from a query string or a form).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ConversationQuery {
    /// `open`, `resolved` or `all` (the default).
    pub status: Option<String>,
    /// A user id, or `none` for unassigned ones.
    pub assignee: Option<String>,
    /// Only conversations whose contact carries exactly this label.
    pub label: Option<String>,
    /// Only conversations of the contacts this search finds (as `GET /api/v1/contacts?q=`
    /// does: a phone number or a WhatsApp user id).
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<String>,
}

/// A page of messages, as asked for.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct MessageQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<String>,
}

/// A change to a conversation (absent: unchanged; `assignee: Some(None)` unassigns).
#[derive(Debug, Clone, Default)]
pub struct ConversationUpdate {
    pub status: Option<String>,
    pub assignee: Option<Option<String>>,
}

fn conversation_id(id: &str) -> Result<ConversationId, AppError> {
    id.parse().map_err(|_| AppError::not_found())
}

impl App {
    /// Conversations, most recent activity first.
    pub async fn list_conversations(
        &self,
        p: &Principal,
        q: ConversationQuery,
    ) -> Result<Page<InboxConversation>, AppError> {
        p.require(Permission::InboxRead)?;
        let status = match q.status.as_deref().map(str::trim) {
            None | Some("") | Some("all") => None,
            Some(s) => Some(ConversationStatus::parse(s).ok_or_else(|| {
                AppError::new(
                    Code::InvalidStatusFilter,
                    "status must be open, resolved or all.",
                )
            })?),
        };
        let assignee = match q.assignee.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("none") => Some(AssigneeFilter::Nobody),
            Some(u) => Some(AssigneeFilter::User(u.parse().map_err(|_| {
                AppError::new(
                    Code::InvalidAssigneeFilter,
                    "assignee must be a user id or none.",
                )
            })?)),
        };
        let limit = paging::limit(q.limit.as_deref())?;
        let after = q
            .cursor
            .as_deref()
            .map(|c| paging::decode(CONVERSATION_CURSOR, c))
            .transpose()?
            .map(|(last_message_at, id)| ConversationCursor {
                last_message_at,
                id,
            });
        let label = q
            .label
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string);
        let search = q.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let mut s = self.store.read_scope(p.tenant).await?;
        let contacts = match search {
            Some(text) => Some(crate::contacts::search_ids(&mut s, text).await?),
            None => None,
        };
        let page = s
            .inbox()
            .conversations(
                ConversationFilter {
                    status,
                    assignee,
                    label,
                    contacts,
                    ..ConversationFilter::default()
                },
                after,
                limit,
            )
            .await?;
        s.commit().await?;
        Ok(Page {
            items: page.items,
            next_cursor: page
                .next
                .map(|c| paging::encode(CONVERSATION_CURSOR, c.last_message_at, &c.id.to_string())),
        })
    }

    /// How many conversations have customer messages the team has not read yet (the inbox's
    /// badge; each conversation's own count is [`InboxConversation::unread`]).
    pub async fn unread_conversations(&self, p: &Principal) -> Result<i64, AppError> {
        p.require(Permission::InboxRead)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let n = s.inbox().unread_conversations().await?;
        s.commit().await?;
        Ok(n)
    }

    /// A contact's conversations (the latest 50), most recent activity first; `not_found`
    /// unless the contact is the caller's tenant's.
    pub async fn contact_conversations(
        &self,
        p: &Principal,
        contact: &str,
    ) -> Result<Vec<InboxConversation>, AppError> {
        p.require(Permission::InboxRead)?;
        let contact: confide_core::ids::ContactId =
            contact.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.read_scope(p.tenant).await?;
        s.contacts().get(contact).await?;
        let page = s
            .inbox()
            .conversations(
                ConversationFilter {
                    contact: Some(contact),
                    ..ConversationFilter::default()
                },
                None,
                50,
            )
            .await?;
        s.commit().await?;
        Ok(page.items)
    }

    /// One conversation; `not_found` unless it is the caller's tenant's.
    pub async fn get_conversation(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<InboxConversation, AppError> {
        p.require(Permission::InboxRead)?;
        let id = conversation_id(id)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let c = s.inbox().conversation(id).await?;
        s.commit().await?;
        Ok(c)
    }

    /// Assigns, resolves or reopens. `conflict` when reopening would make a second open
    /// conversation for the contact and channel.
    pub async fn update_conversation(
        &self,
        p: &Principal,
        id: &str,
        change: ConversationUpdate,
    ) -> Result<InboxConversation, AppError> {
        p.require(Permission::InboxAssign)?;
        let id = conversation_id(id)?;
        let status = change
            .status
            .as_deref()
            .map(|s| {
                ConversationStatus::parse(s.trim()).ok_or_else(|| {
                    AppError::invalid(Code::InvalidStatus, "status must be open or resolved.")
                })
            })
            .transpose()?;
        let assignee = match change.assignee {
            None => None,
            Some(None) => Some(None),
            Some(Some(u)) => Some(Some(
                u.trim()
                    .parse()
                    .map_err(|_| AppError::from(InboxError::InvalidAssignee))?,
            )),
        };
        let mut s = self.store.scope(p.tenant).await?;
        let c = s
            .inbox()
            .update(id, ConversationChange { status, assignee }, p.actor())
            .await?;
        s.commit().await?;
        self.events.publish(crate::events::InboxEvent {
            tenant: p.tenant,
            change: crate::events::Change::ConversationUpdated { conversation: c.id },
        });
        Ok(c)
    }

    /// The open conversation for a contact on a channel, and whether it was opened now.
    pub async fn start_conversation(
        &self,
        p: &Principal,
        contact_id: &str,
        channel_id: &str,
    ) -> Result<(InboxConversation, bool), AppError> {
        p.require(Permission::InboxReply)?;
        let contact = contact_id
            .trim()
            .parse()
            .map_err(|_| AppError::from(InboxError::InvalidContact))?;
        let channel = channel_id
            .trim()
            .parse()
            .map_err(|_| AppError::from(InboxError::InvalidChannel))?;
        let mut s = self.store.scope(p.tenant).await?;
        let started = s.inbox().start(contact, channel, p.actor()).await?;
        s.commit().await?;
        Ok(started)
    }

    /// A conversation's messages, newest first.
    pub async fn list_messages(
        &self,
        p: &Principal,
        conversation: &str,
        q: MessageQuery,
    ) -> Result<Page<InboxMessage>, AppError> {
        p.require(Permission::InboxRead)?;
        let conversation = conversation_id(conversation)?;
        let limit = paging::limit(q.limit.as_deref())?;
        let after = q
            .cursor
            .as_deref()
            .map(|c| paging::decode(MESSAGE_CURSOR, c))
            .transpose()?
            .map(|(created_at, id)| MessageCursor { created_at, id });
        let mut s = self.store.read_scope(p.tenant).await?;
        // Not the tenant's conversation: not found, before anything else is looked at.
        s.inbox().conversation(conversation).await?;
        let page = s.inbox().messages_page(conversation, after, limit).await?;
        s.commit().await?;
        Ok(Page {
            items: page.items,
            next_cursor: page
                .next
                .map(|c| paging::encode(MESSAGE_CURSOR, c.created_at, &c.id.to_string())),
        })
    }

    /// Marks the customer's messages in a conversation read, as a team member opens it: for the
    /// team (its unread count goes to 0) and on WhatsApp (the two blue ticks: Graph's
    /// `status: read` for the latest inbound message, sent in the background; the inbox never
    /// waits for Graph). No receipt is sent when the customer has not written or the channel is
    /// stopped. True when a receipt was queued.
    pub async fn mark_conversation_read(
        &self,
        p: &Principal,
        conversation: &str,
    ) -> Result<bool, AppError> {
        p.require(Permission::InboxRead)?;
        let conversation = conversation_id(conversation)?;
        let mut s = self.store.scope(p.tenant).await?;
        let c = s.inbox().conversation(conversation).await?;
        let was_unread = s.inbox().mark_read(conversation).await?;
        let wamid = s.inbox().latest_inbound_wamid(conversation).await?;
        s.commit().await?;
        if was_unread {
            self.events.publish(crate::events::InboxEvent {
                tenant: p.tenant,
                change: crate::events::Change::ConversationUpdated { conversation },
            });
        }
        let Some(wamid) = wamid else {
            return Ok(false);
        };
        let Some(channel) = self.channels.get(&self.store, c.channel_id).await? else {
            return Ok(false);
        };
        if channel.graph_refused() {
            return Ok(false);
        }
        let (egress, health, tenant) = (self.egress.clone(), self.health.clone(), p.tenant);
        tokio::spawn(async move {
            let client = match crate::outbound::graph::graph_client(
                &egress,
                &channel.graph_base_url,
                channel.access_token.clone(),
            ) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "read receipt: unusable Graph address");
                    return;
                }
            };
            if let Err(e) = client.mark_read(&channel.phone_number_id, &wamid).await {
                tracing::warn!(error = %e, "read receipt refused by Graph");
                if let Err(err) = health.observe(tenant, channel.channel, &e).await {
                    tracing::error!(error = %err, "could not record the channel's health");
                }
            }
        });
        Ok(true)
    }
}
