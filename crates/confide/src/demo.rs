//! `confide serve --demo`: the server plus Meta's API simulated in-process, a demo tenant with a
//! WhatsApp channel wired to the simulator, and customers writing in, so the product can be tried
//! with nothing else installed. A second run reuses the demo tenant (its password stays what it
//! was; `confide user reset-password` issues a new one).

use crate::Failure;
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::entropy::random_array;
use confide_core::ids::TenantId;
use confide_server::Config;
use confide_server::startup::{Application, Deps};
use confide_store::Store;
use confide_store::channels::{ChannelPatch, NewChannel};
use meta_sim::{Mix, NumberConfig, Script, Sim, SimConfig, SimHandle, WebhookConfig};
use secrecy::{ExposeSecret, SecretString};

pub const DEMO_TENANT: &str = "Demo";
pub const DEMO_OWNER: &str = "demo@confide.local";
const DEMO_PNID: &str = "106540352242922";
const DEMO_WABA: &str = "102290129340398";

/// What the demo set up.
pub struct Demo {
    pub sim: SimHandle,
    pub tenant: TenantId,
    /// The owner's one-time password when the tenant was created by this run.
    pub password: Option<String>,
    /// An API key with the `agent` role, when the tenant was created by this run.
    pub api_key: Option<String>,
}

/// Sets up (or reuses) the demo tenant and channel against a fresh simulator, and has customers
/// write in through signed webhooks to `public`.
pub async fn seed(app: &Application, config: &Config, deps: &Deps) -> Result<Demo, Failure> {
    let store = app.state().operator_store().clone();
    let existing = store
        .list_tenants()
        .await
        .map_err(|e| Failure::failed(e.to_string()))?
        .into_iter()
        .find(|t| t.name == DEMO_TENANT)
        .and_then(|t| t.id.parse::<TenantId>().ok());
    let (tenant, password, api_key) = match existing {
        Some(t) => (t, None, None),
        None => {
            let (password, hash) = confide_app::operator::one_time_password_hash(
                config,
                &store,
                deps.entropy.as_ref(),
            )
            .map_err(Failure::failed)?;
            let email = Email::parse(DEMO_OWNER).map_err(|_| Failure::failed("demo email"))?;
            let created = store
                .create_tenant(DEMO_TENANT, &email, &hash, Actor::Cli)
                .await
                .map_err(|e| Failure::failed(format!("demo tenant: {e}")))?;
            let key = demo_api_key(&store, created.tenant_id, deps).await?;
            (created.tenant_id, Some(password), Some(key))
        }
    };
    let (channel, secret) = demo_channel(&store, tenant, deps).await?;
    let callback = format!("http://{}/webhooks/whatsapp/{channel}", app.public_addr());
    let number = NumberConfig::new(
        DEMO_PNID,
        "15550783881",
        DEMO_WABA,
        "demo-access-token",
        secret.expose_secret(),
    )
    .with_callback(&callback);
    let sim_config = SimConfig {
        seed: 2026,
        numbers: vec![number],
        webhooks: WebhookConfig::fast(),
        ..SimConfig::default()
    };
    let sim = Sim::start(sim_config, deps.clock.clone())
        .await
        .map_err(|e| Failure::failed(format!("simulator: {e}")))?;
    // The simulator's port is known only now: list its loopback origin in the egress guard (and
    // so as an allowed Graph origin), as an operator lists one in `graph_allowed_origins`.
    app.state()
        .egress
        .list_local_simulator(sim.base_url())
        .map_err(|e| Failure::failed(format!("simulator: {e}")))?;
    let mut scope = store
        .scope(tenant)
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    let patch = ChannelPatch {
        graph_base_url: Some(sim.base_url().to_string()),
        ..ChannelPatch::default()
    };
    scope
        .update_channel(channel, patch, Actor::Cli)
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    scope
        .commit()
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    app.state().channels.invalidate(channel);
    // As for any channel pointed at a Graph API: its token is checked in the background.
    app.state().health.check_in_background(tenant, channel);
    Ok(Demo {
        sim,
        tenant,
        password,
        api_key,
    })
}

/// An API key with the built-in `agent` role, to try the inbox API without signing in.
async fn demo_api_key(store: &Store, tenant: TenantId, deps: &Deps) -> Result<String, Failure> {
    let failed = |e: confide_store::StoreError| Failure::failed(format!("demo API key: {e}"));
    let mut s = store.scope(tenant).await.map_err(failed)?;
    let role = s.roles().by_name("agent").await.map_err(failed)?;
    let token = confide_app::identity::secrets::api_key(deps.entropy.as_ref());
    s.api_keys()
        .create("demo", role.id, &token.hash(), Actor::Cli)
        .await
        .map_err(failed)?;
    s.commit().await.map_err(failed)?;
    Ok(token.as_str().to_string())
}

/// Customers write in (signed webhooks, delivered by the simulator in the background).
pub fn customers_write_in(demo: &Demo) -> Result<usize, Failure> {
    let script = Script {
        seed: 7,
        customers: 8,
        messages: 40,
        mix: Mix::default(),
    };
    demo.sim
        .run_script(DEMO_PNID, &script)
        .map(|w| w.len())
        .map_err(|e| Failure::failed(format!("simulator: {e}")))
}

/// The demo channel and its app secret (created with a random secret on the first run).
async fn demo_channel(
    store: &Store,
    tenant: TenantId,
    deps: &Deps,
) -> Result<(confide_core::ids::ChannelId, SecretString), Failure> {
    let fail = |e: confide_store::StoreError| Failure::failed(format!("demo channel: {e}"));
    let mut scope = store.scope(tenant).await.map_err(fail)?;
    let found = scope
        .list_channels()
        .await
        .map_err(fail)?
        .into_iter()
        .find(|c| c.phone_number_id == DEMO_PNID);
    let channel = match found {
        Some(c) => c.id,
        None => {
            let secret = hex::encode(random_array::<24>(deps.entropy.as_ref()));
            let verify = hex::encode(random_array::<12>(deps.entropy.as_ref()));
            let new = NewChannel {
                phone_number_id: DEMO_PNID.into(),
                waba_id: DEMO_WABA.into(),
                display_phone_number: "+1 555 078 3881".into(),
                access_token: SecretString::from("demo-access-token"),
                app_secret: SecretString::from(secret),
                verify_token: SecretString::from(verify),
                graph_base_url: "http://127.0.0.1:9".into(),
            };
            scope
                .create_channel(new, Actor::Cli)
                .await
                .map_err(fail)?
                .id
        }
    };
    let secret = scope
        .channel_secrets(channel)
        .await
        .map_err(fail)?
        .app_secret;
    scope.commit().await.map_err(fail)?;
    Ok((channel, secret))
}
