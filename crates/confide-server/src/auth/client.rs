//! Who the client is: the one place that turns a connection and its headers into a client
//! address (for throttling, session records and logs).
//!
//! With no `trusted_proxies` configured (the default) the client is the TCP peer and proxy
//! headers are ignored. When the peer's address is in a trusted CIDR, its `X-Forwarded-For` is
//! believed, and the client is the **rightmost address in the chain that is not itself a trusted
//! proxy**: each proxy appends the address it received the request from, so everything right of
//! the first untrusted hop was written by trusted proxies, and everything left of it (including
//! whatever the client sent itself) is unverifiable and ignored. If every address in the chain is
//! trusted, the leftmost is the client; an entry that is not an address stops the walk (the last
//! trusted hop before it is the client). `X-Forwarded-Proto` is likewise read only from a trusted
//! peer (its rightmost value, written by the proxy nearest to us).

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The header proxies append the client's address to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";
/// The header proxies put the original scheme in.
pub const FORWARDED_PROTO: &str = "x-forwarded-proto";

/// The reverse proxies whose forwarding headers are believed (`trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// The client of a request, as far as the server can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the TCP peer, or the address a trusted proxy saw.
    pub ip: IpAddr,
    /// Whether the request reached us through a trusted proxy.
    pub via_proxy: bool,
    /// What a trusted proxy said about the original request's scheme (`X-Forwarded-Proto`):
    /// `Some(true)` for https, `Some(false)` for anything else, `None` when no trusted proxy
    /// said (a direct connection, or the header was absent).
    pub forwarded_https: Option<bool>,
}

impl TrustedProxies {
    /// Parses the configured CIDRs (or single addresses), as `config::parse_cidr` does.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|raw| {
                confide_app::config::parse_cidr(raw).map_err(|e| format!("trusted_proxies: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Client {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return Client {
                ip: peer,
                via_proxy: false,
                forwarded_https: None,
            };
        }
        // Every X-Forwarded-For line, in order, is one list.
        let entries: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(addr) = parse_hop(entry) else {
                break;
            };
            client = addr;
            if !self.trusts(addr) {
                break;
            }
        }
        let forwarded_https = headers
            .get_all(FORWARDED_PROTO)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
            .map(|proto| proto.eq_ignore_ascii_case("https"));
        Client {
            ip: client,
            via_proxy: true,
            forwarded_https,
        }
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`). Anything else (`unknown`, obfuscated names) is `None`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = entry.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(xff: &[&str], proto: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        if let Some(p) = proto {
            h.insert(FORWARDED_PROTO, HeaderValue::from_str(p).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        let c = none.client(ip("10.0.0.2"), &headers(&["198.51.100.1"], Some("https")));
        assert_eq!(c.ip, ip("10.0.0.2"));
        assert!(!c.via_proxy);
        assert_eq!(c.forwarded_https, None);
    }

    #[test]
    fn an_untrusted_peer_cannot_spoof_its_address() {
        let p = proxies(&["10.0.0.0/8"]);
        let c = p.client(
            ip("198.51.100.9"),
            &headers(&["192.0.2.1, 10.0.0.5"], Some("https")),
        );
        assert_eq!(c.ip, ip("198.51.100.9"));
        assert_eq!(c.forwarded_https, None);
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "2001:db8::/32"]);
        // The client wrote "192.0.2.1" itself; the edge proxy appended the real address.
        let h = headers(
            &["192.0.2.1, 198.51.100.7", "10.0.0.9"],
            Some("http, https"),
        );
        let c = p.client(ip("10.0.0.2"), &h);
        assert_eq!(c.ip, ip("198.51.100.7"));
        assert!(c.via_proxy);
        assert_eq!(c.forwarded_https, Some(true));
        // IPv4-mapped peers and ports in entries.
        let c = p.client(
            ip("::ffff:10.0.0.2"),
            &headers(&["[2001:db8::5]:443, 198.51.100.8:5555"], None),
        );
        assert_eq!(c.ip, ip("198.51.100.8"));
        assert_eq!(c.forwarded_https, None);
        // All hops trusted: the leftmost; no header: the proxy itself.
        let c = p.client(ip("10.0.0.2"), &headers(&["10.1.1.1, 10.0.0.9"], None));
        assert_eq!(c.ip, ip("10.1.1.1"));
        let c = p.client(ip("10.0.0.2"), &HeaderMap::new());
        assert_eq!(c.ip, ip("10.0.0.2"));
        // Garbage stops the walk at the last trusted hop.
        let c = p.client(
            ip("10.0.0.2"),
            &headers(&["198.51.100.7, unknown, 10.0.0.9"], None),
        );
        assert_eq!(c.ip, ip("10.0.0.9"));
        let c = p.client(ip("10.0.0.2"), &headers(&["10.0.0.1"], Some("http")));
        assert_eq!(c.forwarded_https, Some(false));
    }
}
