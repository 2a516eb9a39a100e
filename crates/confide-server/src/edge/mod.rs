//! The edge: what every request passes through before a handler (request ids, security headers,
//! CIDR lists, bans, rate limits, load shedding, body limits, timeouts, access logs, status metrics), the public
//! listener itself (TLS, header timeouts, connection caps) and `/.well-known/security.txt`.

pub mod access;
pub mod bans;
pub mod filter;
pub mod headers;
pub mod listener;
pub mod rate;
pub mod request_id;
pub mod security_txt;
pub mod shed;
pub mod shield;
pub mod tenant_access;
pub mod tls;

use crate::auth::client::TrustedProxies;
use confide_app::Config;
use confide_core::clock::SharedClock;
use std::net::IpAddr;
use std::sync::Arc;

/// The edge's own state: lists, bans, rate-limit buckets, open connections.
pub struct Edge {
    pub filter: filter::Filter,
    pub bans: bans::Bans,
    pub limiter: rate::Limiter,
    pub connections: Arc<listener::Connections>,
    pub shed: shed::Shedder,
    /// Each tenant's own CIDR lists, cached briefly.
    pub tenants: tenant_access::TenantNetworks,
    pub proxies: Arc<TrustedProxies>,
    clock: SharedClock,
}

impl Edge {
    /// `shared_bans`: bans and their counters are kept in the database for every instance.
    pub fn new(
        config: &Config,
        proxies: Arc<TrustedProxies>,
        clock: SharedClock,
        shared_bans: bool,
    ) -> Result<Edge, String> {
        Ok(Edge {
            filter: filter::Filter::parse(&config.access.allow, &config.access.deny)?,
            bans: bans::Bans::new(&config.bans, shared_bans),
            limiter: rate::Limiter::default(),
            connections: listener::Connections::new(
                config.limits.max_connections,
                config.limits.max_connections_per_address,
            ),
            shed: shed::Shedder::new(&config.limits),
            tenants: tenant_access::TenantNetworks::default(),
            proxies,
            clock,
        })
    }

    /// Whether a direct (not proxied) client at `ip` may open a connection at all.
    pub fn admits_peer(&self, ip: IpAddr) -> bool {
        self.filter.admits(ip) && self.bans.banned_for(ip, self.clock.now()).is_none()
    }
}
