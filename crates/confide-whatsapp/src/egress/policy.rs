//! The [`EgressPolicy`]: what may be connected to, its check of a URL before a request, and the
//! [`GuardedResolver`] that checks resolved addresses when connecting.

use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::ranges::non_public_range;
use super::resolvers::SystemResolver;
use crate::origin::{Origin, redact_str};

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
/// every client of a process (`Arc`); see the [`egress`](super) module documentation.
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

/// The [`reqwest::dns::Resolve`] wrapper of the [`egress`](super) module documentation: resolves
/// with the policy's inner resolver, then keeps only public addresses, unless the name is the host
/// of a listed origin.
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

#[cfg(test)]
mod tests {
    use super::super::resolvers::FixedResolver;
    use super::*;
    use std::net::SocketAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
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
