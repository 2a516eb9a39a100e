//! The plain resolvers a policy resolves names with before it filters the answers: the system's,
//! and a fixed table for tests and pinning.

use std::collections::HashMap;
use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The operating system's resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A fixed name → addresses table, for tests (a made-up `graph.evil.test` resolving to
/// 10.0.0.1) and for pinning. A name not in the table does not resolve. A port of 0 means the
/// URL's port.
#[derive(Debug, Clone, Default)]
pub struct FixedResolver {
    table: HashMap<String, Vec<SocketAddr>>,
}

impl FixedResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// `name` resolves to `addr` (among others added for it).
    pub fn with(mut self, name: &str, addr: SocketAddr) -> Self {
        self.table
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(addr);
        self
    }
}

impl Resolve for FixedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.table.get(name.as_str()).cloned();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match found {
                Some(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                None => Err(format!("{host}: no such host in the fixed table").into()),
            }
        })
    }
}
