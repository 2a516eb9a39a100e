//! The one egress guard (SECURITY-CLAIMS C21): every outbound HTTP request of the product goes
//! through a [`crate::client::GraphClient`], and every `GraphClient` carries an [`EgressPolicy`]
//! ([`crate::client::GraphClientOptions::egress`]); there is no other way out.
//!
//! The policy refuses to connect to any address that is not public: private (10/8, 172.16/12,
//! 192.168/16), loopback (127/8, `::1`), link-local (169.254/16 with the cloud metadata address
//! 169.254.169.254, `fe80::/10`), unspecified (0.0.0.0/8, `::`), shared CGNAT (100.64/10),
//! unique-local (`fc00::/7`, with AWS's `fd00:ec2::254`), multicast, broadcast and reserved
//! ranges, documentation and benchmarking ranges, and the IPv4-mapped, IPv4-compatible, NAT64,
//! 6to4 and Teredo forms of IPv6 that would smuggle any of these (see [`non_public_range`]).
//!
//! It is enforced twice, so that neither an IP literal nor a DNS name gets past it:
//!
//! - before a request, [`EgressPolicy::check_url`] refuses an IP-literal host in those ranges
//!   (reqwest does not resolve literals, so the resolver never sees them);
//! - at connect time, [`GuardedResolver`] (a [`reqwest::dns::Resolve`] wrapper around an
//!   injectable inner resolver) drops every resolved address in those ranges and fails when none
//!   is left. The check happens on the addresses actually connected to, after DNS, so a name that
//!   resolves (or rebinds) to 10.0.0.1 is refused too.
//!
//! The only exception is an origin (`scheme://host:port`) the operator listed explicitly
//! (`graph_allowed_origins`): that is how tests and `serve --demo` reach their meta-sim on
//! loopback. The exception is exact: `http://localhost:8080` is not `http://127.0.0.1:8080`. As
//! the resolver only sees a host name, never a scheme or port, a request to an unlisted origin
//! whose host name is that of a listed origin is refused before it is made (otherwise the
//! resolver could not tell the two apart).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::client::origin::{Origin, redact_str};

/// A connection the policy refused; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused to connect to {target}: {reason}")]
pub struct EgressRefused {
    /// The origin or host name refused (never a path or query).
    pub target: String,
    /// Why, in plain words (e.g. "10.0.0.1 is a private address").
    pub reason: String,
}

/// An origin the policy cannot list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressConfigError {
    #[error("{0:?} is not an origin like https://graph.facebook.com")]
    NotAnOrigin(String),
    #[error("{0} is not a loopback IP origin; only a local simulator may be listed while running")]
    NotLoopback(String),
}

/// What may be connected to: public addresses, plus the origins the operator listed. Shared by
/// every client of a process (`Arc`); see the module documentation.
pub struct EgressPolicy {
    /// The exempt origins, exactly as listed (normalised by [`Origin`]).
    listed: RwLock<Vec<Origin>>,
    /// Resolves names before the guard filters the answers.
    inner: Arc<dyn Resolve>,
    /// Whether `inner` is the system resolver (for `Debug`).
    system_resolver: bool,
}

impl std::fmt::Debug for EgressPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let listed: Vec<String> = self.listed().iter().map(Origin::to_string).collect();
        f.debug_struct("EgressPolicy")
            .field("listed", &listed)
            .field(
                "resolver",
                &if self.system_resolver {
                    "system"
                } else {
                    "injected"
                },
            )
            .finish()
    }
}

impl Default for EgressPolicy {
    /// [`EgressPolicy::public_only`].
    fn default() -> Self {
        Self::public_only()
    }
}

impl EgressPolicy {
    /// Public addresses only, nothing listed, the system resolver: the strictest policy.
    pub fn public_only() -> Self {
        Self {
            listed: RwLock::new(Vec::new()),
            inner: Arc::new(SystemResolver),
            system_resolver: true,
        }
    }

    /// Public addresses plus the `listed` origins (`scheme://host[:port]`, e.g. the operator's
    /// `graph_allowed_origins`), with the system resolver.
    pub fn new<I, S>(listed: I) -> Result<Self, EgressConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut origins: Vec<Origin> = Vec::new();
        for raw in listed {
            let o = parse_listed(raw.as_ref())?;
            if !origins.contains(&o) {
                origins.push(o);
            }
        }
        Ok(Self {
            listed: RwLock::new(origins),
            ..Self::public_only()
        })
    }

    /// The same policy resolving names with `inner` (tests map made-up names to chosen
    /// addresses); the answers are still filtered.
    pub fn with_resolver(self, inner: Arc<dyn Resolve>) -> Self {
        Self {
            inner,
            system_resolver: false,
            ..self
        }
    }

    /// Lists a local simulator's origin while the process runs. **In-process only**: for
    /// `serve --demo` and the test harnesses, whose meta-sim's port is known only once it has
    /// started; nothing reachable over HTTP calls it. Only a loopback IP origin
    /// (`http://127.0.0.1:PORT`, `http://[::1]:PORT`) is accepted, so it can never open the way
    /// to another host.
    pub fn list_local_simulator(&self, origin: &str) -> Result<(), EgressConfigError> {
        let o = parse_listed(origin)?;
        let loopback = match o.host() {
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
            Host::Domain(_) => false,
        };
        if !loopback {
            return Err(EgressConfigError::NotLoopback(o.to_string()));
        }
        let mut listed = self.listed.write().unwrap_or_else(PoisonError::into_inner);
        if !listed.contains(&o) {
            listed.push(o);
        }
        Ok(())
    }

    fn listed(&self) -> Vec<Origin> {
        self.listed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The listed origins, as `scheme://host:port`.
    pub fn listed_origins(&self) -> Vec<String> {
        self.listed().iter().map(Origin::to_string).collect()
    }

    /// Is the origin of `url` exactly one of the listed origins? (`false` when `url` is not an
    /// absolute http(s) URL without credentials.) The server's channels API accepts a
    /// `graph_base_url` only when this holds.
    pub fn is_listed(&self, url: &str) -> bool {
        Url::parse(url.trim())
            .ok()
            .and_then(|u| Origin::of(&u))
            .is_some_and(|o| self.listed().contains(&o))
    }

    /// Is `host` (as the resolver sees it) the host name of a listed origin?
    fn is_listed_name(&self, host: &str) -> bool {
        self.listed()
            .iter()
            .any(|o| matches!(o.host(), Host::Domain(d) if d == host))
    }

    /// The check before a request: a listed origin passes; an IP-literal host must be public; a
    /// host name passes here (its addresses are checked by [`GuardedResolver`] when connecting)
    /// unless it is the name of a listed origin on another scheme or port.
    pub fn check_url(&self, url: &Url) -> Result<(), EgressRefused> {
        let refused = |target: String, reason: String| Err(EgressRefused { target, reason });
        let Some(origin) = Origin::of(url) else {
            return refused(
                redact_str(url.as_str()),
                "not an http(s) URL with a host and without credentials".into(),
            );
        };
        let listed = self.listed();
        if listed.contains(&origin) {
            return Ok(());
        }
        let ip = match origin.host() {
            Host::Ipv4(ip) => IpAddr::V4(*ip),
            Host::Ipv6(ip) => IpAddr::V6(*ip),
            Host::Domain(d) => {
                if let Ok(ip) = d.parse::<IpAddr>() {
                    ip
                } else if listed
                    .iter()
                    .any(|o| matches!(o.host(), Host::Domain(l) if l == d))
                {
                    return refused(
                        origin.to_string(),
                        "only the listed scheme and port of this host may be called".into(),
                    );
                } else {
                    return Ok(());
                }
            }
        };
        match non_public_range(ip) {
            None => Ok(()),
            Some(range) => refused(origin.to_string(), format!("{ip} is {range}")),
        }
    }

    /// The resolver every client of this policy connects through.
    pub fn resolver(self: &Arc<Self>) -> GuardedResolver {
        GuardedResolver {
            policy: self.clone(),
        }
    }
}

/// An origin as listed: `scheme://host[:port]`, nothing after the host but an optional `/`.
fn parse_listed(raw: &str) -> Result<Origin, EgressConfigError> {
    let bad = || EgressConfigError::NotAnOrigin(redact_str(raw));
    let url = Url::parse(raw.trim()).map_err(|_| bad())?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad());
    }
    Origin::of(&url).ok_or_else(bad)
}

/// The [`reqwest::dns::Resolve`] wrapper of the module documentation: resolves with the
/// policy's inner resolver, then keeps only public addresses, unless the name is the host of a
/// listed origin.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: Arc<EgressPolicy>,
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("policy", &self.policy)
            .finish()
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let exempt = self.policy.is_listed_name(&host);
        let resolving = self.policy.inner.resolve(name);
        Box::pin(async move {
            let addrs = resolving.await?;
            if exempt {
                return Ok(addrs);
            }
            let mut kept = Vec::new();
            let mut first_refusal = None;
            for addr in addrs {
                match non_public_range(addr.ip()) {
                    None => kept.push(addr),
                    Some(range) => {
                        first_refusal.get_or_insert_with(|| format!("{} is {range}", addr.ip()));
                    }
                }
            }
            if kept.is_empty() {
                let reason = first_refusal.unwrap_or_else(|| "it resolved to no address".into());
                return Err(Box::new(EgressRefused {
                    target: host,
                    reason: format!("it resolves to no public address ({reason})"),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

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

/// Is `ip` a public address, one the guard lets a connection reach?
pub fn is_public(ip: IpAddr) -> bool {
    non_public_range(ip).is_none()
}

/// The non-public range `ip` falls in, in words ("a private address"), or `None` when public.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

/// `ip` within `net/len`.
fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a shared (carrier-grade NAT) address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        (
            [169, 254, 169, 254],
            32,
            "the cloud metadata address (link-local)",
        ),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "an IETF protocol assignment address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a 6to4 relay anycast address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([255, 255, 255, 255], 32, "the broadcast address"),
        ([240, 0, 0, 0], 4, "a reserved address"),
    ];
    RANGES
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, what)| *what)
}

/// `ip` within `net/len`.
fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// The IPv4 address in the last 32 bits.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // Forms that carry an IPv4 address: judged by it.
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96) {
        return non_public_v4(low_v4(ip)).map(|_| "an IPv4-mapped non-public address");
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return non_public_v4(low_v4(ip)).map(|_| "a NAT64 form of a non-public address");
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        (
            [0, 0, 0, 0, 0, 0, 0, 0],
            96,
            "an IPv4-compatible address (deprecated)",
        ),
        (
            [0, 0, 0, 0, 0xffff, 0, 0, 0],
            96,
            "an IPv4-translated address",
        ),
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "a local NAT64 address",
        ),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "a discard-only address"),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "an IETF special-purpose address (Teredo, ORCHID, benchmarking)",
        ),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "a documentation address",
        ),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "a 6to4 address"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "a documentation address"),
        (
            [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
            128,
            "the cloud metadata address (unique-local)",
        ),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "a unique-local address"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
        (
            [0xfec0, 0, 0, 0, 0, 0, 0, 0],
            10,
            "a site-local address (deprecated)",
        ),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
    ];
    if let Some((_, _, what)) = RANGES.iter().find(|(net, len, _)| in_v6(ip, *net, *len)) {
        return Some(what);
    }
    // Only 2000::/3 is allocated as global unicast.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some("not a global unicast address");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn every_non_public_range_is_refused() {
        for s in [
            // IPv4
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.8.0.1",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd00::1",
            "fd00:ec2::254",
            "fec0::1",
            "ff02::1",
            "ff05::2",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "2002:a00:1::1",
            "3fff::1",
            "64:ff9b:1::1",
            "5f00::1",
            // IPv4-mapped, -compatible, -translated and NAT64 forms of non-public addresses
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "::8.8.8.8",
            "::ffff:0:10.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::169.254.169.254",
        ] {
            assert!(!is_public(ip(s)), "{s} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "157.240.22.35",                      // graph.facebook.com
            "31.13.64.1",                         // lookaside.fbsbx.com
            "8.8.8.8",                            // a public resolver
            "100.63.255.255",                     // just below CGNAT
            "100.128.0.0",                        // just above CGNAT
            "172.15.255.255",                     // just below 172.16/12
            "172.32.0.0",                         // just above
            "169.253.255.255",                    // just below link-local
            "192.169.0.0",                        // just above 192.168/16
            "223.255.255.255",                    // just below multicast
            "2a03:2880:f10c:83:face:b00c:0:25de", // Meta over IPv6
            "2001:4860:4860::8888",
            "::ffff:157.240.22.35", // IPv4-mapped public
            "64:ff9b::9df0:1623",   // NAT64 of a public address
        ] {
            assert!(is_public(ip(s)), "{s} must pass");
        }
    }

    #[test]
    fn ip_literals_are_refused_before_any_request_unless_listed() {
        let p = EgressPolicy::new(["https://graph.facebook.com", "http://127.0.0.1:8081"]).unwrap();
        for bad in [
            "https://10.0.0.1/v24.0/1",
            "https://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:5432/",
            "http://127.0.0.1:8082/",
            "https://127.0.0.1:8081/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]:8081/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://0.0.0.0:8081/",
            "http://100.64.0.1/",
            "http://0x7f.1:8082/",
            "http://2130706433:8082/",
            "ftp://graph.facebook.com/",
        ] {
            let e = p.check_url(&url(bad)).unwrap_err();
            assert!(!e.reason.is_empty(), "{bad}");
        }
        p.check_url(&url("http://127.0.0.1:8081/v24.0/1")).unwrap();
        p.check_url(&url("https://graph.facebook.com/v24.0/1"))
            .unwrap();
        // Host names pass the first check; their addresses are checked when resolved.
        p.check_url(&url("https://lookaside.fbsbx.com/x")).unwrap();
        p.check_url(&url("https://157.240.22.35/")).unwrap();
        // A listed host name on another port would get past the resolver: refused here.
        assert!(
            p.check_url(&url("https://graph.facebook.com:8443/"))
                .is_err()
        );
        assert!(p.check_url(&url("http://graph.facebook.com/")).is_err());
    }

    async fn resolve(p: &Arc<EgressPolicy>, name: &str) -> Result<Vec<SocketAddr>, String> {
        p.resolver()
            .resolve(name.parse().unwrap())
            .await
            .map(|a| a.collect())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn names_resolving_to_non_public_addresses_are_refused() {
        let sock = |s: &str| SocketAddr::new(ip(s), 0);
        let fixed = FixedResolver::new()
            .with("graph.evil.test", sock("10.0.0.1"))
            .with("metadata.evil.test", sock("169.254.169.254"))
            .with("mapped.evil.test", sock("::ffff:127.0.0.1"))
            .with("ula.evil.test", sock("fd00:ec2::254"))
            .with("mixed.example", sock("192.168.0.1"))
            .with("mixed.example", sock("157.240.22.35"))
            .with("public.example", sock("157.240.22.35"))
            .with("sim.listed.test", sock("127.0.0.1"));
        let p = Arc::new(
            EgressPolicy::new(["http://sim.listed.test:8081"])
                .unwrap()
                .with_resolver(Arc::new(fixed)),
        );
        for name in [
            "graph.evil.test",
            "metadata.evil.test",
            "mapped.evil.test",
            "ula.evil.test",
        ] {
            let e = resolve(&p, name).await.unwrap_err();
            assert!(e.contains("refused to connect"), "{name}: {e}");
        }
        // Only the public address of a mixed answer is kept.
        assert_eq!(
            resolve(&p, "mixed.example").await.unwrap(),
            vec![sock("157.240.22.35")]
        );
        assert_eq!(
            resolve(&p, "public.example").await.unwrap(),
            vec![sock("157.240.22.35")]
        );
        // The host of a listed origin resolves as it is.
        assert_eq!(
            resolve(&p, "sim.listed.test").await.unwrap(),
            vec![sock("127.0.0.1")]
        );
        // Unknown names fail as DNS failures, not as refusals.
        assert!(
            !resolve(&p, "unknown.test")
                .await
                .unwrap_err()
                .contains("refused")
        );
    }

    #[test]
    fn listing_is_exact_and_only_loopback_may_be_added_while_running() {
        let p = EgressPolicy::new(["HTTPS://Graph.Facebook.com:443/"]).unwrap();
        assert!(p.is_listed("https://graph.facebook.com/v24.0"));
        assert!(!p.is_listed("https://graph.facebook.com.evil.example/"));
        assert!(!p.is_listed("http://127.0.0.1:8081/"));
        p.list_local_simulator("http://127.0.0.1:8081").unwrap();
        p.list_local_simulator("http://[::1]:8081").unwrap();
        assert!(p.is_listed("http://127.0.0.1:8081/v24.0/1"));
        assert!(p.is_listed("http://[::1]:8081/"));
        assert!(!p.is_listed("http://localhost:8081/"));
        assert!(!p.is_listed("http://127.0.0.1:8082/"));
        for bad in [
            "http://10.0.0.1:8081",
            "https://evil.example.com",
            "http://localhost:8081",
        ] {
            assert!(
                matches!(
                    p.list_local_simulator(bad),
                    Err(EgressConfigError::NotLoopback(_))
                ),
                "{bad}"
            );
        }
        for bad in [
            "graph.facebook.com",
            "https://graph.facebook.com/v24.0",
            "https://u@x.com",
        ] {
            assert!(
                matches!(
                    EgressPolicy::new([bad]),
                    Err(EgressConfigError::NotAnOrigin(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            p.listed_origins(),
            vec![
                "https://graph.facebook.com:443",
                "http://127.0.0.1:8081",
                "http://[::1]:8081"
            ]
        );
    }
}
