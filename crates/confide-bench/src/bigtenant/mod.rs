//! The big tenant (issues 10, 12, 14): one tenant with 100,000 contacts and 1,000,000 messages
//! (plus conversations, labels, assignments, open and resolved ones, delivery statuses, notes,
//! consent records), generated once into a data directory and reused by the `inbox`, `render`
//! and `export` benchmarks.
//!
//! The rows are real: the tenant and its owner come from `confide tenant create`, the API key
//! from `confide api-key create`, everything else from the store's own write paths
//! ([`write`]) with the same keyring the server is then started with, so the server reads and
//! decrypts all of it. The owner's one-time password is changed through the real API
//! (`POST /api/v1/session`, `POST /api/v1/me/password`), as a person's first sign-in does.
//!
//! The data directory holds `keyring.json`, `confide.db` (SQLite) and `tenant.json` (what the
//! benchmarks need: ids, the API key, the owner's password, sample phones and conversations).
//! `tenant.json` is written last: a directory without it is an unfinished run and is
//! generated again. On PostgreSQL the database (named in `tenant.json`) stays on the server
//! until `--regenerate` drops it.

pub mod plan;
mod write;

use crate::ingest::Server;
use confide_core::audit::Actor;
use confide_core::clock::{ManualClock, SystemClock, from_micros};
use confide_core::email::Email;
use confide_core::entropy::{OsEntropy, random_array};
use confide_core::ids::{ChannelId, TenantId, UserId};
use confide_crypto::keyring::Keyring;
use confide_store::channels::NewChannel;
use confide_store::scratch::ScratchDatabase;
use confide_store::users::NewUser;
use confide_store::{Store, StoreOptions};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which tenant, where; shared by the `bigtenant`, `inbox`, `render` and `export` commands.
#[derive(clap::Args, Clone)]
pub struct TenantArgs {
    /// Contacts in the generated tenant.
    #[arg(long, default_value_t = 100_000)]
    pub contacts: usize,
    /// Messages in the generated tenant.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Use PostgreSQL: a server URL whose user may create databases (the tenant's database is
    /// created there and kept for later runs).
    #[arg(long)]
    pub postgres: Option<String>,
    /// The data directory (default: `bigtenant-<engine>-<contacts>-<messages>` here). A finished
    /// one is reused.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Generate again even when the data directory holds a finished tenant.
    #[arg(long)]
    pub regenerate: bool,
    /// The plan's seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The `confide` binary (default: next to this one).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
}

/// A generated tenant, as `tenant.json` describes it.
pub struct BigTenant {
    pub dir: PathBuf,
    pub meta: Value,
    pub server_bin: PathBuf,
    keyring_json: String,
}

impl BigTenant {
    pub fn str(&self, key: &str) -> &str {
        self.meta[key].as_str().unwrap_or_default()
    }

    pub fn strings(&self, key: &str) -> Vec<String> {
        self.meta[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Starts `confide serve` on the tenant's database (per-address rate limits off: every
    /// request comes from loopback).
    pub fn serve(&self, extra_env: &[(&str, &str)]) -> Result<Server, String> {
        let run = self.dir.join("run");
        std::fs::create_dir_all(&run).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.server_bin);
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .current_dir(&run)
        .env("CONFIDE_DATABASE_URL", self.str("database_url"))
        .env("CONFIDE_KEYRING", &self.keyring_json)
        .env("CONFIDE_LOG__FORMAT", "json")
        .env("CONFIDE_LOG__LEVEL", "confide=info,warn")
        .env("CONFIDE_RATE_LIMITS__SIGN_IN_PER_ADDRESS", "0")
        .env("CONFIDE_RATE_LIMITS__API_PER_ADDRESS", "0")
        .env("CONFIDE_BANS__THRESHOLD", "0");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        Server::spawn(cmd)
    }
}

fn server_bin(args: &TenantArgs) -> Result<PathBuf, String> {
    let bin = match &args.server_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("confide"),
    };
    if !bin.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release -p confide`",
            bin.display()
        ));
    }
    Ok(bin)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tenant of `args`: the finished one in the data directory, else a new one.
pub async fn prepare(args: &TenantArgs) -> Result<BigTenant, String> {
    let server_bin = server_bin(args)?;
    let engine = if args.postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let dir = match &args.data {
        Some(d) => d.clone(),
        None => PathBuf::from(format!(
            "bigtenant-{engine}-{}-{}",
            args.contacts, args.messages
        )),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir.canonicalize().map_err(|e| e.to_string())?;
    let meta_path = dir.join("tenant.json");
    if !args.regenerate
        && let Ok(text) = std::fs::read_to_string(&meta_path)
    {
        let meta: Value = serde_json::from_str(&text).map_err(|e| format!("tenant.json: {e}"))?;
        let keyring_json =
            std::fs::read_to_string(dir.join("keyring.json")).map_err(|e| e.to_string())?;
        if meta["engine"] != engine
            || meta["contacts"] != json!(args.contacts)
            || meta["messages"] != json!(args.messages)
        {
            return Err(format!(
                "{} holds another tenant ({} contacts, {} messages on {}): pass another --data or --regenerate",
                dir.display(),
                meta["contacts"],
                meta["messages"],
                meta["engine"]
            ));
        }
        eprintln!(
            "reusing the tenant in {} ({} contacts, {} messages, {}; generated in {} s)",
            dir.display(),
            meta["contacts"],
            meta["messages"],
            engine,
            meta["generated_seconds"]
        );
        return Ok(BigTenant {
            dir,
            meta,
            server_bin,
            keyring_json,
        });
    }
    generate(args, &dir, engine, server_bin).await
}

/// Drops the database an earlier run of this directory left on PostgreSQL.
async fn drop_old_database(admin: &str, dir: &Path) -> Result<(), String> {
    use sqlx::{Connection, Executor};
    let Ok(text) = std::fs::read_to_string(dir.join("database.txt")) else {
        return Ok(());
    };
    let name = text.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    let mut c = sqlx::postgres::PgConnection::connect(admin)
        .await
        .map_err(|e| e.to_string())?;
    c.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await
    .map_err(|e| e.to_string())?;
    eprintln!("dropped the earlier database {name}");
    Ok(())
}

/// Runs the `confide` CLI on the tenant's database; its JSON output.
fn cli(bin: &Path, url: &str, keyring: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(bin)
        .args(args)
        .env("CONFIDE_DATABASE_URL", url)
        .env("CONFIDE_KEYRING", keyring)
        .env("CONFIDE_LOG__LEVEL", "warn")
        .output()
        .map_err(|e| format!("confide {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "confide {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| format!("confide {}: {e}: {text}", args[0]))
}

async fn generate(
    args: &TenantArgs,
    dir: &Path,
    engine: &str,
    server_bin: PathBuf,
) -> Result<BigTenant, String> {
    let started = Instant::now();
    let _ = std::fs::remove_file(dir.join("tenant.json"));
    let url = match &args.postgres {
        Some(admin) => {
            drop_old_database(admin, dir).await?;
            let db = ScratchDatabase::create(admin, "confide_bigtenant")
                .await
                .map_err(|e| format!("cannot create the database: {e}"))?;
            std::fs::write(dir.join("database.txt"), db.name()).map_err(|e| e.to_string())?;
            let url = db.url.clone();
            // Kept for later runs: not dropped with the value (`--regenerate` drops it).
            std::mem::forget(db);
            url
        }
        None => {
            for f in ["confide.db", "confide.db-wal", "confide.db-shm"] {
                let _ = std::fs::remove_file(dir.join(f));
            }
            format!("sqlite://{}/confide.db", dir.display())
        }
    };
    let keyring = Keyring::generate(&SystemClock, &OsEntropy);
    let keyring_json = keyring.to_json().map_err(|e| e.to_string())?.to_string();
    write_private(&dir.join("keyring.json"), &keyring_json)?;

    eprintln!(
        "generating {} contacts and {} messages on {engine} into {} …",
        args.contacts,
        args.messages,
        dir.display()
    );
    let owner_email = "owner@bigtenant.example";
    let created = cli(
        &server_bin,
        &url,
        &keyring_json,
        &[
            "tenant",
            "create",
            "--name",
            "Big tenant",
            "--owner-email",
            owner_email,
            "--json",
        ],
    )?;
    let tenant: TenantId = created["tenant_id"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .ok_or("tenant create: no tenant id")?;
    let owner: UserId = created["owner_user_id"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .ok_or("tenant create: no owner id")?;
    let one_time = created["owner_password"]
        .as_str()
        .ok_or("tenant create: no password")?
        .to_string();

    let now = confide_core::clock::Clock::now_micros(&SystemClock);
    let clock = Arc::new(ManualClock::new(from_micros(now - 366 * plan::DAY)));
    let store = Store::open(
        &StoreOptions::new(url.clone()),
        keyring,
        None,
        clock.clone(),
        Arc::new(OsEntropy),
    )
    .await
    .map_err(|e| format!("database: {e}"))?;
    let (channel, agents) = channel_and_agents(&store, tenant, owner).await?;
    let plan_started = Instant::now();
    let p = plan::plan(args.seed, args.contacts, args.messages, agents.len(), now);
    eprintln!(
        "plan: {} contacts, {} conversations ({} long), {} messages ({:.1} s)",
        p.contacts.len(),
        p.conversations,
        p.long_conversations,
        p.messages,
        plan_started.elapsed().as_secs_f64()
    );
    let target = write::Target {
        store: &store,
        clock: &clock,
        tenant,
        channel,
        agents: &agents,
    };
    let written = write::write(&target, &p).await?;
    if args.postgres.is_some() {
        // What autovacuum would soon do for a table that grew this much.
        use sqlx::{Connection, Executor};
        let mut c = sqlx::postgres::PgConnection::connect(&url)
            .await
            .map_err(|e| e.to_string())?;
        c.execute("ANALYZE").await.map_err(|e| e.to_string())?;
    }
    store.close().await;
    let write_seconds = started.elapsed().as_secs_f64();

    let key = cli(
        &server_bin,
        &url,
        &keyring_json,
        &[
            "api-key",
            "create",
            "--tenant",
            &tenant.to_string(),
            "--role",
            "owner",
            "--name",
            "bench",
            "--json",
        ],
    )?;
    let mut meta = json!({
        "engine": engine,
        "contacts": args.contacts,
        "messages": args.messages,
        "conversations": p.conversations,
        "seed": args.seed,
        "database_url": url,
        "tenant_id": tenant.to_string(),
        "channel_id": channel.to_string(),
        "owner_user_id": owner.to_string(),
        "owner_email": owner_email,
        "api_key": key["key"],
        "agents": agents.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "labels": plan::LABELS.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        "sample_phones": p.contacts.iter().step_by((p.contacts.len() / 500).max(1)).map(|c| c.phone.clone()).collect::<Vec<_>>(),
        "sample_names": p.contacts.iter().step_by((p.contacts.len() / 500).max(1)).map(|c| c.name.clone()).collect::<Vec<_>>(),
        "sample_conversations": written.sample.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "long_conversations": written.long.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
    });
    let mut bt = BigTenant {
        dir: dir.to_path_buf(),
        meta: meta.clone(),
        server_bin,
        keyring_json,
    };
    let password = first_sign_in(&bt, owner_email, &one_time).await?;
    meta["owner_password"] = json!(password);
    meta["generated_seconds"] = json!((write_seconds * 10.0).round() / 10.0);
    bt.meta = meta;
    write_private(
        &dir.join("tenant.json"),
        &serde_json::to_string_pretty(&bt.meta).map_err(|e| e.to_string())?,
    )?;
    eprintln!(
        "generated in {:.1} s (writing {:.1} s); tenant {tenant}",
        started.elapsed().as_secs_f64(),
        write_seconds
    );
    Ok(bt)
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

/// The tenant's channel and team: the owner first, then four agents (who never sign in).
async fn channel_and_agents(
    store: &Store,
    tenant: TenantId,
    owner: UserId,
) -> Result<(ChannelId, Vec<UserId>), String> {
    let e = |e: confide_store::StoreError| e.to_string();
    let mut s = store.scope(tenant).await.map_err(e)?;
    let channel = s
        .create_channel(
            NewChannel {
                phone_number_id: "100200300400500".into(),
                waba_id: "900800700600500".into(),
                display_phone_number: "+1 650-555-0100".into(),
                access_token: SecretString::from("bigtenant-token"),
                app_secret: SecretString::from("bigtenant-app-secret"),
                verify_token: SecretString::from("bigtenant-verify"),
                graph_base_url: "http://127.0.0.1:9".into(),
            },
            Actor::Cli,
        )
        .await
        .map_err(e)?;
    let agent_role = s.roles().by_name("agent").await.map_err(e)?;
    let mut agents = vec![owner];
    for i in 1..=4 {
        let email =
            Email::parse(&format!("agent{i}@bigtenant.example")).map_err(|e| e.to_string())?;
        let id = s
            .users()
            .create(
                NewUser {
                    email,
                    role_id: agent_role.id,
                    // Never signs in: no password matches this.
                    password_hash: "$argon2id$unused".into(),
                    must_change_password: true,
                },
                Actor::Cli,
            )
            .await
            .map_err(e)?;
        agents.push(id);
    }
    s.commit().await.map_err(e)?;
    Ok((channel.id, agents))
}

/// Signs in with the one-time password and changes it, through the API; the new password.
async fn first_sign_in(t: &BigTenant, email: &str, one_time: &str) -> Result<String, String> {
    let server = t.serve(&[])?;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let session = sign_in(&client, &base, email, one_time).await?;
    let password = format!("Bench-{}", hex(&random_array::<12>(&OsEntropy)));
    let r = client
        .post(format!("{base}/api/v1/me/password"))
        .header("origin", &base)
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("content-type", "application/json")
        .body(json!({"current_password": one_time, "new_password": password}).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        return Err(format!("changing the owner's password: {status} {body}"));
    }
    server.stop()?;
    Ok(password)
}

/// A signed-in session: the cookie header value and its CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// `POST /api/v1/session`, as the sign-in page's script sends it.
pub async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<Session, String> {
    let r = client
        .post(format!("{base}/api/v1/session"))
        .header("origin", base)
        .header("content-type", "application/json")
        .body(json!({"email": email, "password": password}).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("confide_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    let body: Value = r.json().await.unwrap_or_default();
    match (status.is_success(), cookie) {
        (true, Some(cookie)) => Ok(Session {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap_or_default().to_string(),
        }),
        _ => Err(format!("sign-in as {email}: {status} {body}")),
    }
}
