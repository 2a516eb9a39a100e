//! Live updates for the inbox (`GET /api/v1/events`): what changed, as ids only; a client
//! fetches what it may read. Published after the change is committed (and, for webhooks,
//! durable). Within a process through a broadcast channel; on PostgreSQL also to every other
//! instance through LISTEN/NOTIFY ([`Events::relayed`]): each instance sends its events (batched,
//! tagged with its own random id) on one notification channel and re-publishes locally what the
//! others sent, so a subscriber on any instance sees its tenant's changes wherever they were
//! made. Each subscriber still gets only its own tenant's events (the tenant id travels with
//! every event and is checked on the receiving side, as for local events).

use crate::error::AppError;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::entropy::SharedEntropy;
use confide_core::ids::{ConversationId, MessageId, NoteId, TenantId};
use confide_core::permissions::Permission;
use confide_store::Store;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

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

/// Events waiting to be sent to the other instances before new ones are dropped (their
/// subscribers then miss them; they refetch on the next event).
const RELAY_BACKLOG: usize = 16_384;

/// The process's event bus.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<InboxEvent>,
    /// To the other instances (PostgreSQL only).
    relay: Option<mpsc::Sender<InboxEvent>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(BACKLOG).0,
            relay: None,
        }
    }
}

impl Events {
    /// Tells every subscriber of the event's tenant, here and (when relayed) on every other
    /// instance (nobody listening is fine).
    pub fn publish(&self, event: InboxEvent) {
        if let Some(relay) = &self.relay
            && relay.try_send(event.clone()).is_err()
        {
            tracing::warn!(
                "inbox events are not reaching the other instances fast enough; some were dropped"
            );
        }
        let _ = self.tx.send(event);
    }

    /// An event bus shared with the other instances on the same PostgreSQL database (on SQLite,
    /// one instance, the same as [`Events::default`]), and the tasks that carry it: one sends
    /// this instance's events, one re-publishes the others'. They run until `stop`.
    pub fn relayed(
        store: &Store,
        entropy: &SharedEntropy,
        stop: watch::Receiver<bool>,
    ) -> (Events, Vec<tokio::task::JoinHandle<()>>) {
        let mut events = Events::default();
        if store.backend() != confide_store::Backend::Postgres {
            return (events, Vec::new());
        }
        let mut id = [0u8; 12];
        entropy.fill(&mut id);
        let origin = hex::encode(id);
        let (relay, rx) = mpsc::channel(RELAY_BACKLOG);
        events.relay = Some(relay);
        let handles = vec![
            tokio::spawn(send_to_others(
                store.clone(),
                origin.clone(),
                rx,
                stop.clone(),
            )),
            tokio::spawn(hear_others(store.clone(), origin, events.tx.clone(), stop)),
        ];
        (events, handles)
    }
}

/// Resolves when `stop` says so (never, when its sender is gone without saying so: a test that
/// dropped the server's handle keeps its application running).
async fn stopped(mut stop: watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sends this instance's events to the others, as many per notification as fit.
async fn send_to_others(
    store: Store,
    origin: String,
    mut rx: mpsc::Receiver<InboxEvent>,
    stop: watch::Receiver<bool>,
) {
    let mut pending: Option<InboxEvent> = None;
    loop {
        let first = match pending.take() {
            Some(e) => e,
            None => tokio::select! {
                _ = stopped(stop.clone()) => return,
                e = rx.recv() => match e {
                    Some(e) => e,
                    None => return,
                },
            },
        };
        let mut payload = format!("{{\"o\":\"{origin}\",\"e\":[{}", first.wire());
        while let Ok(e) = rx.try_recv() {
            let w = e.wire();
            if payload.len() + w.len() + 3 > confide_store::notify::MAX_EVENT_PAYLOAD {
                pending = Some(e);
                break;
            }
            payload.push(',');
            payload.push_str(&w);
        }
        payload.push_str("]}");
        if let Err(e) = store.notify_events(&payload).await {
            tracing::warn!(error = %e, "could not send inbox events to the other instances");
        }
    }
}

/// Re-publishes here what the other instances sent (subscribing again when the connection is
/// lost).
async fn hear_others(
    store: Store,
    origin: String,
    tx: broadcast::Sender<InboxEvent>,
    stop: watch::Receiver<bool>,
) {
    loop {
        let mut heard = match store.event_notifications().await {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot subscribe to other instances' inbox events; retrying");
                tokio::select! {
                    _ = stopped(stop.clone()) => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let next = tokio::select! {
                _ = stopped(stop.clone()) => return,
                n = heard.recv() => n,
            };
            match next {
                Ok(Some(payload)) => {
                    for e in from_others(&payload, &origin) {
                        let _ = tx.send(e);
                    }
                }
                Ok(None) => {
                    tracing::warn!(
                        "the inbox event subscription was re-established; other instances' events may have been missed"
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "inbox event subscription lost; resubscribing");
                    break;
                }
            }
        }
    }
}

/// The events of a notification another instance sent (none of this instance's own, none that
/// do not parse).
fn from_others(payload: &str, own_origin: &str) -> Vec<InboxEvent> {
    let Ok(v) = serde_json::from_str::<Value>(payload) else {
        return Vec::new();
    };
    if v["o"].as_str().is_none_or(|o| o == own_origin) {
        return Vec::new();
    }
    v["e"]
        .as_array()
        .map(|a| a.iter().filter_map(InboxEvent::from_wire).collect())
        .unwrap_or_default()
}

impl InboxEvent {
    /// The event as it travels between instances: tenant, kind and ids.
    fn wire(&self) -> String {
        json!({"t": self.tenant.to_string(), "k": self.kind(), "i": self.ids()}).to_string()
    }

    /// The event another instance sent ([`InboxEvent::wire`]).
    fn from_wire(v: &Value) -> Option<InboxEvent> {
        let tenant = v["t"].as_str()?.parse().ok()?;
        let ids = &v["i"];
        fn id<T: std::str::FromStr>(ids: &Value, k: &str) -> Option<T> {
            ids[k].as_str().and_then(|s| s.parse().ok())
        }
        let change = match v["k"].as_str()? {
            "message.created" => Change::MessageCreated {
                conversation: id(ids, "conversation_id")?,
                message: id(ids, "message_id")?,
            },
            "message.status" => Change::MessageStatus {
                message: id(ids, "message_id"),
                wamid: ids["wamid"].as_str().map(str::to_string),
            },
            "conversation.updated" => Change::ConversationUpdated {
                conversation: id(ids, "conversation_id")?,
            },
            "note.created" => Change::NoteCreated {
                conversation: id(ids, "conversation_id")?,
                note: id(ids, "note_id")?,
            },
            _ => return None,
        };
        Some(InboxEvent { tenant, change })
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

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::ids::{ConversationId, MessageId, TenantId};

    #[test]
    fn events_travel_between_instances_as_they_were_and_not_back_to_their_origin() {
        let tenant: TenantId = "01890a5d-ac96-774b-bcce-b302099a8057".parse().unwrap();
        let conversation: ConversationId = "01890a5d-ac96-774b-bcce-b302099a8058".parse().unwrap();
        let message: MessageId = "01890a5d-ac96-774b-bcce-b302099a8059".parse().unwrap();
        let sent = vec![
            InboxEvent {
                tenant,
                change: Change::MessageCreated {
                    conversation,
                    message,
                },
            },
            InboxEvent {
                tenant,
                change: Change::MessageStatus {
                    message: None,
                    wamid: Some("wamid.X".into()),
                },
            },
        ];
        let wire: Vec<String> = sent.iter().map(InboxEvent::wire).collect();
        let payload = format!("{{\"o\":\"a\",\"e\":[{}]}}", wire.join(","));
        assert_eq!(from_others(&payload, "b"), sent);
        assert!(
            from_others(&payload, "a").is_empty(),
            "not re-published where it came from"
        );
        assert!(from_others("not json", "b").is_empty());
    }
}
