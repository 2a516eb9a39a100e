//! The audit chain: an append-only, per-tenant log whose entries are linked by SHA-256 and sealed
//! with a key kept outside the database.
//!
//! Entry `n` stores `hash_n = SHA-256(prev_hash ‖ content_n)` where `prev_hash` is `hash_{n-1}` (or
//! the tenant's genesis hash for `n = 1`) and `content_n` is an unambiguous, length-prefixed
//! encoding of every stored field. Editing a field breaks `hash_n`; deleting or inserting in the
//! middle breaks the sequence or the links; reordering breaks the links. Because SHA-256 is public,
//! someone who can write the database could rebuild the whole chain; so every hash is also sealed
//! (`seal_n = HMAC(audit key, hash_n)`) with a key derived from the keyring, which is not in the
//! database. A forged tail, however well chained, fails its seal. The head (last seq and hash) is
//! kept beside the log, so a truncated tail is seen too.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Who did something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in team member.
    User(String),
    /// An integration using an API key.
    ApiKey(String),
    /// The operator, through the CLI.
    Cli,
    /// Meta, through a signed webhook.
    Meta,
    /// The server itself (background jobs).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::ApiKey(id) => write!(f, "api_key:{id}"),
            Actor::Cli => f.write_str("cli"),
            Actor::Meta => f.write_str("meta"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// What a caller asks to record. No personal data in clear: ids, codes and counts only.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub actor: Actor,
    /// Dotted action name, e.g. `tenant.created`, `keys.rotated`, `session.login_failed`.
    pub action: String,
    /// What was acted on, e.g. `contact:<id>`; empty when nothing in particular.
    pub target: String,
    pub request_id: Option<String>,
    /// Extra machine-readable facts (no personal data).
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(actor: Actor, action: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            actor,
            action: action.into(),
            target: target.into(),
            request_id: None,
            details: serde_json::Value::Null,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// The server's id of the request that caused the event.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// The caller's own id for the request (its `X-Request-Id`, sanitised by the server), kept
    /// in the details as `correlation_id`, never as the request id. Details that are not an
    /// object are kept under `details`. The entry format is unchanged: details are stored and
    /// hashed as text, so entries with and without it verify alike.
    pub fn with_correlation_id(mut self, correlation_id: Option<String>) -> Self {
        let Some(id) = correlation_id else {
            return self;
        };
        let mut map = match std::mem::take(&mut self.details) {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                let mut m = serde_json::Map::new();
                m.insert("details".into(), other);
                m
            }
        };
        map.insert("correlation_id".into(), serde_json::Value::String(id));
        self.details = serde_json::Value::Object(map);
        self
    }
}

/// One stored entry, exactly as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub tenant_id: String,
    pub seq: i64,
    pub at_micros: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub request_id: Option<String>,
    /// The details as stored text (hashed as text, never re-serialised).
    pub details: String,
    #[serde(with = "hex_bytes")]
    pub prev_hash: [u8; 32],
    #[serde(with = "hex_bytes")]
    pub hash: [u8; 32],
    #[serde(with = "hex_bytes")]
    pub seal: [u8; 32],
}

/// Keys the chain: HMAC with a key that lives outside the database.
pub trait Sealer {
    fn seal(&self, hash: &[u8; 32]) -> [u8; 32];
}

/// The hash that stands before a tenant's first entry.
pub fn genesis_hash(tenant_id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    put(&mut h, b"confide-audit-genesis-v1");
    put(&mut h, tenant_id.as_bytes());
    h.finalize().into()
}

fn put(h: &mut Sha256, field: &[u8]) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field);
}

/// Computes `SHA-256(prev_hash ‖ content)` for an entry's fields.
pub fn entry_hash(e: &AuditEntry) -> [u8; 32] {
    let mut h = Sha256::new();
    put(&mut h, b"confide-audit-v1");
    put(&mut h, &e.prev_hash);
    put(&mut h, e.tenant_id.as_bytes());
    put(&mut h, &e.seq.to_be_bytes());
    put(&mut h, &e.at_micros.to_be_bytes());
    put(&mut h, e.actor.as_bytes());
    put(&mut h, e.action.as_bytes());
    put(&mut h, e.target.as_bytes());
    match &e.request_id {
        Some(r) => {
            put(&mut h, b"1");
            put(&mut h, r.as_bytes());
        }
        None => put(&mut h, b"0"),
    }
    put(&mut h, e.details.as_bytes());
    h.finalize().into()
}

/// Builds the next entry after `head` (the previous entry's seq and hash, or `None` for the first).
pub fn next_entry(
    tenant_id: &str,
    head: Option<(i64, [u8; 32])>,
    at_micros: i64,
    event: &AuditEvent,
    sealer: &dyn Sealer,
) -> AuditEntry {
    let (seq, prev_hash) = match head {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, genesis_hash(tenant_id)),
    };
    let details = match &event.details {
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    };
    let mut e = AuditEntry {
        tenant_id: tenant_id.to_string(),
        seq,
        at_micros,
        actor: event.actor.to_string(),
        action: event.action.clone(),
        target: event.target.clone(),
        request_id: event.request_id.clone(),
        details,
        prev_hash,
        hash: [0; 32],
        seal: [0; 32],
    };
    e.hash = entry_hash(&e);
    e.seal = sealer.seal(&e.hash);
    e
}

/// The first thing wrong with a chain, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("audit entry {seq} was altered: its content does not match its hash")]
    Altered { seq: i64 },
    #[error("audit entry {seq} is forged: its hash carries no valid seal")]
    Forged { seq: i64 },
    #[error("audit entry {expected} is missing (deleted): the chain jumps to entry {found}")]
    Missing { expected: i64, found: i64 },
    #[error("audit entry {seq} does not follow entry {prev}: entries were inserted or reordered")]
    BadLink { seq: i64, prev: i64 },
    #[error(
        "audit entries after {last} are missing (deleted): the head says the log reaches {head}"
    )]
    Truncated { last: i64, head: i64 },
    #[error("audit entry {seq} does not match the recorded head of the log")]
    HeadMismatch { seq: i64 },
}

impl ChainBreak {
    /// The sequence number of the first bad entry.
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Altered { seq }
            | ChainBreak::Forged { seq }
            | ChainBreak::BadLink { seq, .. }
            | ChainBreak::HeadMismatch { seq } => *seq,
            ChainBreak::Missing { expected, .. } => *expected,
            ChainBreak::Truncated { last, .. } => last + 1,
        }
    }
}

/// Walks a tenant's chain in the order given (the store gives it by ascending seq) and checks
/// numbering, links, hashes, seals and the recorded head. Returns how many entries were checked.
pub fn verify_chain<I>(
    tenant_id: &str,
    entries: I,
    head: Option<(i64, [u8; 32])>,
    sealer: &dyn Sealer,
) -> Result<u64, ChainBreak>
where
    I: IntoIterator<Item = AuditEntry>,
{
    let mut prev_hash = genesis_hash(tenant_id);
    let mut expected = 1i64;
    let mut count = 0u64;
    for e in entries {
        if e.seq != expected {
            if e.seq > expected {
                return Err(ChainBreak::Missing {
                    expected,
                    found: e.seq,
                });
            }
            return Err(ChainBreak::BadLink {
                seq: e.seq,
                prev: expected - 1,
            });
        }
        if entry_hash(&e) != e.hash || e.tenant_id != tenant_id {
            return Err(ChainBreak::Altered { seq: e.seq });
        }
        if e.prev_hash != prev_hash {
            return Err(ChainBreak::BadLink {
                seq: e.seq,
                prev: e.seq - 1,
            });
        }
        if !constant_eq(&sealer.seal(&e.hash), &e.seal) {
            return Err(ChainBreak::Forged { seq: e.seq });
        }
        prev_hash = e.hash;
        expected += 1;
        count += 1;
    }
    let last = expected - 1;
    match head {
        Some((head_seq, _)) if head_seq > last => Err(ChainBreak::Truncated {
            last,
            head: head_seq,
        }),
        Some((head_seq, _)) if head_seq < last => {
            Err(ChainBreak::HeadMismatch { seq: head_seq + 1 })
        }
        Some((head_seq, head_hash)) if head_seq > 0 && head_hash != prev_hash => {
            Err(ChainBreak::HeadMismatch { seq: head_seq })
        }
        None if last > 0 => Err(ChainBreak::HeadMismatch { seq: 1 }),
        _ => Ok(count),
    }
}

fn constant_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

mod hex_bytes {
    use serde::Serializer;
    pub fn serialize<S: Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TestSealer;
    impl Sealer for TestSealer {
        fn seal(&self, hash: &[u8; 32]) -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(b"test-key");
            h.update(hash);
            h.finalize().into()
        }
    }

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let head = out.last().map(|e| (e.seq, e.hash));
            let ev = AuditEvent::new(Actor::Cli, "test.event", format!("thing:{i}"))
                .with_details(serde_json::json!({"i": i}));
            out.push(next_entry("t1", head, 1_000 + i, &ev, &TestSealer));
        }
        out
    }

    fn head(c: &[AuditEntry]) -> Option<(i64, [u8; 32])> {
        c.last().map(|e| (e.seq, e.hash))
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify_chain("t1", c.clone(), head(&c), &TestSealer), Ok(5));
        assert_eq!(verify_chain("t1", Vec::new(), None, &TestSealer), Ok(0));
    }

    #[test]
    fn edit_names_the_entry() {
        let mut c = chain(5);
        let h = head(&c);
        c[2].target = "thing:other".into();
        assert_eq!(
            verify_chain("t1", c, h, &TestSealer),
            Err(ChainBreak::Altered { seq: 3 })
        );
    }

    #[test]
    fn delete_names_the_entry() {
        let mut c = chain(5);
        let h = head(&c);
        c.remove(1);
        let err = verify_chain("t1", c, h, &TestSealer).unwrap_err();
        assert_eq!(
            err,
            ChainBreak::Missing {
                expected: 2,
                found: 3
            }
        );
        assert_eq!(err.seq(), 2);
    }

    #[test]
    fn deleting_the_tail_is_seen_through_the_head() {
        let mut c = chain(5);
        let h = head(&c);
        c.pop();
        assert_eq!(verify_chain("t1", c, h, &TestSealer).unwrap_err().seq(), 5);
    }

    #[test]
    fn reorder_is_seen() {
        let mut c = chain(5);
        let h = head(&c);
        // Swap the contents of entries 2 and 3 but keep the numbering (rows renumbered).
        let (a, b) = (c[1].clone(), c[2].clone());
        c[1] = AuditEntry { seq: 2, ..b };
        c[2] = AuditEntry { seq: 3, ..a };
        assert_eq!(verify_chain("t1", c, h, &TestSealer).unwrap_err().seq(), 2);
    }

    #[test]
    fn rechained_forgery_fails_the_seal() {
        let mut c = chain(3);
        // An attacker with database access but without the key appends a well-chained entry.
        let forged = next_entry(
            "t1",
            head(&c),
            9_999,
            &AuditEvent::new(Actor::System, "forged", ""),
            &WrongSealer,
        );
        c.push(forged);
        let h = head(&c);
        assert_eq!(
            verify_chain("t1", c, h, &TestSealer),
            Err(ChainBreak::Forged { seq: 4 })
        );
    }

    struct WrongSealer;
    impl Sealer for WrongSealer {
        fn seal(&self, hash: &[u8; 32]) -> [u8; 32] {
            *hash
        }
    }

    #[test]
    fn correlation_id_goes_into_the_details_and_the_chain_still_verifies() {
        let ev = AuditEvent::new(Actor::Cli, "test.event", "")
            .with_details(serde_json::json!({"i": 1}))
            .with_request_id(Some("server-id".into()))
            .with_correlation_id(Some("client-id".into()));
        assert_eq!(ev.request_id.as_deref(), Some("server-id"));
        assert_eq!(
            ev.details,
            serde_json::json!({"i": 1, "correlation_id": "client-id"})
        );
        let bare =
            AuditEvent::new(Actor::Cli, "test.event", "").with_correlation_id(Some("c".into()));
        assert_eq!(bare.details, serde_json::json!({"correlation_id": "c"}));
        let none = AuditEvent::new(Actor::Cli, "test.event", "").with_correlation_id(None);
        assert_eq!(none.details, serde_json::Value::Null);
        let mut c = chain(2);
        c.push(next_entry("t1", head(&c), 5_000, &ev, &TestSealer));
        let h = head(&c);
        assert_eq!(verify_chain("t1", c, h, &TestSealer), Ok(3));
    }

    #[test]
    fn entries_of_another_tenant_do_not_verify() {
        let c = chain(2);
        let h = head(&c);
        assert!(verify_chain("t2", c, h, &TestSealer).is_err());
    }
}
