//! Traffic shapes for the ingest benchmark: how the changes of a run are grouped into signed
//! deliveries.
//!
//! - `batches` (the default, and the shape of the figures of 2026-11-23): `meta_sim::payloads`
//!   as it comes, 1..=`max_batch` changes per delivery (about 25 on average), 30% statuses, 5% of
//!   the changes repeating an earlier change.
//! - `realistic`: what Meta mostly sends, one change per delivery. 90% of the deliveries carry a
//!   single change and 10% a batch of five; a quarter of the changes are statuses of outbound
//!   messages sent earlier (the bench stores those messages before the run, so every status moves
//!   a stored message forward); 5% of the deliveries are exact, byte-for-byte repeats of a
//!   delivery acknowledged a little earlier (Meta retrying).
//!
//! The realistic deliveries are built from `meta_sim::payloads` with one change per payload:
//! each change is cut out of its envelope and re-enveloped (alone or with four others) by
//! `meta_sim::wire::envelope`, then signed with the app secret, exactly as Meta would.

use meta_sim::payloads::{PayloadGenerator, PayloadSpec, SignedPayload, generate, sign};
use meta_sim::rng::SimRng;
use meta_sim::wire;
use std::collections::HashSet;

/// How the changes of a run are grouped into deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// 1..=max-batch changes per delivery (~25 on average), 30% statuses, 5% duplicate changes.
    Batches,
    /// 90% single-change deliveries, 10% batches of five, 25% statuses of stored outbound
    /// messages, 5% of deliveries repeated byte for byte.
    Realistic,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Batches => "batches",
            Shape::Realistic => "realistic",
        }
    }
}

/// Share of the realistic deliveries that carry a batch (the others carry one change).
pub const BATCH_SHARE: f64 = 0.10;
/// Changes in a realistic batch.
pub const BATCH_SIZE: usize = 5;
/// Share of the realistic changes that are statuses.
pub const STATUS_SHARE: f64 = 0.25;
/// Share of the realistic deliveries that repeat an earlier delivery exactly.
pub const DUPLICATE_SHARE: f64 = 0.05;
/// A repeat copies one of the deliveries this far back (in posting order): far enough that the
/// original has been answered at the concurrencies measured, near enough to be a retry.
const RETRY_BACK: (usize, usize) = (64, 1024);

/// An outbound message that statuses of the run refer to, stored before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub wamid: String,
    /// The recipient's BSUID and, when not withheld, phone digits.
    pub user_id: String,
    pub phone: Option<String>,
}

/// The deliveries of a run, and what must exist before it.
pub struct Workload {
    pub deliveries: Vec<SignedPayload>,
    /// Outbound messages to store before the run (empty for `batches`).
    pub outbound: Vec<Outbound>,
    /// Deliveries that repeat an earlier one byte for byte (0 for `batches`, whose duplicates
    /// are single changes repeated inside other deliveries).
    pub repeated_deliveries: usize,
}

impl Workload {
    /// Deliveries carrying one change, and carrying more.
    pub fn singles_and_batches(&self) -> (usize, usize) {
        let singles = self.deliveries.iter().filter(|d| d.changes == 1).count();
        (singles, self.deliveries.len() - singles)
    }
}

pub fn build(shape: Shape, spec: &PayloadSpec) -> Result<Workload, String> {
    match shape {
        Shape::Batches => Ok(Workload {
            deliveries: generate(spec.clone()),
            outbound: Vec::new(),
            repeated_deliveries: 0,
        }),
        Shape::Realistic => realistic(spec),
    }
}

/// The realistic shape: `spec.changes` changes in all (repeats included), from `spec.seed`,
/// `spec.customers`, the channel of `spec`; `spec.max_batch`, `spec.status_fraction` and
/// `spec.duplicate_fraction` are replaced by the constants above.
pub fn realistic(spec: &PayloadSpec) -> Result<Workload, String> {
    let mut changes = PayloadGenerator::new(PayloadSpec {
        max_batch: 1,
        status_fraction: STATUS_SHARE,
        duplicate_fraction: 0.0,
        ..spec.clone()
    });
    // Every one-change payload is `head + change + tail`.
    let marker = "\"confide-bench:change\"";
    let envelope = wire::envelope(&spec.waba_id, None, &[marker]);
    let (head, tail) = envelope
        .split_once(marker)
        .ok_or("meta_sim::wire::envelope lost its change")?;

    let mut rng = SimRng::new(spec.seed ^ 0x5A4E_0000_0000_0001);
    let mut deliveries: Vec<SignedPayload> = Vec::new();
    let mut outbound = Vec::new();
    let mut outbound_seen = HashSet::new();
    let (mut total, mut repeats) = (0, 0);
    while total < spec.changes {
        let remaining = spec.changes - total;
        if deliveries.len() >= RETRY_BACK.0 && rng.chance(DUPLICATE_SHARE) {
            let back = rng.between(RETRY_BACK.0, RETRY_BACK.1.min(deliveries.len()));
            let original = &deliveries[deliveries.len() - back];
            if original.changes <= remaining {
                let repeat = SignedPayload {
                    body: original.body.clone(),
                    signature: original.signature.clone(),
                    changes: original.changes,
                    messages: 0,
                    statuses: 0,
                    duplicates: original.changes,
                };
                total += repeat.changes;
                repeats += 1;
                deliveries.push(repeat);
                continue;
            }
        }
        let n = if rng.chance(BATCH_SHARE) {
            BATCH_SIZE.min(remaining)
        } else {
            1
        };
        let mut parts = Vec::with_capacity(n);
        let (mut messages, mut statuses) = (0, 0);
        for _ in 0..n {
            let one = changes
                .next()
                .ok_or("meta_sim::payloads ended before the changes asked for")?;
            let body = std::str::from_utf8(&one.body).map_err(|e| e.to_string())?;
            let change = body
                .strip_prefix(head)
                .and_then(|b| b.strip_suffix(tail))
                .ok_or("a meta_sim payload is not one change in the standard envelope")?;
            if one.statuses > 0 {
                let o = status_target(change)?;
                if outbound_seen.insert(o.wamid.clone()) {
                    outbound.push(o);
                }
            }
            messages += one.messages;
            statuses += one.statuses;
            parts.push(change.to_owned());
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let body = wire::envelope(&spec.waba_id, None, &refs).into_bytes();
        let signature = sign(&body, &spec.app_secret);
        deliveries.push(SignedPayload {
            body,
            signature,
            changes: n,
            messages,
            statuses,
            duplicates: 0,
        });
        total += n;
    }
    Ok(Workload {
        deliveries,
        outbound,
        repeated_deliveries: repeats,
    })
}

/// The outbound message a status change is about.
fn status_target(change: &str) -> Result<Outbound, String> {
    let v: serde_json::Value = serde_json::from_str(change).map_err(|e| e.to_string())?;
    let s = &v["value"]["statuses"][0];
    let text = |k: &str| s[k].as_str().map(str::to_owned);
    Ok(Outbound {
        wamid: text("id").ok_or("a status without an id")?,
        user_id: text("recipient_user_id").ok_or("a status without recipient_user_id")?,
        phone: text("recipient_id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(changes: usize) -> PayloadSpec {
        PayloadSpec {
            seed: 7,
            customers: 200,
            changes,
            ..PayloadSpec::default()
        }
    }

    #[test]
    fn batches_is_meta_sim_unchanged() {
        let s = spec(3_000);
        let w = build(Shape::Batches, &s).unwrap();
        assert_eq!(w.deliveries, generate(s));
        assert!(w.outbound.is_empty());
    }

    #[test]
    fn realistic_has_the_asked_shape_and_valid_signed_bodies() {
        let s = spec(20_000);
        let w = build(Shape::Realistic, &s).unwrap();
        let d = &w.deliveries;
        assert_eq!(d.iter().map(|p| p.changes).sum::<usize>(), 20_000);
        let share = |n: usize| n as f64 / d.len() as f64;

        let (singles, batches) = w.singles_and_batches();
        assert!((0.88..0.92).contains(&share(singles)), "singles {singles}");
        assert!(d.iter().all(|p| p.changes == 1 || p.changes == BATCH_SIZE));
        assert!((0.08..0.12).contains(&share(batches)), "batches {batches}");

        let repeats = w.repeated_deliveries;
        assert_eq!(repeats, d.iter().filter(|p| p.duplicates > 0).count());
        assert!((0.04..0.06).contains(&share(repeats)), "repeats {repeats}");

        let all_statuses: usize = d
            .iter()
            .map(|p| {
                let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
                v["entry"][0]["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|c| c["value"]["statuses"].is_array())
                    .count()
            })
            .sum();
        let status_share = all_statuses as f64 / 20_000.0;
        assert!(
            (0.23..0.27).contains(&status_share),
            "statuses {status_share}"
        );

        let mut bodies = HashSet::new();
        for (i, p) in d.iter().enumerate() {
            assert!(p.body.is_ascii());
            assert_eq!(p.signature, sign(&p.body, &s.app_secret));
            let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
            assert_eq!(v["object"], "whatsapp_business_account");
            assert_eq!(v["entry"][0]["id"], s.waba_id.as_str());
            let changes = v["entry"][0]["changes"].as_array().unwrap();
            assert_eq!(changes.len(), p.changes);
            for c in changes {
                assert_eq!(c["field"], "messages");
                assert_eq!(
                    c["value"]["metadata"]["phone_number_id"],
                    s.phone_number_id.as_str()
                );
            }
            let new = bodies.insert(p.body.clone());
            if p.duplicates > 0 {
                // A repeat follows its original, which is at least RETRY_BACK.0 deliveries back.
                assert!(!new, "delivery {i} repeats nothing");
                let earlier = &d[i.saturating_sub(RETRY_BACK.1)..i - RETRY_BACK.0 + 1];
                assert!(earlier.iter().any(|e| e.body == p.body));
            } else {
                assert!(new, "delivery {i} is an unmarked repeat");
                assert_eq!(p.messages + p.statuses, p.changes);
            }
        }

        // Every status refers to an outbound message stored before the run, listed once.
        let fresh_statuses: usize = d.iter().map(|p| p.statuses).sum();
        assert!(fresh_statuses > 0 && w.outbound.len() <= fresh_statuses);
        let wamids: HashSet<&str> = w.outbound.iter().map(|o| o.wamid.as_str()).collect();
        assert_eq!(wamids.len(), w.outbound.len());
        for p in d {
            let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
            for c in v["entry"][0]["changes"].as_array().unwrap() {
                if let Some(s) = c["value"]["statuses"].as_array() {
                    assert!(wamids.contains(s[0]["id"].as_str().unwrap()));
                }
            }
        }
    }

    #[test]
    fn realistic_is_reproducible() {
        let a = realistic(&spec(2_000)).unwrap();
        let b = realistic(&spec(2_000)).unwrap();
        assert_eq!(a.deliveries, b.deliveries);
        assert_eq!(a.outbound, b.outbound);
    }
}
