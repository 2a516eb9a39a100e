//! Webhook delivery: batches queued changes per phone number, signs the exact bytes, POSTs them
//! to the callback, retries with backoff while the receiver answers anything but 200, and records
//! every attempt.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::Duration;
use tokio::sync::watch;

use crate::records::{Attempt, DeliveryOutcome, DeliveryRecord};
use crate::state::{Shared, State, keep_newest};
use crate::wire;

/// `sha256=<lowercase hex HMAC-SHA256(body, app secret)>`, the `X-Hub-Signature-256` value.
pub fn signature(body: &[u8], app_secret: &str) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => <Hmac<Sha256> as KeyInit>::new(&Default::default()),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A batch on its way.
#[derive(Debug, Clone)]
struct Batch {
    id: u64,
    pnid: String,
    url: String,
    body: Arc<str>,
    signature: String,
    created: time::OffsetDateTime,
    /// A re-send of an earlier delivery (never itself duplicated).
    duplicate: bool,
}

/// Forms batches for every number with queued changes and room in flight.
fn take_batches(shared: &Shared, st: &mut State) -> Vec<Batch> {
    let cfg = &shared.webhooks;
    let max_batch = cfg.max_batch.max(1);
    let max_in_flight = cfg.max_in_flight.max(1);
    let now = shared.now();
    let mut out = Vec::new();
    let pnids: Vec<String> = st
        .outbox
        .queues
        .iter()
        .filter(|(_, q)| !q.is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    for pnid in pnids {
        loop {
            let in_flight = st.outbox.in_flight.get(&pnid).copied().unwrap_or(0);
            if in_flight >= max_in_flight {
                break;
            }
            let Some(number) = st.numbers.get(&pnid) else {
                break;
            };
            let waba = number.config.waba_id.clone();
            let secret = number.config.app_secret.clone();
            let url = number.config.callback_url.clone();
            let reorder = cfg.reorder_probability;
            let State {
                outbox,
                delivery_rng,
                ..
            } = &mut *st;
            let Some(queue) = outbox.queues.get_mut(&pnid) else {
                break;
            };
            if queue.is_empty() {
                break;
            }
            let Some(url) = url else {
                // The callback was removed: nothing can be delivered.
                outbox.outstanding -= queue.len();
                queue.clear();
                break;
            };
            if queue.len() > 1 && delivery_rng.chance(reorder) {
                let span = queue.len().min(max_batch * 2);
                let j = 1 + delivery_rng.below(span - 1);
                queue.swap(0, j);
            }
            let first_time = queue.front().and_then(|q| q.entry_time);
            let waba_level = first_time.is_some();
            let mut changes = Vec::new();
            while changes.len() < max_batch {
                match queue.front() {
                    Some(q) if q.entry_time.is_some() == waba_level => {
                        if let Some(q) = queue.pop_front() {
                            changes.push(q.json);
                        }
                    }
                    _ => break,
                }
            }
            let n = changes.len();
            let refs: Vec<&str> = changes.iter().map(String::as_str).collect();
            let body: Arc<str> = Arc::from(wire::envelope(&waba, first_time, &refs));
            let sig = signature(body.as_bytes(), &secret);
            outbox.outstanding = outbox.outstanding + 1 - n;
            *outbox.in_flight.entry(pnid.clone()).or_default() += 1;
            st.next_delivery_id += 1;
            let id = st.next_delivery_id;
            keep_newest(&mut st.deliveries, st.log_limit);
            st.deliveries.push(DeliveryRecord {
                id,
                phone_number_id: pnid.clone(),
                url: url.clone(),
                body: if cfg.record_bodies {
                    body.clone()
                } else {
                    Arc::from("")
                },
                signature: sig.clone(),
                changes: n,
                duplicate_of: None,
                attempts: Vec::new(),
                outcome: DeliveryOutcome::Pending,
            });
            out.push(Batch {
                id,
                pnid: pnid.clone(),
                url,
                body,
                signature: sig,
                created: now,
                duplicate: false,
            });
        }
    }
    shared.idle.send_replace(st.outbox.outstanding);
    out
}

/// The delivery engine: runs until `shutdown` changes.
pub(crate) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let batches = {
            let mut st = shared.lock();
            take_batches(&shared, &mut st)
        };
        for b in batches {
            tokio::spawn(deliver(shared.clone(), b, shutdown.clone()));
        }
        tokio::select! {
            () = shared.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn backoff(shared: &Shared, attempt: u32) -> StdDuration {
    let base = shared.webhooks.retry_base_delay_ms;
    let factor = 1u64 << attempt.saturating_sub(1).min(20);
    StdDuration::from_millis(
        base.saturating_mul(factor)
            .min(shared.webhooks.retry_max_delay_ms),
    )
}

/// Delivers a batch, then any duplicate of it the dice ask for.
async fn deliver(shared: Arc<Shared>, batch: Batch, mut shutdown: watch::Receiver<bool>) {
    let mut next = Some(batch);
    while let Some(b) = next {
        next = deliver_one(&shared, b, &mut shutdown).await;
    }
}

/// POSTs one batch until acknowledged or dropped; returns a duplicate to send, if any.
async fn deliver_one(
    shared: &Arc<Shared>,
    batch: Batch,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Batch> {
    let mut attempt: u32 = 0;
    let outcome = loop {
        attempt += 1;
        let result = shared
            .http
            .post(&batch.url)
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature-256", &batch.signature)
            .header("User-Agent", "facebookexternalua")
            .body(batch.body.as_bytes().to_vec())
            .send()
            .await;
        let record = match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                // Drain the body so the connection can be reused.
                let _ = resp.bytes().await;
                Attempt {
                    status: Some(status),
                    error: None,
                }
            }
            Err(e) => Attempt {
                status: None,
                error: Some(e.to_string()),
            },
        };
        let ok = record.status == Some(200);
        {
            let mut st = shared.lock();
            if let Some(d) = st.deliveries.iter_mut().rev().find(|d| d.id == batch.id) {
                d.attempts.push(record);
            }
        }
        if ok {
            break DeliveryOutcome::Acknowledged;
        }
        let max_age =
            Duration::seconds(i64::try_from(shared.webhooks.max_age_secs).unwrap_or(i64::MAX));
        let too_old = shared.now() - batch.created >= max_age;
        let too_many = shared.webhooks.max_attempts.is_some_and(|m| attempt >= m);
        if too_old || too_many {
            tracing::warn!(delivery = batch.id, attempt, "webhook delivery dropped");
            break DeliveryOutcome::Dropped;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff(shared, attempt)) => {}
            _ = shutdown.changed() => return None,
        }
    };
    let mut st = shared.lock();
    if let Some(d) = st.deliveries.iter_mut().rev().find(|d| d.id == batch.id) {
        d.outcome = outcome;
    }
    if let Some(n) = st.outbox.in_flight.get_mut(&batch.pnid) {
        *n = n.saturating_sub(1);
    }
    let duplicate = outcome == DeliveryOutcome::Acknowledged
        && !batch.duplicate
        && st
            .delivery_rng
            .chance(shared.webhooks.duplicate_probability);
    if duplicate {
        // Meta sometimes delivers the same POST twice: the same bytes, the same signature.
        st.next_delivery_id += 1;
        let id = st.next_delivery_id;
        let limit = st.log_limit;
        keep_newest(&mut st.deliveries, limit);
        st.deliveries.push(DeliveryRecord {
            id,
            phone_number_id: batch.pnid.clone(),
            url: batch.url.clone(),
            body: if shared.webhooks.record_bodies {
                batch.body.clone()
            } else {
                Arc::from("")
            },
            signature: batch.signature.clone(),
            changes: 0,
            duplicate_of: Some(batch.id),
            attempts: Vec::new(),
            outcome: DeliveryOutcome::Pending,
        });
        *st.outbox.in_flight.entry(batch.pnid.clone()).or_default() += 1;
        Some(Batch {
            id,
            created: shared.now(),
            duplicate: true,
            ..batch
        })
    } else {
        st.outbox.outstanding = st.outbox.outstanding.saturating_sub(1);
        shared.idle.send_replace(st.outbox.outstanding);
        drop(st);
        shared.wake.notify_one();
        None
    }
}

/// Meta's verification handshake against a callback: `GET ?hub.mode=subscribe&hub.challenge=..
/// &hub.verify_token=..`; true when the receiver answers 200 with the challenge.
pub(crate) async fn verify(
    shared: &Shared,
    url: &str,
    verify_token: &str,
    challenge: &str,
) -> Result<bool, reqwest::Error> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!(
        "{url}{sep}hub.mode=subscribe&hub.challenge={}&hub.verify_token={}",
        percent_encode(challenge),
        percent_encode(verify_token)
    );
    let resp = shared.http.get(full).send().await?;
    let ok = resp.status().as_u16() == 200;
    let body = resp.text().await?;
    Ok(ok && body == challenge)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        let sig = signature(b"what do ya want for nothing?", "Jefe");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
