//! Property-style robustness: many deterministic mutations of every fixture, fed to the parser and
//! the signature check. Nothing may panic; mutations inside one change may not cost other changes.

use confide_whatsapp::webhook::{Change, WebhookBatch, parse_webhook};
use confide_whatsapp::{SignatureError, sign, verify_signature};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const SECRET: &[u8] = b"mutation-secret";

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(crate::FIXTURE_DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 20);
    out
}

/// Parses and checks the signature; the only assertion is that neither panics and that a changed
/// body never verifies under the original signature.
fn exercise(original: &[u8], header: &str, mutated: &[u8]) {
    let _ = parse_webhook(mutated);
    let r = verify_signature(Some(header), mutated, &[SECRET]);
    if mutated == original {
        assert_eq!(r, Ok(()));
    } else {
        assert_eq!(r, Err(SignatureError::Mismatch));
    }
}

#[test]
fn truncations_at_every_offset() {
    for (name, bytes) in fixtures() {
        let h = sign(&bytes, SECRET);
        for cut in 0..bytes.len() {
            exercise(&bytes, &h, &bytes[..cut]);
            assert!(parse_webhook(&bytes[..cut]).is_err(), "{name} cut at {cut}");
            // The tail alone, too.
            exercise(&bytes, &h, &bytes[cut + 1..]);
        }
    }
}

#[test]
fn byte_flips_and_substitutions_at_every_offset() {
    let subs: &[fn(u8) -> u8] = &[
        |b| b ^ 0x01,
        |b| b ^ 0x20,
        |b| b ^ 0x80,
        |_| b'"',
        |_| b'{',
        |_| b']',
        |_| b'0',
        |_| b'\\',
        |_| 0xff,
        |_| 0x00,
    ];
    for (_, bytes) in fixtures() {
        let h = sign(&bytes, SECRET);
        let mut m = bytes.clone();
        for i in 0..m.len() {
            for sub in subs {
                let orig = m[i];
                m[i] = sub(orig);
                exercise(&bytes, &h, &m);
                m[i] = orig;
            }
        }
    }
}

/// A small deterministic generator (SplitMix64) for multi-byte mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_splices_insertions_and_deletions() {
    let all = fixtures();
    let mut rng = Rng(0x5eed);
    let tokens: &[&[u8]] = &[
        b"null",
        b"true",
        b"1e999",
        b"-0",
        b"\"\"",
        b"[]",
        b"{}",
        b"\"\\ud800\"",
        b"\"\\u0000\"",
        b",",
        b":",
        b"99999999999999999999999",
        b"\"type\":\"text\"",
        b"\"timestamp\":\"\"",
    ];
    for round in 0..3_000 {
        let (_, base) = &all[rng.below(all.len())];
        let h = sign(base, SECRET);
        let mut m = base.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(m.len() + 1);
            match rng.below(4) {
                0 => {
                    let t = tokens[rng.below(tokens.len())];
                    m.splice(at..at, t.iter().copied());
                }
                1 => {
                    let end = (at + 1 + rng.below(16)).min(m.len());
                    m.drain(at.min(end)..end);
                }
                2 => {
                    // Splice a slice of another fixture in.
                    let (_, other) = &all[rng.below(all.len())];
                    let s = rng.below(other.len());
                    let e = (s + rng.below(64)).min(other.len());
                    m.splice(at..at, other[s..e].iter().copied());
                }
                _ => {
                    if at < m.len() {
                        m[at] = (rng.next() & 0xff) as u8;
                    }
                }
            }
        }
        exercise(base, &h, &m);
        let _ = round;
    }
}

#[test]
fn random_headers_never_panic() {
    let mut rng = Rng(42);
    let body = crate::fixture!("text.json");
    let good = sign(body, SECRET);
    for _ in 0..5_000 {
        let mut h = good.clone().into_bytes();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(h.len());
            match rng.below(3) {
                0 => h[at] = (rng.next() & 0x7f) as u8,
                1 => {
                    h.remove(at);
                }
                _ => h.insert(at, b"0af \x00="[rng.below(6)]),
            }
        }
        let h = String::from_utf8_lossy(&h).into_owned();
        let r = verify_signature(Some(&h), body, &[SECRET]);
        assert_eq!(r.is_ok(), h == good, "{h:?}");
    }
}

/// Every kept message and status id in a batch, with the change it came from.
fn item_ids(b: &WebhookBatch) -> BTreeSet<(usize, String)> {
    let mut out = BTreeSet::new();
    for e in &b.entries {
        for c in &e.changes {
            if let Change::Messages(v) = c {
                for m in &v.messages {
                    out.insert((e.index, m.id.clone()));
                }
                for s in &v.statuses {
                    out.insert((e.index, format!("{}/{}", s.id, s.status.as_str())));
                }
            }
        }
    }
    out
}

fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Replacing any one value anywhere by a value of another type never panics; and when the value
/// sits inside change `j`, every item of the other changes is still there.
#[test]
fn any_value_replaced_by_any_type() {
    let replacements = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!([]),
        json!({}),
        json!([{"a":1}]),
    ];
    for (name, bytes) in fixtures() {
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let base = parse_webhook(&bytes).unwrap();
        let mut paths = Vec::new();
        pointers(&original, String::new(), &mut paths);
        for path in &paths {
            // Which change (if any) the path is inside: /entry/0/changes/<j>/...
            let parts: Vec<&str> = path.split('/').collect();
            let change: Option<usize> = match parts.as_slice() {
                ["", "entry", "0", "changes", j, _, ..] => j.parse().ok(),
                _ => None,
            };
            for r in &replacements {
                let mut v = original.clone();
                if path.is_empty() {
                    v = r.clone();
                } else {
                    *v.pointer_mut(path).unwrap() = r.clone();
                }
                let mutated = serde_json::to_vec(&v).unwrap();
                let Ok(batch) = parse_webhook(&mutated) else {
                    continue;
                };
                let Some(j) = change else { continue };
                // Items of the other changes survive.
                let kept = item_ids(&batch);
                for (ci, c) in base.entries[0].changes.iter().enumerate() {
                    if ci == j {
                        continue;
                    }
                    let one = WebhookBatch {
                        entries: vec![confide_whatsapp::webhook::Entry {
                            index: 0,
                            id: None,
                            time: None,
                            changes: vec![c.clone()],
                        }],
                        ..Default::default()
                    };
                    for id in item_ids(&one) {
                        assert!(
                            kept.contains(&id),
                            "{name}: {path} := {r} lost {id:?} of change {ci}"
                        );
                    }
                }
            }
        }
    }
}
