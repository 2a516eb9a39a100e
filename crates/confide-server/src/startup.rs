//! Building and running the server: bind, open, serve, shut down gracefully.

use crate::config::Config;
use crate::edge;
use crate::media::fetcher::MediaFetcher;
use crate::media::vault::MediaVault;
use crate::outbound::health::ChannelHealthMonitor;
use crate::state::AppState;
use crate::telemetry::Metrics;
use crate::webhooks::directory::ChannelDirectory;
use crate::webhooks::writer::IngestQueue;
use crate::{api, error, keyring, webhooks};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_store::{Store, StoreOptions};
use confide_whatsapp::egress::EgressPolicy;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// Bodies larger than this are refused with 413 (webhooks have their own, larger limit).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Why the server could not start: one line, naming the setting where there is one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

/// Time and randomness for the whole server (tests pass controlled ones).
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

/// A built server: listeners bound, store open and migrated, ready to run.
pub struct Application {
    public: TcpListener,
    admin: TcpListener,
    state: AppState,
    workers: Vec<tokio::task::JoinHandle<()>>,
    stop_workers: watch::Sender<bool>,
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

/// Which process opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `confide serve`: creates a missing keyring, and checkpoints SQLite in the background.
    Server,
    /// A CLI command: needs an existing keyring; SQLite checkpoints as it commits.
    Cli,
}

/// Opens the store named by the configuration.
pub async fn open_store(
    config: &Config,
    deps: &Deps,
    opener: Opener,
) -> Result<Store, StartupError> {
    let create_keyring = opener == Opener::Server;
    let (ring, origin) = keyring::load(
        config,
        create_keyring,
        deps.clock.as_ref(),
        deps.entropy.as_ref(),
    )
    .map_err(StartupError)?;
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
        StartupError(format!(
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

impl Application {
    /// Binds both listeners (port 0 allowed), opens and migrates the store.
    pub async fn build(config: Config, deps: Deps) -> Result<Application, StartupError> {
        let public = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartupError(format!("listen {}: {e}", config.listen)))?;
        let admin = TcpListener::bind(config.admin_listen)
            .await
            .map_err(|e| StartupError(format!("admin_listen {}: {e}", config.admin_listen)))?;
        let egress = Arc::new(
            EgressPolicy::new(&config.graph_allowed_origins)
                .map_err(|e| StartupError(format!("graph_allowed_origins: {e}")))?,
        );
        let store = open_store(&config, &deps, Opener::Server).await?;
        let vault = MediaVault::from_url(&config.media_url).map_err(StartupError)?;
        let media_wake = Arc::new(Notify::new());
        let (ingest, writer) = IngestQueue::start(store.clone(), media_wake.clone());
        let channels = Arc::new(ChannelDirectory::new(deps.clock.clone()));
        let (stop_workers, stop) = watch::channel(false);
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
            vault.clone(),
            deps.clock.clone(),
            media_wake,
            egress.clone(),
            health.clone(),
        );
        let mut workers = vec![writer];
        // Only SQLite has a write-ahead log to fold back.
        if store.backend() == confide_store::Backend::Sqlite {
            workers.push(tokio::spawn(checkpoints(store.clone(), stop.clone())));
        }
        workers.push(tokio::spawn(
            channels.clone().follow_changes(store.clone(), stop.clone()),
        ));
        workers.push(tokio::spawn(fetcher.run(stop)));
        let auth =
            Arc::new(crate::auth::AuthRuntime::from_config(&config, &store).map_err(StartupError)?);
        let state = AppState {
            auth,
            store,
            config: Arc::new(config),
            channels,
            vault,
            clock: deps.clock,
            entropy: deps.entropy,
            metrics,
            ingest,
            egress,
            health,
        };
        Ok(Application {
            public,
            admin,
            state,
            workers,
            stop_workers,
        })
    }

    pub fn public_addr(&self) -> SocketAddr {
        self.public
            .local_addr()
            .unwrap_or_else(|_| self.state.config.listen)
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .unwrap_or_else(|_| self.state.config.admin_listen)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The public router with every edge layer.
    pub fn public_router(state: AppState) -> Router {
        let mut router = api::public_routes()
            .merge(webhooks::routes())
            .fallback(error::fallback);
        for layer in edge::headers::layers() {
            router = router.layer(layer);
        }
        router
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::auth::resolve::authenticate,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                edge::access::log_and_count,
            ))
            .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
            // Outermost: a server-made request id before anything else sees the request.
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                edge::request_id::assign,
            ))
            .with_state(state)
    }

    fn admin_router(state: AppState) -> Router {
        api::admin_routes()
            .fallback(error::fallback)
            .with_state(state)
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish,
    /// and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let (tx, rx) = watch::channel(false);
        let wait = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        tracing::info!(public = %self.public_addr(), admin = %self.admin_addr(), "listening");
        let store = self.state.store.clone();
        let workers = self.workers;
        let stop_workers = self.stop_workers;
        let public = axum::serve(
            self.public,
            Self::public_router(self.state.clone())
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(wait(rx.clone()));
        let admin = axum::serve(
            self.admin,
            Self::admin_router(self.state).into_make_service(),
        )
        .with_graceful_shutdown(wait(rx));
        let signal = tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = tx.send(true);
        });
        let (p, a) = tokio::join!(public, admin);
        signal.abort();
        // The routers (and with them the queue senders) are gone: the workers finish what is
        // queued and stop; then the database is closed.
        let _ = stop_workers.send(true);
        for w in workers {
            let _ = w.await;
        }
        store.close().await;
        p.map_err(|e| StartupError(format!("public listener: {e}")))?;
        a.map_err(|e| StartupError(format!("admin listener: {e}")))?;
        tracing::info!("stopped");
        Ok(())
    }
}
