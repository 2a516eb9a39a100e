//! [`App`]: everything a use case needs, opened once from the configuration, and the background
//! workers that run beside it (the ingest writer, the media fetcher, SQLite checkpoints, the
//! channel-change listener, the export worker).

use crate::config::Config;
use crate::error::{AppError, Code};
use crate::identity::AuthRuntime;
use crate::ingest::directory::ChannelDirectory;
use crate::ingest::writer::IngestQueue;
use crate::keyring;
use crate::media::fetcher::MediaFetcher;
use crate::media::store::MediaStore;
use crate::metrics::Metrics;
use crate::outbound::dispatcher::Dispatcher;
use crate::outbound::health::ChannelHealthMonitor;
use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_store::{Store, StoreOptions};
use confide_whatsapp::egress::EgressPolicy;
use std::sync::Arc;
use tokio::sync::{Notify, watch};

/// Why the application could not open: one line, naming the setting where there is one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(pub String);

/// Time and randomness for the whole application (tests pass controlled ones).
#[derive(Clone)]
pub struct Deps {
    pub clock: SharedClock,
    pub entropy: SharedEntropy,
}

impl Default for Deps {
    fn default() -> Self {
        Deps {
            clock: Arc::new(confide_core::clock::SystemClock),
            entropy: Arc::new(confide_core::entropy::OsEntropy),
        }
    }
}

/// Which process opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `confide serve`: creates a missing keyring, and checkpoints SQLite in the background.
    Server,
    /// A CLI command: needs an existing keyring; SQLite checkpoints as it commits.
    Cli,
}

/// The application: cheap to clone, everything inside is shared.
#[derive(Clone)]
pub struct App {
    /// The store: only use cases reach it (see [`crate::operator`] for the local operator's
    /// commands and tests).
    pub(crate) store: Store,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub entropy: SharedEntropy,
    pub metrics: Arc<Metrics>,
    /// Channels for webhook routing (secrets decrypted, cached briefly).
    pub channels: Arc<ChannelDirectory>,
    /// The group-commit writer of webhook deliveries.
    pub ingest: IngestQueue,
    /// Where sealed media objects live (local directory or S3).
    pub media: MediaStore,
    /// Signs media links (for people, and single-use ones for Meta).
    pub media_links: crate::media::links::MediaLinks,
    /// The one egress guard, built from `graph_allowed_origins`: every Graph client carries it
    /// ([`crate::outbound::graph::graph_client`]).
    pub egress: Arc<EgressPolicy>,
    /// Checks and records whether Graph accepts each channel's token.
    pub health: ChannelHealthMonitor,
    /// Password hashing (bounded), keyed hashes for throttling, session settings.
    pub auth: Arc<AuthRuntime>,
    /// Wakes the dispatcher when a send is queued.
    pub outbox_wake: Arc<Notify>,
    /// Live inbox updates (`GET /api/v1/events`).
    pub events: crate::events::Events,
    /// Runs full exports in the background and deletes them when they expire.
    pub exporter: crate::data::tenant_export::Exporter,
}

/// Closes the database (after [`Workers::stop`]); see [`App::closer`].
pub struct Closer(Store);

impl Closer {
    pub async fn close(self) {
        self.0.close().await;
    }
}

/// The background workers of an [`App`]; [`Workers::stop`] lets them finish what is queued.
pub struct Workers {
    handles: Vec<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Workers {
    /// Stops the workers after they finished what is queued (call once every sender of work,
    /// such as the HTTP routers, is gone).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for w in self.handles {
            let _ = w.await;
        }
    }
}

pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        url: config.database_url.clone(),
        max_connections: config.database.max_connections,
        sqlite_synchronous: config.database.sqlite_synchronous.clone(),
        postgres_app_role: config.database.postgres_app_role.clone(),
        sqlite_background_checkpoint: false,
        sqlite_writer_checkpoint_frames: StoreOptions::new("").sqlite_writer_checkpoint_frames,
    }
}

/// Opens the store named by the configuration (and the keyring it needs).
pub async fn open_store(config: &Config, deps: &Deps, opener: Opener) -> Result<Store, OpenError> {
    let create_keyring = opener == Opener::Server;
    let (ring, origin) = keyring::load(
        config,
        create_keyring,
        deps.clock.as_ref(),
        deps.entropy.as_ref(),
    )
    .map_err(OpenError)?;
    if matches!(origin, keyring::Origin::Created) {
        tracing::warn!(path = %config.keyring_path.display(), "created a new keyring; back it up apart from the database");
    }
    let mut options = store_options(config);
    options.sqlite_background_checkpoint = opener == Opener::Server;
    Store::open(
        &options,
        ring,
        keyring::reloader(config),
        deps.clock.clone(),
        deps.entropy.clone(),
    )
    .await
    .map_err(|e| {
        OpenError(format!(
            "database_url ({}): {e}",
            crate::config::redact_url(&config.database_url)
        ))
    })
}

/// SQLite's WAL checkpoints, off the writer's path (see
/// [`StoreOptions::sqlite_background_checkpoint`]), four times a second: more often costs
/// throughput (each one syncs the database file), less often leaves more for the writer.
async fn checkpoints(store: Store, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
        }
        if let Err(e) = store.checkpoint().await {
            tracing::warn!(error = %e, "WAL checkpoint failed; retrying shortly");
        }
    }
}

impl App {
    /// Opens the store (migrated), the keyring, the media vault and the egress guard, and starts
    /// the workers.
    pub async fn open(config: Config, deps: Deps) -> Result<(App, Workers), OpenError> {
        let egress = Arc::new(
            EgressPolicy::new(&config.graph_allowed_origins)
                .map_err(|e| OpenError(format!("graph_allowed_origins: {e}")))?,
        );
        let store = open_store(&config, &deps, Opener::Server).await?;
        let media = MediaStore::from_config(&config.media_url, &config.media).map_err(OpenError)?;
        let media_wake = Arc::new(Notify::new());
        let (stop_workers, stop) = watch::channel(false);
        // Across instances on PostgreSQL (LISTEN/NOTIFY).
        let (events, relays) = crate::events::Events::relayed(&store, &deps.entropy, stop.clone());
        let (ingest, writer) =
            IngestQueue::start(store.clone(), media_wake.clone(), events.clone());
        let channels = Arc::new(ChannelDirectory::new(deps.clock.clone()));
        let metrics = Arc::new(Metrics::default());
        let health = ChannelHealthMonitor::new(
            store.clone(),
            egress.clone(),
            channels.clone(),
            metrics.clone(),
        );
        let fetcher = MediaFetcher::new(
            store.clone(),
            channels.clone(),
            media.clone(),
            deps.clock.clone(),
            deps.entropy.clone(),
            media_wake,
            egress.clone(),
            health.clone(),
        );
        let mut handles = vec![writer];
        handles.extend(relays);
        // Only SQLite has a write-ahead log to fold back.
        if store.backend() == confide_store::Backend::Sqlite {
            handles.push(tokio::spawn(checkpoints(store.clone(), stop.clone())));
        }
        handles.push(tokio::spawn(
            channels.clone().follow_changes(store.clone(), stop.clone()),
        ));
        let outbox_wake = Arc::new(Notify::new());
        let media_links = crate::media::links::MediaLinks::new(
            store.clone(),
            deps.clock.clone(),
            deps.entropy.clone(),
            &config,
        );
        let dispatcher = Dispatcher::new(
            store.clone(),
            channels.clone(),
            deps.clock.clone(),
            deps.entropy.clone(),
            egress.clone(),
            health.clone(),
            outbox_wake.clone(),
        )
        .with_events(events.clone())
        .with_media(media.clone(), media_links.clone())
        .with_throughput(config.outbound.throughput_per_second)
        .with_messaging_limit(config.outbound.default_messaging_limit());
        handles.push(tokio::spawn(dispatcher.run(stop.clone())));
        handles.push(tokio::spawn(crate::data::retention::worker(
            store.clone(),
            media.clone(),
            deps.clock.clone(),
            stop.clone(),
        )));
        handles.push(tokio::spawn(crate::media::lifecycle::run_sweeps(
            store.clone(),
            media.clone(),
            deps.clock.clone(),
            stop.clone(),
        )));
        let exporter = crate::data::tenant_export::Exporter::new(
            store.clone(),
            media.clone(),
            deps.clock.clone(),
        );
        handles.push(tokio::spawn(crate::data::tenant_export::worker(
            exporter.clone(),
            stop.clone(),
        )));
        handles.push(tokio::spawn(fetcher.run(stop)));
        let auth = Arc::new(AuthRuntime::from_config(&config, &store).map_err(OpenError)?);
        let app = App {
            auth,
            store,
            config: Arc::new(config),
            channels,
            media,
            media_links,
            clock: deps.clock,
            entropy: deps.entropy,
            metrics,
            ingest,
            egress,
            health,
            outbox_wake,
            events,
            exporter,
        };
        Ok((
            app,
            Workers {
                handles,
                stop: stop_workers,
            },
        ))
    }

    /// Readiness: the database answers and its migrations are current; the engine's name.
    pub async fn ready(&self) -> Result<&'static str, AppError> {
        match self.store.ready().await {
            Ok(()) => Ok(self.store.backend().name()),
            Err(e) => {
                tracing::warn!(error = %e, "not ready");
                Err(AppError::new(
                    Code::NotReady,
                    "The database is not reachable or not migrated.",
                ))
            }
        }
    }

    /// What closes the database once the workers stopped. It holds nothing else, so keeping it
    /// does not keep the ingest queue open (the writer ends when every `App` is gone).
    pub fn closer(&self) -> Closer {
        Closer(self.store.clone())
    }
}
