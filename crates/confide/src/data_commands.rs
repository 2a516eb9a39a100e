//! Data rights and incident response from the command line: `tenant erase`, `incident revoke`,
//! `incident report` (the use cases are `confide_app::data`).

use crate::Failure;
use confide_app::media::store::MediaStore;
use confide_core::ids::TenantId;
use confide_server::Config;
use confide_server::startup::{Deps, Opener, open_store};
use serde_json::json;

fn tenant_id(t: &str) -> Result<TenantId, Failure> {
    t.parse()
        .map_err(|_| Failure::config(format!("--tenant: {t:?} is not a tenant id")))
}

fn app_failure(e: confide_app::AppError) -> Failure {
    match e.code {
        confide_app::Code::NotFound => Failure::failed("no such tenant"),
        _ => Failure::failed(e.message.to_string()),
    }
}

async fn store(config: &Config) -> Result<confide_store::Store, Failure> {
    open_store(config, &Deps::default(), Opener::Cli)
        .await
        .map_err(|e| Failure::config(e.0))
}

/// `confide tenant erase --tenant T --yes`: destroys the tenant's keys, then its rows and media.
pub async fn tenant_erase(config: &Config, tenant: &str, yes: bool) -> Result<(), Failure> {
    let tenant = tenant_id(tenant)?;
    if !yes {
        return Err(Failure::config(
            "erasing a tenant cannot be undone: add --yes to confirm",
        ));
    }
    let media =
        MediaStore::from_config(&config.media_url, &config.media).map_err(Failure::config)?;
    let store = store(config).await?;
    let erased = confide_app::data::erasure::erase_tenant(&store, &media, tenant)
        .await
        .map_err(app_failure)?;
    store.close().await;
    let rows: u64 = erased.rows.iter().map(|(_, n)| n).sum();
    eprintln!(
        "tenant {tenant} erased: {} keys destroyed, then {rows} rows and its media deleted (its audit log stays)",
        erased.keys
    );
    println!(
        "{}",
        json!({"tenant_id": tenant.to_string(), "keys_destroyed": erased.keys, "rows_deleted": rows})
    );
    Ok(())
}

/// `confide incident revoke --tenant T`.
pub async fn incident_revoke(config: &Config, tenant: &str, as_json: bool) -> Result<(), Failure> {
    let tenant = tenant_id(tenant)?;
    let store = store(config).await?;
    let r = confide_app::data::incident::revoke(&store, tenant)
        .await
        .map_err(app_failure)?;
    store.close().await;
    if as_json {
        println!("{}", json!(r));
    } else {
        println!(
            "tenant {tenant}: ended {} sessions and {} support sessions, revoked {} API keys and {} support grants; {} channels must get new secrets (access token, app secret, verify token)",
            r.sessions, r.support_sessions, r.api_keys, r.support_grants, r.channels_to_rotate
        );
    }
    Ok(())
}

fn instant(flag: &str, s: &str) -> Result<i64, Failure> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            Failure::config(format!(
                "{flag}: {s:?} is not an RFC 3339 time such as 2026-05-01T00:00:00Z"
            ))
        })?;
    i64::try_from(t.unix_timestamp_nanos() / 1000)
        .map_err(|_| Failure::config(format!("{flag}: out of range")))
}

/// `confide incident report --tenant T --since S --until U [--json]`.
pub async fn incident_report(
    config: &Config,
    tenant: &str,
    since: &str,
    until: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let tenant = tenant_id(tenant)?;
    let (since, until) = (instant("--since", since)?, instant("--until", until)?);
    if since >= until {
        return Err(Failure::config("--since must be before --until"));
    }
    let store = store(config).await?;
    let r = confide_app::data::incident::report(&store, tenant, since, until)
        .await
        .map_err(app_failure)?;
    store.close().await;
    if as_json {
        println!("{}", json!(r));
        return Ok(());
    }
    println!(
        "tenant {} from {} until {}: {} audit entries",
        r.tenant_id,
        r.since,
        r.until,
        r.events.len()
    );
    for (actor, actions) in &r.actors {
        let list: Vec<String> = actions.iter().map(|(a, n)| format!("{a} ×{n}")).collect();
        println!("  {actor}: {}", list.join(", "));
    }
    println!(
        "contacts affected: {}{}",
        r.contacts_affected.len(),
        if r.contact_book_exported {
            " (and the whole contact book was exported)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `confide tenant settings --tenant T [--default-region R] [--retention-messages-days N]
/// [--retention-security-days M]`: shows, and with flags changes, a tenant's data settings
/// (0 days or an empty region clears one).
pub async fn tenant_settings(
    config: &Config,
    tenant: &str,
    region: Option<String>,
    messages_days: Option<i64>,
    security_days: Option<i64>,
) -> Result<(), Failure> {
    let tenant = tenant_id(tenant)?;
    let store = store(config).await?;
    let mut s = store.read_scope(tenant).await.map_err(|e| match e {
        confide_store::StoreError::NotFound => Failure::failed("no such tenant"),
        e => Failure::failed(e.to_string()),
    })?;
    let mut settings = s
        .data_settings()
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    drop(s);
    let changed = region.is_some() || messages_days.is_some() || security_days.is_some();
    if let Some(r) = region {
        let r = r.trim().to_ascii_uppercase();
        if !r.is_empty() && r.parse::<phonenumber::country::Id>().is_err() {
            return Err(Failure::config(format!(
                "--default-region: {r:?} is not a two-letter country code such as BR"
            )));
        }
        settings.default_region = (!r.is_empty()).then_some(r);
    }
    for (flag, value, slot) in [
        (
            "--retention-messages-days",
            messages_days,
            &mut settings.retention_messages_days,
        ),
        (
            "--retention-security-days",
            security_days,
            &mut settings.retention_security_days,
        ),
    ] {
        match value {
            Some(d) if d < 0 => return Err(Failure::config(format!("{flag} must be 0 or more"))),
            Some(0) => *slot = None,
            Some(d) => *slot = Some(d),
            None => {}
        }
    }
    if changed {
        confide_app::data::retention::set_data_settings(&store, tenant, settings.clone())
            .await
            .map_err(app_failure)?;
    }
    store.close().await;
    println!(
        "{}",
        json!({
            "tenant_id": tenant.to_string(),
            "default_region": settings.default_region,
            "retention_messages_days": settings.retention_messages_days,
            "retention_security_days": settings.retention_security_days,
        })
    );
    Ok(())
}
