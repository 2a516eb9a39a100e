//! The outbound allowlist (SECURITY-CLAIMS C21): every request goes to one of a few configured
//! origins (scheme, host, port), never anywhere else.
//!
//! [`Origin`] is shared by the client's allowlist and by the egress guard's listed origins, so it
//! lives beside both rather than inside either.

use url::{Host, Url};

/// A `scheme://host:port` triple, compared exactly (host names are already lowercased by `url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: Host<String>,
    port: u16,
}

impl Origin {
    /// The origin of `url`, if it is an http(s) URL with a host and without credentials.
    pub(crate) fn of(url: &Url) -> Option<Self> {
        let scheme = url.scheme();
        if scheme != "https" && scheme != "http" {
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        Some(Self {
            scheme: scheme.to_owned(),
            host: url.host()?.to_owned(),
            port: url.port_or_known_default()?,
        })
    }

    pub(crate) fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// `127.0.0.0/8`, `::1` or `localhost`: the only hosts plain http is allowed to by default.
    pub(crate) fn is_loopback(&self) -> bool {
        match &self.host {
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
            Host::Domain(d) => d == "localhost",
        }
    }

    pub(crate) fn host(&self) -> &Host<String> {
        &self.host
    }

    pub(crate) fn is_host(&self, domain: &str) -> bool {
        matches!(&self.host, Host::Domain(d) if d == domain)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The set of origins a client may talk to.
#[derive(Debug, Clone)]
pub(crate) struct Allowlist {
    origins: Vec<Origin>,
}

impl Allowlist {
    pub(crate) fn new(origins: Vec<Origin>) -> Self {
        Self { origins }
    }

    /// Is `url` on an allowed origin?
    pub(crate) fn allows(&self, url: &Url) -> bool {
        Origin::of(url).is_some_and(|o| self.origins.contains(&o))
    }

    pub(crate) fn origins(&self) -> &[Origin] {
        &self.origins
    }
}

/// `url` without credentials, query or fragment, for error messages and logs: the query of a
/// signed media URL is a capability, and a refused URL may carry anything.
pub(crate) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    let mut s = u.to_string();
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Like [`redact`], for a string that may not even parse.
pub(crate) fn redact_str(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(u) => redact(&u),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Origin {
        Origin::of(&Url::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn origins_compare_scheme_host_port() {
        let list = Allowlist::new(vec![origin("https://graph.facebook.com")]);
        let ok = |s: &str| list.allows(&Url::parse(s).unwrap());
        assert!(ok("https://graph.facebook.com/v24.0/1/messages"));
        assert!(
            ok("https://GRAPH.facebook.com:443/x"),
            "case and default port"
        );
        assert!(!ok("http://graph.facebook.com/x"), "scheme");
        assert!(!ok("https://graph.facebook.com:8443/x"), "port");
        assert!(!ok("https://graph.facebook.com.evil.example/x"), "suffix");
        assert!(!ok("https://evil@graph.facebook.com/x"), "credentials");
        assert!(
            !ok("https://169.254.169.254/latest/meta-data"),
            "metadata address"
        );
        assert!(!ok("file:///etc/passwd"));
    }

    #[test]
    fn loopback() {
        assert!(origin("http://127.0.0.1:8080").is_loopback());
        assert!(origin("http://127.8.0.1").is_loopback());
        assert!(origin("http://[::1]:9").is_loopback());
        assert!(origin("http://localhost:9").is_loopback());
        assert!(!origin("http://10.0.0.1").is_loopback());
        assert!(!origin("http://localhost.evil.example").is_loopback());
        assert!(!origin("http://0.0.0.0").is_loopback());
    }

    #[test]
    fn redaction() {
        let u = Url::parse("https://u:p@lookaside.fbsbx.com/a/?mid=1&hash=SECRET#f").unwrap();
        assert_eq!(redact(&u), "https://lookaside.fbsbx.com/a/");
        assert_eq!(redact_str("::"), "<unparsable URL>");
    }
}
