//! Durability under SIGKILL (issue 4): the server is killed while meta-sim is delivering; after a
//! restart and meta-sim's retries, every acknowledged message is stored exactly once and every
//! message is stored in the end.

use confide_core::audit::Actor;
use confide_core::clock::SystemClock;
use confide_core::email::Email;
use confide_core::entropy::OsEntropy;
use confide_core::ids::TenantId;
use confide_crypto::keyring::Keyring;
use confide_store::channels::NewChannel;
use confide_store::{Store, StoreOptions};
use meta_sim::{DeliveryOutcome, Mix, NumberConfig, Script, Sim, SimConfig, WebhookConfig};
use secrecy::SecretString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PNID: &str = "106540352242922";
const SECRET: &str = "crash-test-app-secret";

struct Env {
    dir: tempfile::TempDir,
    url: String,
    keyring: String,
}

impl Env {
    async fn store(&self) -> Store {
        Store::open(
            &StoreOptions::new(self.url.clone()),
            Keyring::from_json(&self.keyring).unwrap(),
            None,
            Arc::new(SystemClock),
            Arc::new(OsEntropy),
        )
        .await
        .unwrap()
    }

    /// Starts `confide serve` on `listen`; returns the process and its public address.
    fn serve(&self, listen: &str) -> (Child, String) {
        let mut child = crate::confide(self.dir.path())
            .args(["serve", "--listen", listen, "--admin-listen", "127.0.0.1:0"])
            .env("CONFIDE_DATABASE_URL", &self.url)
            .env("CONFIDE_KEYRING", &self.keyring)
            .env("CONFIDE_LOG__LEVEL", "confide=info,warn")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before it was ready")
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(a) = v["public"].as_str() {
                break a.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        (child, addr)
    }
}

async fn acknowledged_changes(sim: &meta_sim::SimHandle) -> usize {
    sim.deliveries()
        .iter()
        .filter(|d| d.outcome == DeliveryOutcome::Acknowledged)
        .map(|d| d.changes)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_loses_nothing_acknowledged_and_everything_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env {
        url: format!("sqlite://{}/confide.db", dir.path().display()),
        keyring: Keyring::generate(&SystemClock, &OsEntropy)
            .to_json()
            .unwrap()
            .to_string(),
        dir,
    };
    let store = env.store().await;
    let email = Email::parse("owner@crash.test").unwrap();
    let tenant: TenantId = store
        .create_tenant("Crash", &email, "$argon2id$unused", Actor::Cli)
        .await
        .unwrap()
        .tenant_id;
    let mut s = store.scope(tenant).await.unwrap();
    let channel = s
        .create_channel(
            NewChannel {
                phone_number_id: PNID.into(),
                waba_id: "102290129340398".into(),
                display_phone_number: "15550783881".into(),
                access_token: SecretString::from("token"),
                app_secret: SecretString::from(SECRET),
                verify_token: SecretString::from("verify"),
                graph_base_url: "http://127.0.0.1:9".into(),
            },
            Actor::Cli,
        )
        .await
        .unwrap();
    s.commit().await.unwrap();
    store.close().await;

    let (mut first, addr) = env.serve("127.0.0.1:0");
    let callback = format!("http://{addr}/webhooks/whatsapp/{}", channel.id);
    let config = SimConfig {
        seed: 5,
        numbers: vec![
            NumberConfig::new(PNID, "15550783881", "102290129340398", "token", SECRET)
                .with_callback(&callback),
        ],
        webhooks: WebhookConfig {
            max_batch: 10,
            max_in_flight: 4,
            ..WebhookConfig::fast()
        },
        ..SimConfig::default()
    };
    let sim = Sim::start(config, Arc::new(SystemClock)).await.unwrap();
    let script = Script {
        seed: 11,
        customers: 40,
        messages: 1_200,
        mix: Mix::default(),
    };
    let wamids = sim.run_script(PNID, &script).unwrap();
    assert_eq!(wamids.len(), 1_200);

    // Kill the server hard once part of the traffic is acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged_changes(&sim).await < 200 {
        assert!(Instant::now() < deadline, "deliveries never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let acked_before = acknowledged_changes(&sim).await;
    assert!(
        acked_before < 1_200,
        "the kill must land mid-delivery (acked {acked_before})"
    );

    // The store holds every acknowledged message already, before any retry.
    let store = env.store().await;
    let mut scope = store.read_scope(tenant).await.unwrap();
    let stored_at_crash = scope.count_rows("messages").await.unwrap();
    drop(scope);
    store.close().await;
    assert!(
        stored_at_crash as usize >= acked_before,
        "acknowledged {acked_before}, stored {stored_at_crash}"
    );

    // Restart on the same address; meta-sim's retries bring the rest.
    let (mut second, _) = env.serve(&addr);
    tokio::time::timeout(Duration::from_secs(120), sim.wait_idle())
        .await
        .expect("deliveries did not finish");
    let deliveries = sim.deliveries();
    assert!(
        deliveries
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Acknowledged),
        "nothing dropped"
    );
    assert!(
        deliveries.iter().any(|d| d.attempts.len() > 1),
        "some deliveries were retried across the crash"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status();
    second.wait().unwrap();

    let store = env.store().await;
    let mut scope = store.read_scope(tenant).await.unwrap();
    let stored = scope.count_rows("messages").await.unwrap();
    assert_eq!(
        stored, 1_200,
        "every message exactly once (wamids are unique per tenant)"
    );
}
