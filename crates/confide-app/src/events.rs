//! Live updates for the inbox (`GET /api/v1/events`): what changed, as ids only; a client
//! fetches what it may read. Published after the change is committed (and, for webhooks,
//! durable), within one server process.

use crate::error::AppError;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::ids::{ConversationId, MessageId, NoteId, TenantId};
use confide_core::permissions::Permission;
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before it misses some (it is told).
const BACKLOG: usize = 1024;

/// One change of a tenant's inbox, as ids only (typed: cheap to make on the ingest writer's
/// thread; turned into JSON only for a subscriber).
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEvent {
    pub tenant: TenantId,
    pub change: Change,
}

/// What changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `message.created`.
    MessageCreated {
        conversation: ConversationId,
        message: MessageId,
    },
    /// `message.status`, of a message known by id (a send) or by Meta's wamid (a webhook).
    MessageStatus {
        message: Option<MessageId>,
        wamid: Option<String>,
    },
    /// `conversation.updated`.
    ConversationUpdated { conversation: ConversationId },
    /// `note.created`.
    NoteCreated {
        conversation: ConversationId,
        note: NoteId,
    },
}

impl InboxEvent {
    /// The SSE event name.
    pub fn kind(&self) -> &'static str {
        match self.change {
            Change::MessageCreated { .. } => "message.created",
            Change::MessageStatus { .. } => "message.status",
            Change::ConversationUpdated { .. } => "conversation.updated",
            Change::NoteCreated { .. } => "note.created",
        }
    }

    /// The ids, as the stream sends them.
    pub fn ids(&self) -> Value {
        match &self.change {
            Change::MessageCreated {
                conversation,
                message,
            } => {
                json!({"conversation_id": conversation.to_string(), "message_id": message.to_string()})
            }
            Change::MessageStatus { message, wamid } => {
                let mut v = json!({});
                if let Some(m) = message {
                    v["message_id"] = json!(m.to_string());
                }
                if let Some(w) = wamid {
                    v["wamid"] = json!(w);
                }
                v
            }
            Change::ConversationUpdated { conversation } => {
                json!({"conversation_id": conversation.to_string()})
            }
            Change::NoteCreated { conversation, note } => {
                json!({"conversation_id": conversation.to_string(), "note_id": note.to_string()})
            }
        }
    }
}

/// The process's event bus.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<InboxEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Events {
    /// Tells every subscriber of the event's tenant (nobody listening is fine).
    pub fn publish(&self, event: InboxEvent) {
        let _ = self.tx.send(event);
    }
}

/// One subscriber's view: only its tenant's events.
pub struct Subscription {
    tenant: TenantId,
    rx: broadcast::Receiver<InboxEvent>,
}

/// What a subscriber receives next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Event(InboxEvent),
    /// The subscriber fell behind and `missed` events were dropped: refetch.
    Missed(u64),
    /// The server is shutting down.
    Closed,
}

impl Subscription {
    pub async fn next(&mut self) -> Next {
        loop {
            match self.rx.recv().await {
                Ok(e) if e.tenant == self.tenant => return Next::Event(e),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => return Next::Missed(n),
                Err(broadcast::error::RecvError::Closed) => return Next::Closed,
            }
        }
    }
}

impl App {
    /// Subscribes to the caller's tenant's inbox events.
    pub fn subscribe_events(&self, p: &Principal) -> Result<Subscription, AppError> {
        p.require(Permission::InboxRead)?;
        Ok(Subscription {
            tenant: p.tenant,
            rx: self.events.tx.subscribe(),
        })
    }
}
