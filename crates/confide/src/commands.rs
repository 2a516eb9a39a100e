//! What each command does.

use crate::Failure;
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::ids::TenantId;
use confide_crypto::keyring::Keyring;
use confide_server::Config;
use confide_server::startup::{Application, Deps, Opener, open_store, store_options};
use confide_store::audit::Verification;
use confide_store::{Backend, Store};
use serde_json::json;

pub async fn serve(mut config: Config, demo: bool) -> Result<(), Failure> {
    // The demo may listen in plain HTTP anywhere (it holds no real data).
    config.demo = demo;
    let started = std::time::Instant::now();
    let where_ = config.describe();
    let deps = Deps::default();
    let app = Application::build(config.clone(), deps.clone())
        .await
        .map_err(|e| Failure::config(e.0))?;
    tracing::info!(
        public = %app.public_addr(),
        admin = %app.admin_addr(),
        startup_ms = started.elapsed().as_millis() as u64,
        "confide is ready: {where_}"
    );
    let demo = match demo {
        true => Some(crate::demo::seed(&app, &config, &deps).await?),
        false => None,
    };
    let public = app.public_addr();
    let server = tokio::spawn(app.run_until(shutdown_signal()));
    if let Some(d) = &demo {
        let n = crate::demo::customers_write_in(d)?;
        // The sign-in goes to stdout, like `tenant create`'s: a password never enters the logs.
        let login = match &d.password {
            Some(p) => format!(
                "{} with the one-time password {p} (change it at first sign-in)",
                crate::demo::DEMO_OWNER
            ),
            None => format!(
                "{} (password from the first demo run; `confide user reset-password` issues a new one)",
                crate::demo::DEMO_OWNER
            ),
        };
        println!("Confide demo: sign in at http://{public} as {login}");
        if let Some(key) = &d.api_key {
            println!(
                "Confide demo: an API key for the inbox (role agent; shown only now): {key}\n  \
                 try: curl -H 'authorization: Bearer {key}' http://{public}/api/v1/conversations"
            );
        }
        tracing::info!(
            tenant = %d.tenant,
            simulator = %d.sim.base_url(),
            messages = n,
            "demo ready at http://{public}: {n} customer messages are arriving from the simulated WhatsApp (sign-in on stdout)"
        );
    }
    let result = server.await.map_err(|e| Failure::failed(e.to_string()))?;
    drop(demo);
    result.map_err(|e| Failure::failed(e.0))
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = term => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn migrate(config: &Config) -> Result<(), Failure> {
    let options = store_options(config);
    let backend = Backend::from_url(&options.url)
        .map_err(|e| Failure::config(format!("database_url: {e}")))?;
    confide_store::migrate::run(&options, backend)
        .await
        .map_err(|e| Failure::failed(format!("migrate: {e}")))?;
    eprintln!("migrations applied ({})", backend.name());
    Ok(())
}

fn keyring_file_only(config: &Config) -> Result<(), Failure> {
    if config.keyring.is_some() {
        return Err(Failure::config(
            "the keyring is given inline (CONFIDE_KEYRING); keys commands manage the keyring_path file",
        ));
    }
    Ok(())
}

pub fn keys_init(config: &Config) -> Result<(), Failure> {
    keyring_file_only(config)?;
    let deps = Deps::default();
    let ring = Keyring::generate(deps.clock.as_ref(), deps.entropy.as_ref());
    ring.create_new(&config.keyring_path)
        .map_err(|e| Failure::failed(format!("keyring_path: {e}")))?;
    eprintln!(
        "created keyring {} with key-encryption key {}",
        config.keyring_path.display(),
        ring.primary_kek_id()
    );
    Ok(())
}

async fn store_for_cli(config: &Config) -> Result<Store, Failure> {
    open_store(config, &Deps::default(), Opener::Cli)
        .await
        .map_err(|e| Failure::config(e.0))
}

pub async fn keys_rotate(config: &Config) -> Result<(), Failure> {
    keyring_file_only(config)?;
    let deps = Deps::default();
    let path = &config.keyring_path;
    let mut ring =
        Keyring::load(path).map_err(|e| Failure::config(format!("keyring_path: {e}")))?;
    let old: Vec<String> = ring.status().into_iter().map(|k| k.id).collect();
    let new_id = ring.rotate(deps.clock.as_ref(), deps.entropy.as_ref());
    // Save first: from now on every process that reloads the file can unwrap both old and new.
    ring.save(path)
        .map_err(|e| Failure::failed(format!("keyring_path: {e}")))?;
    eprintln!("added key-encryption key {new_id}; rewrapping tenant keys…");
    let store = store_for_cli(config).await?;
    let n = store
        .rewrap_all_keys()
        .await
        .map_err(|e| Failure::failed(format!("rewrap: {e}")))?;
    store.close().await;
    eprintln!("rewrapped {n} tenant keys under {new_id}.");
    eprintln!(
        "once every running server has used the new key, retire the old one(s): {}",
        old.join(", ")
    );
    eprintln!("  confide keys retire <id>");
    Ok(())
}

pub async fn keys_status(config: &Config, as_json: bool) -> Result<(), Failure> {
    let deps = Deps::default();
    let (ring, _) =
        confide_app::keyring::load(config, false, deps.clock.as_ref(), deps.entropy.as_ref())
            .map_err(Failure::config)?;
    let usage = match store_for_cli(config).await {
        Ok(store) => {
            let u = store
                .kek_usage()
                .await
                .map_err(|e| Failure::failed(e.to_string()))?;
            store.close().await;
            Some(u)
        }
        Err(f) => {
            eprintln!("(database not reachable, usage unknown: {})", f.message);
            None
        }
    };
    let now = deps.clock.now();
    let rows: Vec<serde_json::Value> = ring
        .status()
        .into_iter()
        .map(|k| {
            let wraps = usage.as_ref().map(|u| u.iter().find(|x| x.kek_id == k.id).map(|x| x.wrapped_keys).unwrap_or(0));
            json!({
                "id": k.id,
                "primary": k.primary,
                "created_at": k.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "age_days": (now - k.created_at).whole_days(),
                "wrapped_tenant_keys": wraps,
            })
        })
        .collect();
    if as_json {
        println!("{}", json!({"keks": rows}));
    } else {
        for r in rows {
            println!(
                "{}{}  created {}  ({} days)  wraps {} tenant keys",
                r["id"].as_str().unwrap_or_default(),
                if r["primary"] == true {
                    " (primary)"
                } else {
                    ""
                },
                r["created_at"].as_str().unwrap_or_default(),
                r["age_days"],
                r["wrapped_tenant_keys"],
            );
        }
    }
    Ok(())
}

pub async fn keys_retire(config: &Config, kek_id: &str) -> Result<(), Failure> {
    keyring_file_only(config)?;
    let path = &config.keyring_path;
    let mut ring =
        Keyring::load(path).map_err(|e| Failure::config(format!("keyring_path: {e}")))?;
    let store = store_for_cli(config).await?;
    let usage = store
        .kek_usage()
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    store.close().await;
    if let Some(u) = usage
        .iter()
        .find(|u| u.kek_id == kek_id && u.wrapped_keys > 0)
    {
        return Err(Failure::failed(format!(
            "{kek_id} still wraps {} tenant keys; run `confide keys rotate` first",
            u.wrapped_keys
        )));
    }
    ring.remove(kek_id)
        .map_err(|e| Failure::failed(e.to_string()))?;
    ring.save(path)
        .map_err(|e| Failure::failed(format!("keyring_path: {e}")))?;
    eprintln!("retired {kek_id}");
    Ok(())
}

pub async fn tenant_create(
    config: &Config,
    name: &str,
    owner_email: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let email = Email::parse(owner_email).map_err(|_| {
        Failure::config(format!(
            "--owner-email: {owner_email:?} is not an email address"
        ))
    })?;
    let store = store_for_cli(config).await?;
    let (password, hash) = confide_app::operator::one_time_password_hash(
        config,
        &store,
        Deps::default().entropy.as_ref(),
    )
    .map_err(Failure::failed)?;
    let created = store
        .create_tenant(name, &email, &hash, Actor::Cli)
        .await
        .map_err(|e| match e {
            confide_store::StoreError::Conflict(_) => {
                Failure::failed("a user with this email already exists")
            }
            e => Failure::failed(e.to_string()),
        })?;
    store.close().await;
    let out = json!({
        "tenant_id": created.tenant_id.to_string(),
        "owner_user_id": created.owner_user_id.to_string(),
        "owner_password": password,
    });
    if as_json {
        println!("{out}");
    } else {
        println!(
            "tenant {}\nowner {} ({})\none-time password {} (must be changed at first login)",
            out["tenant_id"].as_str().unwrap_or_default(),
            out["owner_user_id"].as_str().unwrap_or_default(),
            email,
            password
        );
    }
    Ok(())
}

pub async fn audit_verify(
    config: &Config,
    tenant: Option<&str>,
    as_json: bool,
) -> Result<(), Failure> {
    let store = store_for_cli(config).await?;
    let tenants: Vec<TenantId> = match tenant {
        Some(t) => vec![
            t.parse()
                .map_err(|_| Failure::config(format!("--tenant: {t:?} is not a tenant id")))?,
        ],
        None => store
            .list_tenants()
            .await
            .map_err(|e| Failure::failed(e.to_string()))?
            .into_iter()
            .filter_map(|t| t.id.parse().ok())
            .collect(),
    };
    let mut first_bad = None;
    let mut results = Vec::new();
    for t in tenants {
        let v = store
            .audit_verify(t)
            .await
            .map_err(|e| Failure::failed(format!("tenant {t}: {e}")))?;
        match &v {
            Verification::Intact { entries } => {
                results.push(json!({"tenant_id": t.to_string(), "ok": true, "entries": entries}));
                if !as_json {
                    println!("tenant {t}: {entries} entries, chain intact");
                }
            }
            Verification::Broken(b) => {
                results.push(json!({"tenant_id": t.to_string(), "ok": false, "first_bad_seq": b.seq(), "problem": b.to_string()}));
                if !as_json {
                    println!("tenant {t}: BROKEN: {b}");
                }
                if first_bad.is_none() {
                    first_bad = Some(format!("audit verify failed: tenant {t}: {b}"));
                }
            }
        }
    }
    store.close().await;
    if as_json {
        println!("{}", json!({"tenants": results}));
    }
    match first_bad {
        Some(msg) => Err(Failure::failed(msg)),
        None => Ok(()),
    }
}
