//! Building and running the server: bind, open the application, serve, shut down gracefully.

use crate::state::AppState;
use crate::{api, edge, error, webhooks};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use confide_app::{App, Config, Workers};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use confide_app::runtime::{Deps, Opener, open_store, store_options};

/// Bodies larger than this are refused with 413 (webhooks have their own, larger limit).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Why the server could not start: one line, naming the setting where there is one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

impl From<confide_app::OpenError> for StartupError {
    fn from(e: confide_app::OpenError) -> Self {
        StartupError(e.0)
    }
}

/// A built server: listeners bound, application open (store migrated, workers running), ready
/// to run.
pub struct Application {
    public: TcpListener,
    admin: TcpListener,
    state: AppState,
    workers: Workers,
}

impl Application {
    /// Binds both listeners (port 0 allowed), opens the application.
    pub async fn build(config: Config, deps: Deps) -> Result<Application, StartupError> {
        let public = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartupError(format!("listen {}: {e}", config.listen)))?;
        let admin = TcpListener::bind(config.admin_listen)
            .await
            .map_err(|e| StartupError(format!("admin_listen {}: {e}", config.admin_listen)))?;
        let (app, workers) = App::open(config, deps).await?;
        // Media links point at the bound address unless `media.public_url` says otherwise.
        if let Ok(addr) = public.local_addr() {
            app.media_links.set_public_origin(format!("http://{addr}"));
        }
        let proxies = Arc::new(
            crate::auth::client::TrustedProxies::parse(&app.config.trusted_proxies)
                .map_err(StartupError)?,
        );
        Ok(Application {
            public,
            admin,
            state: AppState { app, proxies },
            workers,
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
        let closer = self.state.app.closer();
        let workers = self.workers;
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
        workers.stop().await;
        closer.close().await;
        p.map_err(|e| StartupError(format!("public listener: {e}")))?;
        a.map_err(|e| StartupError(format!("admin listener: {e}")))?;
        tracing::info!("stopped");
        Ok(())
    }
}
