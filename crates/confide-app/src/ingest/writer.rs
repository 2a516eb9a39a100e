//! Group commit: one writer task drains a bounded queue of verified deliveries and stores them
//! in as few transactions as possible (one per tenant per round), then answers every waiting
//! request. Durability therefore costs one commit per round, not one per request.
//!
//! - The queue is bounded: when it is full the request is answered 503 at once, and Meta retries.
//! - A request is answered 200 only after its transaction committed and the commit reached the
//!   disk. On SQLite the flush is taken off the writer's path: a [`syncer`] task flushes the log
//!   once for every round committed since its last flush while the writer goes on with the next
//!   round (see `confide_store::durability`).
//! - A round that fails is retried delivery by delivery, so one poisonous delivery fails alone.
//! - When the database is down, every waiting request gets 503 quickly; nothing acknowledged is
//!   ever lost, and nothing unacknowledged was promised.

use super::apply::{Applied, Delivery, apply_round};
use crate::events::{Events, InboxEvent};
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
    pub fn start(
        store: Store,
        media_wake: Arc<Notify>,
        events: Events,
    ) -> (IngestQueue, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let handle = tokio::task::spawn_blocking(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run(store, rx, media_wake, events)),
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

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, media_wake: Arc<Notify>, events: Events) {
    let (committed, pending) = mpsc::unbounded_channel();
    let flusher = store.clone();
    let syncer = tokio::spawn(syncer(
        move || {
            let store = flusher.clone();
            async move { store.sync_log().await }
        },
        pending,
        events,
    ));
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
            let done = write_group(&store, tenant, jobs).await;
            if done
                .jobs
                .iter()
                .any(|(_, r)| r.as_ref().is_ok_and(|a| a.media > 0))
            {
                media_wake.notify_one();
            }
            // Answered once the log is on the disk; if the syncer is gone, nothing can be.
            if let Err(mpsc::error::SendError(done)) = committed.send(done) {
                finish_all(done, Err(WriteError::Unavailable));
            }
        }
    }
    drop(committed);
    let _ = syncer.await;
}

/// Rounds written, each job with its outcome, and what to tell the inbox, waiting for the log
/// flush.
struct Done {
    jobs: Vec<(Job, Result<Applied, WriteError>)>,
    events: Vec<InboxEvent>,
}

/// Answers committed rounds once the log is on the disk: one flush for every round committed
/// since the previous flush. A failed flush answers 503 (Meta retries; the retry finds the
/// rows, if they survived, as duplicates).
async fn syncer<F, Fut>(flush: F, mut pending: mpsc::UnboundedReceiver<Done>, events: Events)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    while let Some(first) = pending.recv().await {
        let mut rounds = vec![first];
        while let Ok(more) = pending.try_recv() {
            rounds.push(more);
        }
        let needs_flush = rounds.iter().flat_map(|d| &d.jobs).any(|(_, r)| r.is_ok());
        let flushed = if needs_flush {
            flush().await.map_err(classify)
        } else {
            Ok(())
        };
        for done in rounds {
            for (job, result) in done.jobs {
                match &flushed {
                    Ok(()) => job.finish(result),
                    Err(e) => job.finish(result.and(Err(e.clone()))),
                }
            }
            if flushed.is_ok() {
                for e in done.events {
                    events.publish(e);
                }
            }
        }
    }
}

fn finish_all(done: Done, result: Result<(), WriteError>) {
    for (job, r) in done.jobs {
        job.finish(r.and_then(|a| result.clone().map(|()| a)));
    }
}

/// Stores a tenant's deliveries in one transaction; on failure, one by one. Each job comes back
/// with its outcome, not yet answered.
async fn write_group(store: &Store, tenant: TenantId, jobs: Vec<Job>) -> Done {
    let deliveries: Vec<&Delivery> = jobs.iter().map(|j| &j.delivery).collect();
    match write(store, tenant, &deliveries).await {
        Ok((results, events)) => Done {
            jobs: jobs
                .into_iter()
                .zip(results)
                .map(|(j, a)| (j, Ok(a)))
                .collect(),
            events,
        },
        Err(e) if jobs.len() > 1 && !e.is_unavailable() => {
            tracing::warn!(error = %e, deliveries = jobs.len(), "group commit failed; retrying one by one");
            let mut done = Done {
                jobs: Vec::with_capacity(jobs.len()),
                events: Vec::new(),
            };
            for job in jobs {
                let result = match write(store, tenant, &[&job.delivery]).await {
                    Ok((mut r, events)) => {
                        done.events.extend(events);
                        Ok(r.pop().unwrap_or_default())
                    }
                    Err(e) => Err(classify(e)),
                };
                done.jobs.push((job, result));
            }
            done
        }
        Err(e) => {
            let err = classify(e);
            Done {
                jobs: jobs.into_iter().map(|j| (j, Err(err.clone()))).collect(),
                events: Vec::new(),
            }
        }
    }
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
) -> Result<(Vec<Applied>, Vec<InboxEvent>), StoreError> {
    let mut scope = store.scope_synced_later(tenant).await?;
    let results = apply_round(&mut scope, deliveries).await?;
    scope.commit().await?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::directory::ChannelEntry;
    use confide_core::ids::ChannelId;
    use confide_store::channels::ChannelHealth;
    use secrecy::SecretString;
    use std::sync::atomic::{AtomicUsize, Ordering};

    type Answer = oneshot::Receiver<(Result<Applied, WriteError>, Delivery)>;

    fn job() -> (Job, Answer) {
        let secret = || SecretString::from("s".to_string());
        let channel = Arc::new(ChannelEntry {
            tenant: TenantId::from_uuid(uuid::Uuid::nil()),
            channel: ChannelId::from_uuid(uuid::Uuid::nil()),
            phone_number_id: "1".into(),
            app_secret: secret(),
            app_secret_next: None,
            app_secret_compromised: false,
            verify_token: secret(),
            access_token: secret(),
            graph_base_url: String::new(),
            active: true,
            health: ChannelHealth::Ok,
        });
        let (done, wait) = oneshot::channel();
        let delivery = Delivery {
            channel,
            changes: Vec::new(),
            rejected: Vec::new(),
        };
        (Job { delivery, done }, wait)
    }

    fn stored() -> Result<Applied, WriteError> {
        Ok(Applied {
            messages: 1,
            ..Applied::default()
        })
    }

    /// A committed round is answered only after a flush that began after it was committed, and
    /// one flush answers every round waiting for it.
    #[tokio::test]
    async fn committed_rounds_are_answered_only_after_one_flush_covering_them_all() {
        let release = Arc::new(Notify::new());
        let flushes = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::unbounded_channel();
        let (a, mut wait_a) = job();
        let (b, mut wait_b) = job();
        tx.send(Done {
            jobs: vec![(a, stored())],
            events: Vec::new(),
        })
        .unwrap();
        tx.send(Done {
            jobs: vec![(b, stored())],
            events: Vec::new(),
        })
        .unwrap();
        let (r, f) = (release.clone(), flushes.clone());
        let task = tokio::spawn(syncer(
            move || {
                let (r, f) = (r.clone(), f.clone());
                async move {
                    r.notified().await;
                    f.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
            rx,
            Events::default(),
        ));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(wait_a.try_recv().is_err(), "answered before the flush");
        assert!(wait_b.try_recv().is_err(), "answered before the flush");
        release.notify_one();
        assert_eq!(wait_a.await.unwrap().0, stored());
        assert_eq!(wait_b.await.unwrap().0, stored());
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            1,
            "one flush for both rounds"
        );
        drop(tx);
        task.await.unwrap();
    }

    /// A flush that fails is not an acknowledgement (the request is answered 503; Meta retries), and a round that stored nothing needs none.
    #[tokio::test]
    async fn a_failed_flush_acknowledges_nothing_and_a_failed_round_needs_no_flush() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::unbounded_channel();
        let f = flushes.clone();
        let task = tokio::spawn(syncer(
            move || {
                let f = f.clone();
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    Err(StoreError::Config("the disk is gone".into()))
                }
            },
            rx,
            Events::default(),
        ));
        let (a, wait_a) = job();
        tx.send(Done {
            jobs: vec![(a, stored())],
            events: Vec::new(),
        })
        .unwrap();
        assert_eq!(wait_a.await.unwrap().0, Err(WriteError::Failed));
        let (b, wait_b) = job();
        tx.send(Done {
            jobs: vec![(b, Err(WriteError::Failed))],
            events: Vec::new(),
        })
        .unwrap();
        assert_eq!(wait_b.await.unwrap().0, Err(WriteError::Failed));
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
        drop(tx);
        task.await.unwrap();
    }
}
