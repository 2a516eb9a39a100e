//! Group commit: one writer task drains a bounded queue of verified deliveries and stores them
//! in as few transactions as possible (one per tenant per round), then answers every waiting
//! request. Durability therefore costs one commit per round, not one per request.
//!
//! - The queue is bounded: when it is full the request is answered 503 at once, and Meta retries.
//! - A request is answered 200 only after its transaction committed.
//! - A round that fails is retried delivery by delivery, so one poisonous delivery fails alone.
//! - When the database is down, every waiting request gets 503 quickly; nothing acknowledged is
//!   ever lost, and nothing unacknowledged was promised.

use super::apply::{Applied, Delivery, apply_round};
use confide_core::ids::TenantId;
use confide_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Deliveries waiting for the writer, at most.
pub const QUEUE_CAPACITY: usize = 2048;
/// Deliveries stored in one round, at most.
const ROUND_MAX: usize = 512;

struct Job {
    delivery: Delivery,
    /// The outcome, and the delivery handed back: it is dropped on the request's thread, where
    /// it was allocated (freeing thousands of small allocations made on another thread costs the
    /// writer, the one thread everything waits for, more than storing them).
    done: oneshot::Sender<(Result<Applied, WriteError>, Delivery)>,
}

impl Job {
    fn finish(self, result: Result<Applied, WriteError>) {
        let _ = self.done.send((result, self.delivery));
    }
}

/// Why a delivery was not stored (the request is answered 503 and Meta retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The queue is full.
    Busy,
    /// The database cannot be reached.
    Unavailable,
    /// Storing failed for another reason (logged).
    Failed,
}

/// The sending side, held in the application state.
#[derive(Clone)]
pub struct IngestQueue {
    tx: mpsc::Sender<Job>,
}

impl IngestQueue {
    /// Starts the writer. It stops when every `IngestQueue` clone is dropped and the queue is
    /// empty. `media_wake` is notified when committed deliveries queued media for fetching.
    ///
    /// The writer runs on a thread of its own: it awaits the database dozens of times per round,
    /// and on the shared runtime every await would queue behind the request handlers (which parse
    /// and verify megabytes of JSON), starving the one task everything waits for.
    pub fn start(store: Store, media_wake: Arc<Notify>) -> (IngestQueue, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let handle = tokio::task::spawn_blocking(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run(store, rx, media_wake)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the ingest writer; deliveries will be refused")
                }
            }
        });
        (IngestQueue { tx }, handle)
    }

    /// Queues a delivery and waits until it is committed.
    pub async fn submit(&self, delivery: Delivery) -> Result<Applied, WriteError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .try_send(Job { delivery, done })
            .map_err(|_| WriteError::Busy)?;
        match wait.await {
            Ok((result, delivery)) => {
                drop(delivery);
                result
            }
            Err(_) => Err(WriteError::Unavailable),
        }
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, media_wake: Arc<Notify>) {
    while let Some(first) = rx.recv().await {
        let mut round = vec![first];
        while round.len() < ROUND_MAX {
            match rx.try_recv() {
                Ok(job) => round.push(job),
                Err(_) => break,
            }
        }
        let mut by_tenant: HashMap<TenantId, Vec<Job>> = HashMap::new();
        let mut order = Vec::new();
        for job in round {
            let t = job.delivery.channel.tenant;
            if !by_tenant.contains_key(&t) {
                order.push(t);
            }
            by_tenant.entry(t).or_default().push(job);
        }
        for tenant in order {
            let jobs = by_tenant.remove(&tenant).unwrap_or_default();
            if write_group(&store, tenant, jobs).await {
                media_wake.notify_one();
            }
        }
    }
}

/// Stores a tenant's deliveries in one transaction; on failure, one by one. True when the
/// committed deliveries queued media.
async fn write_group(store: &Store, tenant: TenantId, jobs: Vec<Job>) -> bool {
    let deliveries: Vec<&Delivery> = jobs.iter().map(|j| &j.delivery).collect();
    let mut media = false;
    match write(store, tenant, &deliveries).await {
        Ok(results) => {
            for (job, applied) in jobs.into_iter().zip(results) {
                media |= applied.media > 0;
                job.finish(Ok(applied));
            }
        }
        Err(e) if jobs.len() > 1 && !e.is_unavailable() => {
            tracing::warn!(error = %e, deliveries = jobs.len(), "group commit failed; retrying one by one");
            for job in jobs {
                let result = write(store, tenant, &[&job.delivery]).await;
                let result = result
                    .map(|mut r| r.pop().unwrap_or_default())
                    .map_err(classify);
                media |= result.as_ref().is_ok_and(|a| a.media > 0);
                job.finish(result);
            }
        }
        Err(e) => {
            let err = classify(e);
            for job in jobs {
                job.finish(Err(err.clone()));
            }
        }
    }
    media
}

fn classify(e: StoreError) -> WriteError {
    if e.is_unavailable() {
        tracing::error!(error = %e, "database unavailable: deliveries refused with 503");
        WriteError::Unavailable
    } else {
        tracing::error!(error = %e, "delivery could not be stored");
        WriteError::Failed
    }
}

async fn write(
    store: &Store,
    tenant: TenantId,
    deliveries: &[&Delivery],
) -> Result<Vec<Applied>, StoreError> {
    let mut scope = store.scope(tenant).await?;
    let results = apply_round(&mut scope, deliveries).await?;
    scope.commit().await?;
    Ok(results)
}
