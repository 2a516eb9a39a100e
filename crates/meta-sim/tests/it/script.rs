//! Seeded scripts and signed payloads are reproducible.

use crate::common::*;
use meta_sim::payloads::{PayloadSpec, generate};
use meta_sim::{Mix, Script};
use serde_json::Value;

async fn run(seed: u64, script: &Script) -> (Vec<String>, Vec<Value>) {
    let mut env = env_with(|c| c.seed = seed).await;
    let ids = env.sim.run_script(PNID, script).unwrap();
    env.idle().await;
    for r in env.rx.received() {
        r.assert_signed(SECRET);
    }
    (ids, env.rx.changes())
}

#[tokio::test]
async fn a_seeded_script_delivers_the_same_webhooks_twice() {
    let script = Script {
        seed: 11,
        customers: 8,
        messages: 40,
        mix: Mix::default(),
    };
    let (ids_a, changes_a) = run(3, &script).await;
    let (ids_b, changes_b) = run(3, &script).await;
    assert_eq!(ids_a.len(), 40);
    assert_eq!(ids_a, ids_b);
    assert_eq!(changes_a, changes_b);

    let kinds: std::collections::BTreeSet<String> = changes_a
        .iter()
        .map(|c| {
            c["value"]["messages"][0]["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(kinds.len() >= 3, "a mix of kinds: {kinds:?}");
    // Some customers withhold their phone: then `from` is absent, `from_user_id` present.
    assert!(
        changes_a
            .iter()
            .any(|c| c["value"]["messages"][0].get("from").is_none())
    );
    assert!(
        changes_a
            .iter()
            .all(|c| c["value"]["messages"][0]["from_user_id"].is_string())
    );

    let other = Script { seed: 12, ..script };
    let (_, changes_c) = run(3, &other).await;
    assert_ne!(changes_a, changes_c);
}

#[tokio::test]
async fn signed_payloads_for_the_ingest_benchmark() {
    let spec = PayloadSpec {
        seed: 5,
        changes: 3_000,
        customers: 200,
        app_secret: SECRET.into(),
        ..PayloadSpec::default()
    };
    let payloads = generate(spec.clone());
    assert_eq!(payloads, generate(spec));
    let changes: usize = payloads.iter().map(|p| p.changes).sum();
    let statuses: usize = payloads.iter().map(|p| p.statuses).sum();
    let duplicates: usize = payloads.iter().map(|p| p.duplicates).sum();
    assert_eq!(changes, 3_000);
    let status_share = statuses as f64 / changes as f64;
    assert!((0.22..0.36).contains(&status_share), "{status_share}");
    let dup_share = duplicates as f64 / changes as f64;
    assert!((0.03..0.07).contains(&dup_share), "{dup_share}");
    assert!(payloads.iter().any(|p| p.changes > 40));
    assert!(payloads.iter().all(|p| (1..=50).contains(&p.changes)));
    for p in &payloads {
        let r = Received {
            headers: {
                let mut h = axum::http::HeaderMap::new();
                h.insert("x-hub-signature-256", p.signature.parse().unwrap());
                h.insert("content-type", "application/json".parse().unwrap());
                h
            },
            body: p.body.clone().into(),
        };
        r.assert_signed(SECRET);
        assert!(p.body.is_ascii());
        assert_eq!(r.changes().len(), p.changes);
    }
}
