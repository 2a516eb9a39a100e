//! The ingest benchmark (issue 4, DESIGN.md §3): signed webhook → durable, deduplicated,
//! encrypted rows → 200, measured from a second process over loopback.

use crate::load::{self, LoadResult};
use crate::procstat;
use crate::shape::{self, Outbound, Shape};
use confide_core::audit::Actor;
use confide_core::clock::SystemClock;
use confide_core::email::Email;
use confide_core::entropy::OsEntropy;
use confide_core::ids::{ChannelId, TenantId};
use confide_core::phone::Phone;
use confide_crypto::keyring::Keyring;
use confide_store::channels::NewChannel;
use confide_store::conversations::{Direction, NewMessage, Stored};
use confide_store::ingest::WaIdentity;
use confide_store::scratch::ScratchDatabase;
use confide_store::{Store, StoreOptions};
use meta_sim::payloads::{PayloadSpec, SignedPayload, generate};
use secrecy::SecretString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// Webhook changes to send (messages and statuses, duplicates included).
    #[arg(long, default_value_t = 200_000)]
    changes: usize,
    /// How changes are grouped into deliveries: `batches` (1 to --max-batch changes per POST,
    /// the shape of the 2026-11-23 figures) or `realistic` (90% single-change deliveries, 10%
    /// batches of five, 25% statuses of stored outbound messages, 5% repeated deliveries).
    #[arg(long, value_enum, default_value_t = Shape::Batches)]
    shape: Shape,
    /// With `--shape batches`: each POST carries 1 to this many changes.
    #[arg(long, default_value_t = 50)]
    max_batch: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Distinct customers.
    #[arg(long, default_value_t = 5_000)]
    customers: usize,
    /// Run against PostgreSQL: a server URL whose user may create databases (a fresh database is
    /// created and dropped).
    #[arg(long)]
    postgres: Option<String>,
    /// Single-message webhooks posted one at a time after the load, for their latency.
    #[arg(long, default_value_t = 500)]
    single_messages: usize,
    /// The `confide` binary (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Server {
    pub(crate) fn spawn(mut cmd: Command) -> Result<Server, String> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    // One access-log line per request: parse only the lines that matter, so
                    // that the load generator's share of the (shared) CPU stays small.
                    if !(line.contains("\"public\"")
                        || line.contains("ERROR")
                        || line.contains("WARN"))
                    {
                        continue;
                    }
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                    if let Some(addr) = v["public"].as_str() {
                        let _ = tx.send(addr.to_string());
                    } else if v["level"] == "ERROR" || v["level"] == "WARN" {
                        eprintln!("  server: {line}");
                    }
                }
            });
        }
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(addr) => Ok(Server { child, addr }),
            Err(_) => {
                // Do not leave it running.
                let _ = child.kill();
                let _ = child.wait();
                Err("the server did not report its address".into())
            }
        }
    }

    pub(crate) fn stop(mut self) -> Result<(), String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Drop for Server {
    /// A run that fails half-way does not leave its server behind (after `stop`, a no-op).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Figures {
    load: LoadResult,
    cpu_seconds: f64,
    rss_mib: f64,
    peak_rss_mib: f64,
}

async fn measure(
    server: &Server,
    path: &str,
    payloads: Arc<Vec<SignedPayload>>,
    concurrency: usize,
) -> Result<Figures, String> {
    let pid = server.child.id();
    let cpu0 = procstat::cpu_seconds(pid).unwrap_or(0.0);
    let load = load::run(
        &format!("http://{}{path}", server.addr),
        payloads,
        concurrency,
    )
    .await?;
    let cpu1 = procstat::cpu_seconds(pid).unwrap_or(0.0);
    let (rss, peak) = procstat::rss_mib(pid).unwrap_or((0.0, 0.0));
    Ok(Figures {
        load,
        cpu_seconds: cpu1 - cpu0,
        rss_mib: rss,
        peak_rss_mib: peak,
    })
}

fn print(name: &str, f: &Figures) {
    let l = &f.load;
    println!(
        "{name:>8}: {:>9.0} changes/s  {:>9.0} requests/s  {:>6} requests  p50 {:>6.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  failures {}  server CPU {:>5.2} s ({:>3.0}% of one core)  RSS {:>5.1} MiB (peak {:.1})",
        l.changes_per_second(),
        l.requests_per_second(),
        l.requests,
        l.percentile(50.0),
        l.percentile(99.0),
        l.percentile(100.0),
        l.failures,
        f.cpu_seconds,
        100.0 * f.cpu_seconds / l.elapsed.as_secs_f64(),
        f.rss_mib,
        f.peak_rss_mib,
    );
}

/// Stores the outbound messages that the run's statuses refer to (sent before the run, from a
/// contact's open conversation), as the send path would have. Returns how many were stored.
async fn seed_outbound(
    store: &Store,
    tenant: TenantId,
    channel: ChannelId,
    outbound: &[Outbound],
    start_timestamp: i64,
) -> Result<usize, String> {
    let mut stored = 0;
    for chunk in outbound.chunks(500) {
        let mut scope = store.scope(tenant).await.map_err(|e| e.to_string())?;
        let who: Vec<WaIdentity> = chunk
            .iter()
            .map(|o| WaIdentity {
                user_id: Some(o.user_id.clone()),
                phone: o
                    .phone
                    .as_deref()
                    .and_then(|d| Phone::parse(&format!("+{d}")).ok()),
                ..WaIdentity::default()
            })
            .collect();
        let senders = scope
            .resolve_wa_senders(channel, &who)
            .await
            .map_err(|e| format!("storing outbound messages: {e}"))?;
        let items = chunk
            .iter()
            .zip(senders)
            .map(|(o, (_, conversation))| {
                (
                    conversation,
                    NewMessage {
                        direction: Direction::Outbound,
                        wamid: Some(o.wamid.clone()),
                        kind: "text".into(),
                        body: serde_json::json!({"body": "Your order has shipped."}),
                        status: "accepted".into(),
                        at_micros: (start_timestamp - 3_600) * 1_000_000,
                    },
                )
            })
            .collect();
        let done = scope
            .insert_messages(items)
            .await
            .map_err(|e| format!("storing outbound messages: {e}"))?;
        scope.commit().await.map_err(|e| e.to_string())?;
        stored += done
            .iter()
            .filter(|s| matches!(s, Stored::Inserted(_)))
            .count();
    }
    Ok(stored)
}

/// The `confide` binary the benchmarks start: `--server-bin`, or the one next to this binary.
pub(crate) fn server_bin(given: Option<PathBuf>) -> Result<PathBuf, String> {
    let server_bin = match given {
        Some(p) => p,
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("confide"),
    };
    if !server_bin.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release -p confide`",
            server_bin.display()
        ));
    }
    Ok(server_bin)
}

pub async fn run(args: Args) -> Result<(), String> {
    let server_bin = server_bin(args.server_bin)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let keyring = Keyring::generate(&SystemClock, &OsEntropy);
    let keyring_json = keyring.to_json().map_err(|e| e.to_string())?.to_string();
    let (url, pg) = match &args.postgres {
        Some(admin) => {
            let db = ScratchDatabase::create(admin, "confide_bench")
                .await
                .map_err(|e| format!("cannot create the benchmark database: {e}"))?;
            (db.url.clone(), Some(db))
        }
        None => (
            format!("sqlite://{}/confide.db", dir.path().display()),
            None,
        ),
    };
    let spec = PayloadSpec {
        seed: 7,
        customers: args.customers,
        changes: args.changes,
        max_batch: args.max_batch,
        ..PayloadSpec::default()
    };

    // The tenant and channel the payloads are addressed to.
    let (store, tenant, channel) =
        seed_channel(&url, keyring, "Bench", "bench@example.com", &spec).await?;

    match args.shape {
        Shape::Batches => eprintln!(
            "generating {} changes in batches of 1..={} …",
            args.changes, args.max_batch
        ),
        Shape::Realistic => eprintln!(
            "generating {} changes, mostly one per delivery …",
            args.changes
        ),
    }
    let workload = shape::build(args.shape, &spec)?;
    let (singles, batches) = workload.singles_and_batches();
    let repeats = workload.repeated_deliveries;
    let recipients = workload
        .outbound
        .iter()
        .map(|o| o.user_id.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    // The outbound messages the statuses are about were sent before the run.
    let seeded = seed_outbound(
        &store,
        tenant,
        channel.id,
        &workload.outbound,
        spec.start_timestamp,
    )
    .await?;
    store.close().await;

    let payloads = Arc::new(workload.deliveries);
    let expected_messages: usize = payloads.iter().map(|p| p.messages).sum::<usize>() + seeded;
    let expected_statuses: usize = payloads.iter().map(|p| p.statuses).sum();
    let duplicates: usize = payloads.iter().map(|p| p.duplicates).sum();
    let bytes: usize = payloads.iter().map(|p| p.body.len()).sum();
    println!(
        "workload: shape {}, {} POSTs ({} of one change, {} of more; {} repeated byte for byte), {} changes ({} messages, {} statuses, {} duplicates), {} outbound messages to {} customers stored before the run, {:.1} MiB, {} connections, database {}",
        args.shape.name(),
        payloads.len(),
        singles,
        batches,
        repeats,
        args.changes,
        expected_messages - seeded,
        expected_statuses,
        duplicates,
        seeded,
        recipients,
        bytes as f64 / 1048576.0,
        args.concurrency,
        if pg.is_some() { "postgres" } else { "sqlite" }
    );

    let mut cmd = Command::new(&server_bin);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
    ])
    .current_dir(dir.path())
    .env("CONFIDE_DATABASE_URL", &url)
    .env("CONFIDE_KEYRING", &keyring_json)
    .env("CONFIDE_LOG__FORMAT", "json")
    .env("CONFIDE_LOG__LEVEL", "confide=info,warn");
    let server = Server::spawn(cmd)?;
    let path = format!("/webhooks/whatsapp/{}", channel.id);
    let confide = measure(&server, &path, payloads.clone(), args.concurrency).await?;
    // Then single-message webhooks one at a time (the budget's "a single-message webhook").
    let singles = Arc::new(generate(PayloadSpec {
        seed: 8,
        changes: args.single_messages,
        max_batch: 1,
        status_fraction: 0.0,
        duplicate_fraction: 0.0,
        ..spec.clone()
    }));
    let expected_messages = expected_messages + singles.iter().map(|p| p.messages).sum::<usize>();
    let single = load::run(&format!("http://{}{path}", server.addr), singles, 1).await?;
    server.stop()?;

    // Everything acknowledged is stored, exactly once.
    let store = Store::open(
        &StoreOptions::new(url.clone()),
        Keyring::from_json(&keyring_json).map_err(|e| e.to_string())?,
        None,
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut scope = store.read_scope(tenant).await.map_err(|e| e.to_string())?;
    let stored_messages = scope
        .count_rows("messages")
        .await
        .map_err(|e| e.to_string())?;
    let stored_statuses = scope
        .count_rows("message_statuses")
        .await
        .map_err(|e| e.to_string())?;
    drop(scope);
    store.close().await;

    let bare = Server::spawn({
        let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
        c.arg("bare-server");
        c
    })?;
    let baseline = measure(&bare, &path, payloads, args.concurrency).await?;
    bare.stop()?;

    println!();
    print("confide", &confide);
    print("bare", &baseline);
    println!(
        "   ratio: confide reaches {:.1}% of the bare endpoint's requests/s ({:.0} / {:.0})",
        100.0 * confide.load.requests_per_second() / baseline.load.requests_per_second(),
        confide.load.requests_per_second(),
        baseline.load.requests_per_second(),
    );
    println!(
        "  single: {} single-message webhooks one at a time: p50 {:.2} ms  p99 {:.2} ms  failures {}",
        single.requests,
        single.percentile(50.0),
        single.percentile(99.0),
        single.failures
    );
    println!(
        "  stored: {stored_messages} messages (expected {expected_messages}), {stored_statuses} statuses (expected {expected_statuses}); failures {}",
        confide.load.failures
    );
    if let Some(db) = pg {
        db.remove().await.map_err(|e| e.to_string())?;
    }
    if confide.load.failures + single.failures == 0
        && (stored_messages as usize != expected_messages
            || stored_statuses as usize != expected_statuses)
    {
        return Err("stored rows do not match what was acknowledged".into());
    }
    Ok(())
}

/// Opens the store at `url` and creates one tenant with one channel, the one the payloads of
/// `spec` are addressed to (signed with its app secret).
pub(crate) async fn seed_channel(
    url: &str,
    keyring: Keyring,
    tenant_name: &str,
    owner_email: &str,
    spec: &PayloadSpec,
) -> Result<
    (
        Store,
        confide_core::ids::TenantId,
        confide_store::channels::Channel,
    ),
    String,
> {
    let store = Store::open(
        &StoreOptions::new(url.to_string()),
        keyring,
        None,
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .await
    .map_err(|e| format!("database: {e}"))?;
    let email = Email::parse(owner_email).map_err(|e| e.to_string())?;
    let tenant = store
        .create_tenant(tenant_name, &email, "$argon2id$unused", Actor::Cli)
        .await
        .map_err(|e| e.to_string())?
        .tenant_id;
    let mut scope = store.scope(tenant).await.map_err(|e| e.to_string())?;
    let channel = scope
        .create_channel(
            NewChannel {
                phone_number_id: spec.phone_number_id.clone(),
                waba_id: spec.waba_id.clone(),
                display_phone_number: spec.display_phone_number.clone(),
                access_token: SecretString::from("bench-token"),
                app_secret: SecretString::from(spec.app_secret.clone()),
                verify_token: SecretString::from("bench-verify"),
                graph_base_url: "http://127.0.0.1:9".into(),
            },
            Actor::Cli,
        )
        .await
        .map_err(|e| e.to_string())?;
    scope.commit().await.map_err(|e| e.to_string())?;
    Ok((store, tenant, channel))
}
