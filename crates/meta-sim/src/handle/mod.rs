//! The control handle tests hold ([`SimHandle`]): what keeps the simulator running, where it
//! listens, its clock, and what happened (sends, refusals, inbound messages, webhooks, deliveries).
//!
//! Configuring numbers, users and templates is in `configure`; scripted customers in `customers`.

mod configure;
pub(crate) mod customers;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::records::{
    DeliveryRecord, InboundRecord, OutboundRecord, ReadReceipt, RejectedRequest, WebhookEvent,
};
use crate::state::Shared;

/// Stops the tasks when the last handle goes.
#[derive(Debug)]
struct Guard {
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Guard {
    fn stop(&self) {
        self.shutdown.send_replace(true);
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        for t in tasks {
            t.abort();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running simulator. Cheap to clone; the simulator stops when the last clone is dropped or
/// [`SimHandle::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
    /// None for the handles the control API makes for itself: they never stop the simulator.
    guard: Option<Arc<Guard>>,
}

impl SimHandle {
    /// A handle that owns the simulator's tasks: they stop when its last clone is dropped or
    /// [`SimHandle::shutdown`] is called.
    pub(crate) fn owning(
        shared: Arc<Shared>,
        shutdown: watch::Sender<bool>,
        tasks: Vec<JoinHandle<()>>,
    ) -> Self {
        Self {
            shared,
            guard: Some(Arc::new(Guard {
                shutdown,
                tasks: Mutex::new(tasks),
            })),
        }
    }

    /// A handle that does not keep the simulator alive (for the control API).
    pub(crate) fn borrowed(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            guard: None,
        }
    }

    /// `http://127.0.0.1:PORT` (or `public_base_url`).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The Graph base a client should use: `{base_url}/v24.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/v24.0", self.shared.base_url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The simulator's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.shared.now()
    }

    /// Stops serving and delivering.
    pub async fn shutdown(self) {
        if let Some(g) = &self.guard {
            g.stop();
        }
    }

    /// Sends the Graph API answered 200 (including those that then failed by webhook).
    pub fn sent_messages(&self) -> Vec<OutboundRecord> {
        self.shared.lock().outbound.clone()
    }

    /// Media links fetched for media messages sent with `link`, oldest first.
    pub fn link_fetches(&self) -> Vec<crate::records::LinkFetch> {
        self.shared.lock().link_fetches.clone()
    }

    /// Requests the Graph API refused, with their codes.
    pub fn rejected_requests(&self) -> Vec<RejectedRequest> {
        self.shared.lock().rejected.clone()
    }

    pub fn inbound_messages(&self) -> Vec<InboundRecord> {
        self.shared.lock().inbound.clone()
    }

    pub fn read_receipts(&self) -> Vec<ReadReceipt> {
        self.shared.lock().reads.clone()
    }

    /// Every webhook change generated, in order (also for numbers without a callback).
    pub fn webhook_events(&self) -> Vec<WebhookEvent> {
        self.shared.lock().events.clone()
    }

    /// Every delivery (POSTed body) with its attempts and outcome.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.lock().deliveries.clone()
    }

    /// Changes queued plus deliveries not yet acknowledged or dropped.
    pub fn pending_deliveries(&self) -> usize {
        self.shared.lock().outbox.outstanding
    }

    /// Waits until every queued webhook was acknowledged (or dropped).
    pub async fn wait_idle(&self) {
        let mut rx = self.shared.idle.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}
