//! Email addresses of team members.

use std::fmt;

/// A syntactically plausible email address, trimmed and lowercased (the form used for lookups).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid email address")]
pub struct BadEmail;

impl Email {
    pub fn parse(input: &str) -> Result<Email, BadEmail> {
        let s = input.trim().to_lowercase();
        let (local, domain) = s.split_once('@').ok_or(BadEmail)?;
        let ok = !local.is_empty()
            && local.len() <= 64
            && s.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && s.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if ok { Ok(Email(s)) } else { Err(BadEmail) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Personal data: only the domain shows in debug output.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.split_once('@').map(|(_, d)| d).unwrap_or("");
        write!(f, "Email(…@{domain})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            Email::parse("  Ana@Example.COM ").unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "a@b@example.com",
            "ana@.com",
        ] {
            assert_eq!(Email::parse(bad), Err(BadEmail), "{bad}");
        }
    }
}
