//! Each tenant's own CIDR lists for its UI and API (`GET/PUT /api/v1/security`, `access`),
//! enforced once authentication has named the tenant: a session or API key of tenant T used from
//! an address T's lists refuse gets 403 `address_not_allowed`, whatever the route; other
//! tenants, the platform operator, webhooks and media links are not subject to T's lists.
//!
//! The lists are cached per tenant for [`TTL`]; a change made through this instance takes effect
//! here at once (the handler forgets the cached lists), one made through another instance within
//! [`TTL`].

use crate::error::ApiError;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use confide_app::security::NetworkLists;
use confide_app::{AppError, Code};
use confide_core::ids::TenantId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a tenant's lists are used before they are read again.
pub const TTL: Duration = Duration::from_secs(5);

/// Tenants cached at most (the cache is emptied when full).
const MAX_CACHED: usize = 100_000;

#[derive(Debug, Default)]
pub struct TenantNetworks {
    cache: Mutex<HashMap<TenantId, (Instant, Arc<NetworkLists>)>>,
}

impl TenantNetworks {
    /// Drops the cached lists of `tenant` (after a change).
    pub fn forget(&self, tenant: TenantId) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(&tenant);
        }
    }

    fn cached(&self, tenant: TenantId) -> Option<Arc<NetworkLists>> {
        let c = self.cache.lock().ok()?;
        let (at, lists) = c.get(&tenant)?;
        (at.elapsed() < TTL).then(|| lists.clone())
    }

    fn keep(&self, tenant: TenantId, lists: Arc<NetworkLists>) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= MAX_CACHED {
                c.clear();
            }
            c.insert(tenant, (Instant::now(), lists));
        }
    }
}

/// The refusal of a request from `ip` for `tenant`, if its lists refuse the address.
pub async fn check(state: &AppState, tenant: TenantId, ip: IpAddr) -> Option<Response> {
    let cache = &state.edge.tenants;
    let lists = match cache.cached(tenant) {
        Some(l) => l,
        None => match state.tenant_networks(tenant).await {
            Ok(l) => {
                let l = Arc::new(l);
                cache.keep(tenant, l.clone());
                l
            }
            Err(e) => return Some(ApiError::from(e).into_response()),
        },
    };
    if lists.admits(ip) {
        return None;
    }
    Some(
        ApiError::from(AppError::new(
            Code::AddressNotAllowed,
            "This account's security settings do not allow its use from your address.",
        ))
        .into_response(),
    )
}
