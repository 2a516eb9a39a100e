//! Identity commands: `api-key create`, `user reset-password` (the reset path after a sign-in
//! lock), `platform-admin create`.

use crate::Failure;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::email::Email;
use confide_core::ids::TenantId;
use confide_server::Config;
use confide_server::startup::{Deps, Opener, open_store};
use confide_store::{Store, StoreError};
use serde_json::json;

async fn store(config: &Config) -> Result<Store, Failure> {
    open_store(config, &Deps::default(), Opener::Cli)
        .await
        .map_err(|e| Failure::config(e.0))
}

fn tenant_arg(t: &str) -> Result<TenantId, Failure> {
    t.parse()
        .map_err(|_| Failure::config(format!("--tenant: {t:?} is not a tenant id")))
}

/// `confide api-key create --tenant T --role R --name N [--json]` → `{"id","key"}`; the key is
/// shown only here. R is a role name (`admin`) or id.
pub async fn api_key_create(
    config: &Config,
    tenant: &str,
    role: &str,
    name: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let tenant = tenant_arg(tenant)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Failure::config("--name: 1 to 100 characters"));
    }
    let deps = Deps::default();
    let store = store(config).await?;
    let mut s = store.scope(tenant).await.map_err(|e| match e {
        StoreError::NotFound => Failure::failed(format!("no tenant {tenant}")),
        e => Failure::failed(e.to_string()),
    })?;
    let found = match role.parse() {
        Ok(id) => s.roles().get(id).await,
        Err(_) => s.roles().by_name(role).await,
    };
    let role = found.map_err(|e| match e {
        StoreError::NotFound => Failure::failed(format!("no role {role:?} in tenant {tenant}")),
        e => Failure::failed(e.to_string()),
    })?;
    let token = confide_app::identity::secrets::api_key(deps.entropy.as_ref());
    let key = s
        .api_keys()
        .create(name, role.id, &token.hash(), Actor::Cli)
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    s.commit()
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    store.close().await;
    if as_json {
        println!(
            "{}",
            json!({"id": key.id.to_string(), "key": token.as_str()})
        );
    } else {
        println!(
            "API key {} (role {}): {}\nit is shown only now; store it as a secret",
            key.id,
            role.name,
            token.as_str()
        );
    }
    Ok(())
}

/// `confide user reset-password --tenant T --email E [--json]`: a new one-time password (must
/// be changed at first sign-in), every session of the user ended, and the account's sign-in
/// lock cleared. The reset path after the hard cap of failed sign-ins.
pub async fn user_reset_password(
    config: &Config,
    tenant: &str,
    email: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let tenant = tenant_arg(tenant)?;
    let email = Email::parse(email)
        .map_err(|_| Failure::config(format!("--email: {email:?} is not an email address")))?;
    let deps = Deps::default();
    let store = store(config).await?;
    let (lookup, found) = store
        .find_login(&email)
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    let user = match found {
        Some((t, u)) if t == tenant => u,
        _ => {
            return Err(Failure::failed(format!(
                "no user {email} in tenant {tenant}"
            )));
        }
    };
    let (password, hash) =
        confide_app::operator::one_time_password_hash(config, &store, deps.entropy.as_ref())
            .map_err(Failure::failed)?;
    let fail = |e: StoreError| Failure::failed(e.to_string());
    let mut s = store.scope(tenant).await.map_err(fail)?;
    s.users()
        .set_password_hash(user, &hash, true)
        .await
        .map_err(fail)?;
    let ended = s.sessions().end_all(user, None).await.map_err(fail)?;
    s.throttle_clear(&[confide_app::identity::throttle::account_key(&lookup)])
        .await
        .map_err(fail)?;
    s.audit(
        &AuditEvent::new(Actor::Cli, "user.password_reset", format!("user:{user}"))
            .with_details(json!({"sessions_ended": ended, "sign_in_lock_cleared": true})),
    )
    .await
    .map_err(fail)?;
    s.commit().await.map_err(fail)?;
    store.close().await;
    if as_json {
        println!(
            "{}",
            json!({"user_id": user.to_string(), "password": password})
        );
    } else {
        println!("user {user}: one-time password {password} (must be changed at first sign-in)");
    }
    Ok(())
}

/// `confide platform-admin create --email E [--json]` → `{"admin_id","password"}`.
pub async fn platform_admin_create(
    config: &Config,
    email: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let email = Email::parse(email)
        .map_err(|_| Failure::config(format!("--email: {email:?} is not an email address")))?;
    let deps = Deps::default();
    let store = store(config).await?;
    let (password, hash) =
        confide_app::operator::one_time_password_hash(config, &store, deps.entropy.as_ref())
            .map_err(Failure::failed)?;
    let id = store
        .create_platform_admin(&email, &hash)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                Failure::failed("a platform admin with this email already exists")
            }
            e => Failure::failed(e.to_string()),
        })?;
    store.close().await;
    if as_json {
        println!("{}", json!({"admin_id": id, "password": password}));
    } else {
        println!(
            "platform admin {id}: one-time password {password} (must be changed at first sign-in)"
        );
    }
    Ok(())
}
