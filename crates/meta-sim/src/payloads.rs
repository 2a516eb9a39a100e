//! Signed webhook bodies without a server, for the ingest benchmark: mixed message kinds, a share
//! of statuses, a share of duplicate changes, batches of 1..=`max_batch` changes per POST. The
//! same spec gives the same bytes.

use std::collections::VecDeque;

use crate::config::UserConfig;
use crate::inbound::InboundMessage;
use crate::rng::SimRng;
use crate::script::{Mix, make_customers, random_message};
use crate::webhooks::signature;
use crate::wire::{self, Identity, InboundWire, NumberMeta, Pricing, StatusWire};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadSpec {
    pub seed: u64,
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub waba_id: String,
    pub app_secret: String,
    pub customers: usize,
    /// Changes in total (duplicates included).
    pub changes: usize,
    /// Share of changes that are statuses of outbound messages.
    pub status_fraction: f64,
    /// Share of changes that repeat an earlier change byte for byte.
    pub duplicate_fraction: f64,
    /// Each POST carries between 1 and this many changes.
    pub max_batch: usize,
    pub mix: Mix,
    /// Unix seconds of the first message.
    pub start_timestamp: i64,
}

impl Default for PayloadSpec {
    fn default() -> Self {
        Self {
            seed: 1,
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550783881".into(),
            waba_id: "102290129340398".into(),
            app_secret: "meta-sim-app-secret".into(),
            customers: 1_000,
            changes: 10_000,
            status_fraction: 0.3,
            duplicate_fraction: 0.05,
            max_batch: 50,
            mix: Mix::default(),
            start_timestamp: 1_767_225_600,
        }
    }
}

/// One POST: the exact bytes and their `X-Hub-Signature-256` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPayload {
    pub body: Vec<u8>,
    pub signature: String,
    /// Changes in this body.
    pub changes: usize,
    /// Of which new inbound messages, new statuses, and repeats of earlier changes.
    pub messages: usize,
    pub statuses: usize,
    pub duplicates: usize,
}

/// Yields [`SignedPayload`]s until `spec.changes` changes were produced.
#[derive(Debug)]
pub struct PayloadGenerator {
    spec: PayloadSpec,
    meta: NumberMeta,
    customers: Vec<UserConfig>,
    rng: SimRng,
    produced: usize,
    /// Recent changes, for duplicates.
    recent: VecDeque<String>,
    /// Outbound messages with the statuses still to come: (wamid, customer, next status, priced).
    outbound: VecDeque<(String, usize, u8, bool)>,
}

const RECENT: usize = 512;

impl PayloadGenerator {
    pub fn new(spec: PayloadSpec) -> Self {
        let customers = make_customers(spec.seed, spec.customers.max(1));
        let meta = NumberMeta {
            display_phone_number: spec.display_phone_number.clone(),
            phone_number_id: spec.phone_number_id.clone(),
            waba_id: spec.waba_id.clone(),
        };
        let rng = SimRng::new(spec.seed ^ 0x9A71_0AD5_0000_0003);
        Self {
            spec,
            meta,
            customers,
            rng,
            produced: 0,
            recent: VecDeque::new(),
            outbound: VecDeque::new(),
        }
    }

    fn identity(&self, i: usize) -> Identity {
        let u = &self.customers[i];
        Identity {
            user_id: u.user_id.clone(),
            name: u.name.clone(),
            username: u.username.clone(),
            phone: if u.phone_withheld {
                None
            } else {
                u.phone.clone()
            },
            parent_user_id: None,
        }
    }

    fn timestamp(&self) -> i64 {
        self.spec.start_timestamp + i64::try_from(self.produced / 100).unwrap_or(0)
    }

    fn message_change(&mut self) -> String {
        let c = self.rng.below(self.customers.len());
        let who = self.identity(c);
        let msg = random_message(&mut self.rng, &self.spec.mix, self.produced);
        let media_id = msg.media().map(|_| self.rng.digits(16));
        let (body, context, errors) =
            msg.wire_parts(media_id.as_deref(), &self.meta.display_phone_number);
        let party = who.phone.clone().unwrap_or_else(|| who.user_id.clone());
        let id = crate::ids::wamid(&mut self.rng, &party);
        let node = wire::inbound_message(
            &who,
            InboundWire {
                id,
                timestamp: self.timestamp(),
                kind: msg.kind().to_owned(),
                body,
                context,
                errors,
            },
        );
        wire::message_change(&self.meta, &who, node).to_json()
    }

    fn status_change(&mut self) -> String {
        // Start a new outbound message, or advance one in flight.
        if self.outbound.is_empty() || self.rng.chance(0.34) {
            let c = self.rng.below(self.customers.len());
            let party = self.customers[c].user_id.clone();
            let id = crate::ids::wamid(&mut self.rng, &party);
            let priced = self.rng.chance(0.5);
            self.outbound.push_back((id, c, 0, priced));
        }
        let pick = self.rng.below(self.outbound.len().min(32));
        let Some((id, c, step, priced)) = self.outbound.get(pick).cloned() else {
            return String::new();
        };
        let status = match step {
            0 => "sent",
            1 => "delivered",
            _ => "read",
        };
        if step >= 2 {
            self.outbound.remove(pick);
        } else if let Some(o) = self.outbound.get_mut(pick) {
            o.2 += 1;
        }
        let who = self.identity(c);
        let s = StatusWire {
            id,
            status,
            timestamp: self.timestamp(),
            recipient_id: who.phone.clone(),
            recipient_user_id: Some(who.user_id.clone()),
            recipient_parent_user_id: None,
            biz_opaque_callback_data: None,
            pricing: (priced && step < 2).then_some(Pricing {
                billable: true,
                kind: "regular",
                category: "marketing",
            }),
            error: None,
        };
        wire::status_change(&self.meta, &s, Some(&who)).to_json()
    }
}

impl Iterator for PayloadGenerator {
    type Item = SignedPayload;

    fn next(&mut self) -> Option<SignedPayload> {
        let remaining = self.spec.changes.saturating_sub(self.produced);
        if remaining == 0 {
            return None;
        }
        let n = self
            .rng
            .between(1, self.spec.max_batch.max(1))
            .min(remaining);
        let mut changes = Vec::with_capacity(n);
        let (mut messages, mut statuses, mut duplicates) = (0, 0, 0);
        for _ in 0..n {
            let change = if !self.recent.is_empty() && self.rng.chance(self.spec.duplicate_fraction)
            {
                duplicates += 1;
                let i = self.rng.below(self.recent.len());
                self.recent[i].clone()
            } else if self.rng.chance(self.spec.status_fraction) {
                statuses += 1;
                self.status_change()
            } else {
                messages += 1;
                self.message_change()
            };
            self.recent.push_back(change.clone());
            if self.recent.len() > RECENT {
                self.recent.pop_front();
            }
            changes.push(change);
            self.produced += 1;
        }
        let refs: Vec<&str> = changes.iter().map(String::as_str).collect();
        let body = wire::envelope(&self.spec.waba_id, None, &refs).into_bytes();
        let signature = signature(&body, &self.spec.app_secret);
        Some(SignedPayload {
            body,
            signature,
            changes: n,
            messages,
            statuses,
            duplicates,
        })
    }
}

/// All payloads of a spec.
pub fn generate(spec: PayloadSpec) -> Vec<SignedPayload> {
    PayloadGenerator::new(spec).collect()
}

/// Signs one body as Meta would: `(body, X-Hub-Signature-256 value)`.
pub fn sign(body: &[u8], app_secret: &str) -> String {
    signature(body, app_secret)
}

/// A single text message change, signed (the smallest ingest request).
pub fn single_text(
    spec: &PayloadSpec,
    customer: &UserConfig,
    wamid: &str,
    text: &str,
) -> SignedPayload {
    let who = Identity {
        user_id: customer.user_id.clone(),
        name: customer.name.clone(),
        username: customer.username.clone(),
        phone: if customer.phone_withheld {
            None
        } else {
            customer.phone.clone()
        },
        parent_user_id: customer.parent_user_id.clone(),
    };
    let meta = NumberMeta {
        display_phone_number: spec.display_phone_number.clone(),
        phone_number_id: spec.phone_number_id.clone(),
        waba_id: spec.waba_id.clone(),
    };
    let (body, context, errors) = InboundMessage::text(text).wire_parts(None, "");
    let node = wire::inbound_message(
        &who,
        InboundWire {
            id: wamid.to_owned(),
            timestamp: spec.start_timestamp,
            kind: "text".into(),
            body,
            context,
            errors,
        },
    );
    let change = wire::message_change(&meta, &who, node).to_json();
    let body = wire::envelope(&spec.waba_id, None, &[&change]).into_bytes();
    let signature = signature(&body, &spec.app_secret);
    SignedPayload {
        body,
        signature,
        changes: 1,
        messages: 1,
        statuses: 0,
        duplicates: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_shaped() {
        let spec = PayloadSpec {
            changes: 2_000,
            customers: 50,
            ..PayloadSpec::default()
        };
        let a = generate(spec.clone());
        let b = generate(spec.clone());
        assert_eq!(a, b);
        let total: usize = a.iter().map(|p| p.changes).sum();
        assert_eq!(total, 2_000);
        assert!(a.iter().all(|p| (1..=50).contains(&p.changes)));
        let statuses: usize = a.iter().map(|p| p.statuses).sum();
        let dups: usize = a.iter().map(|p| p.duplicates).sum();
        assert!((400..800).contains(&statuses), "statuses {statuses}");
        assert!((40..180).contains(&dups), "duplicates {dups}");
        for p in &a {
            assert!(p.body.is_ascii());
            assert_eq!(p.signature, signature(&p.body, &spec.app_secret));
            let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
            assert_eq!(
                v["entry"][0]["changes"].as_array().unwrap().len(),
                p.changes
            );
        }
    }
}
