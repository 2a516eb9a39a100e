//! Starting the simulator: binds, builds the shared state, serves the Graph and control routes and
//! runs the webhook engine, then hands back the [`SimHandle`] that owns them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use confide_core::clock::{SharedClock, to_micros};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::config::SimConfig;
use crate::error::SimError;
use crate::handle::SimHandle;
use crate::state::{Shared, State};
use crate::{control, graph, webhooks};

/// The simulator's entry point.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Binds `config.listen` (or `127.0.0.1:0`) and serves.
    pub async fn start(config: SimConfig, clock: SharedClock) -> Result<SimHandle, SimError> {
        let addr = config
            .listen
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        Self::start_on(config, clock, addr).await
    }

    /// Binds `addr` and serves.
    pub async fn start_on(
        config: SimConfig,
        clock: SharedClock,
        addr: SocketAddr,
    ) -> Result<SimHandle, SimError> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let reachable = match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), local.port())
            }
            _ => local,
        };
        let base_url = config
            .public_base_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{reachable}"));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(StdDuration::from_millis(config.webhooks.request_timeout_ms))
            .build()
            .map_err(|e| SimError::Http(e.to_string()))?;
        let (idle, _) = watch::channel(0usize);
        let state = State::new(&config, to_micros(clock.now()));
        let shared = Arc::new(Shared {
            clock,
            state: Mutex::new(state),
            webhooks: config.webhooks.clone(),
            statuses: config.statuses.clone(),
            base_url,
            addr: reachable,
            http,
            wake: Notify::new(),
            idle,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let app = graph::router(shared.clone()).merge(control::router(shared.clone()));
        let mut server_rx = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_rx.changed().await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "meta-sim server stopped");
            }
        });
        let engine = tokio::spawn(webhooks::run(shared.clone(), shutdown_rx));
        Ok(SimHandle::owning(shared, shutdown, vec![server, engine]))
    }
}
