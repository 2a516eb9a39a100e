//! Building and running the server: bind, open the application, serve, shut down gracefully.

use crate::edge::listener::{self, Public};
use crate::state::AppState;
use crate::{api, edge, error, web, webhooks};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use confide_app::{App, Config, Workers};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::timeout::RequestBodyTimeoutLayer;

pub use confide_app::runtime::{Deps, Opener, open_store, store_options};

/// Bodies larger than this are refused with 413 unless `limits.api_body_bytes` says otherwise
/// (webhooks have their own, larger limit).
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
    redirect: Option<TcpListener>,
    tls: Option<edge::tls::Tls>,
    state: AppState,
    workers: Workers,
}

/// Plain HTTP is refused outside loopback unless a TLS-terminating proxy is declared (C23).
pub fn check_exposure(config: &Config) -> Result<(), StartupError> {
    if config.tls.cert.is_some()
        || config.demo
        || !config.trusted_proxies.is_empty()
        || config.listen.ip().is_loopback()
    {
        return Ok(());
    }
    Err(StartupError(format!(
        "listen {}: plain HTTP on a non-loopback address; set tls.cert and tls.key, or \
         trusted_proxies to the TLS-terminating proxy in front of Confide",
        config.listen
    )))
}

impl Application {
    /// Binds the listeners (port 0 allowed), loads the certificate, opens the application.
    pub async fn build(config: Config, deps: Deps) -> Result<Application, StartupError> {
        check_exposure(&config)?;
        let tls = edge::tls::Tls::load(&config.tls).map_err(StartupError)?;
        let public = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartupError(format!("listen {}: {e}", config.listen)))?;
        let admin = TcpListener::bind(config.admin_listen)
            .await
            .map_err(|e| StartupError(format!("admin_listen {}: {e}", config.admin_listen)))?;
        let redirect = match config.tls.redirect_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| StartupError(format!("tls.redirect_listen {addr}: {e}")))?,
            ),
            None => None,
        };
        let (app, workers) = App::open(config, deps).await?;
        // Media links point at the bound address unless `media.public_url` says otherwise.
        if let Ok(addr) = public.local_addr() {
            app.media_links.set_public_origin(format!("http://{addr}"));
        }
        let proxies = Arc::new(
            crate::auth::client::TrustedProxies::parse(&app.config.trusted_proxies)
                .map_err(StartupError)?,
        );
        let edge = Arc::new(
            edge::Edge::new(
                &app.config,
                proxies.clone(),
                app.clock.clone(),
                app.shares_bans(),
            )
            .map_err(StartupError)?,
        );
        Ok(Application {
            public,
            admin,
            redirect,
            tls,
            state: AppState::new(app, proxies, edge),
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

    /// The plain-HTTP redirect listener's address, when there is one.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The count of certificate reloads (for tests and tools that wait for one).
    pub fn tls_reloads(&self) -> Option<watch::Receiver<u64>> {
        self.tls.as_ref().map(|t| t.reloads())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The public router with every edge layer.
    pub fn public_router(state: AppState) -> Router {
        let limits = &state.config.limits;
        let router = api::public_routes()
            .route(edge::security_txt::PATH, get(edge::security_txt::serve))
            .merge(webhooks::routes(limits.webhook_body_bytes))
            .merge(web::routes())
            .fallback(error::fallback);
        // Layers run outermost (last added) first.
        router
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                edge::shield::per_tenant,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::auth::resolve::authenticate,
            ))
            .layer(DefaultBodyLimit::max(limits.api_body_bytes))
            .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(
                limits.body_read_timeout_secs,
            )))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                edge::shield::admit,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                edge::access::log_and_count,
            ))
            // Every response leaves through the security headers, the edge's own refusals
            // included.
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                edge::headers::secure,
            ))
            // Outermost: a server-made request id before anything else sees the request.
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                edge::request_id::assign,
            ))
            .with_state(state)
    }

    /// The admin listener's router (metrics, health, bans).
    pub fn admin_router(state: AppState) -> Router {
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
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(public = %self.public_addr(), admin = %self.admin_addr(), scheme, "listening");
        let https_port = self.public_addr().port();
        let closer = self.state.app.closer();
        let workers = self.workers;
        let limits = self.state.config.limits.clone();
        let header_timeout = Duration::from_secs(limits.header_read_timeout_secs);
        let (acceptor, watcher) = match self.tls {
            Some(tls) => {
                let (config, _reloads, task) = tls.watch();
                (Some(tokio_rustls::TlsAcceptor::from(config)), Some(task))
            }
            None => (None, None),
        };
        let redirect = self.redirect.map(|l| {
            tokio::spawn(listener::redirect(
                l,
                self.state.edge.clone(),
                https_port,
                header_timeout,
                rx.clone(),
            ))
        });
        let public = listener::serve(
            Public {
                listener: self.public,
                router: Self::public_router(self.state.clone()),
                edge: self.state.edge.clone(),
                tls: acceptor,
                header_timeout,
                grace: Duration::from_secs(limits.request_timeout_secs),
            },
            rx.clone(),
        );
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
        if let Some(task) = watcher {
            task.abort();
        }
        if let Some(r) = redirect {
            let _ = r.await;
        }
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
