//! Global CIDR allow and deny lists (`access.allow`, `access.deny`). A denied address gets
//! nothing: a direct connection from it is closed before a byte is read, and a request a trusted
//! proxy forwards for it is refused before any handler runs. With an allow list, only the
//! addresses it lists are served (deny wins over allow).

use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl Filter {
    /// Parses the configured lists (validated at load; a bad entry here is an error too).
    pub fn parse(allow: &[String], deny: &[String]) -> Result<Filter, String> {
        let parse = |name: &str, list: &[String]| {
            list.iter()
                .map(|raw| confide_app::config::parse_cidr(raw).map_err(|e| format!("{name}: {e}")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Filter {
            allow: parse("access.allow", allow)?,
            deny: parse("access.deny", deny)?,
        })
    }

    /// Whether `ip` may be served.
    pub fn admits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_wins_and_an_allow_list_admits_only_its_own() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let f = Filter::parse(&[], &s(&["198.51.100.0/24"])).unwrap();
        assert!(!f.admits("198.51.100.7".parse().unwrap()));
        assert!(!f.admits("::ffff:198.51.100.7".parse().unwrap()));
        assert!(f.admits("203.0.113.1".parse().unwrap()));
        let f = Filter::parse(&s(&["10.0.0.0/8"]), &s(&["10.9.0.0/16"])).unwrap();
        assert!(f.admits("10.1.2.3".parse().unwrap()));
        assert!(!f.admits("10.9.2.3".parse().unwrap()));
        assert!(!f.admits("203.0.113.1".parse().unwrap()));
    }
}
