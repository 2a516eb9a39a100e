//! Business-scoped user ids (BSUIDs).
//!
//! Format (whatsapp-cloud-api.md §1b): an ISO 3166 alpha-2 country code, a dot, then up to 128
//! letters and digits, e.g. `US.13491208655302741918`. A parent BSUID, shared by linked portfolios,
//! puts `ENT.` after the country code: `US.ENT.11815799212886844830`.
//!
//! The country code is checked for shape (two ASCII capital letters), not against the list of
//! assigned codes: Meta owns that list and a new code must not make a user unreachable.

/// Longest identifier part Meta documents.
pub const MAX_ID_LEN: usize = 128;

/// True for a BSUID or a parent BSUID.
pub fn is_bsuid(s: &str) -> bool {
    match split(s) {
        Some((_, rest)) => is_id_part(rest.strip_prefix("ENT.").unwrap_or(rest)),
        None => false,
    }
}

/// True only for the parent form `CC.ENT.<id>`.
pub fn is_parent_bsuid(s: &str) -> bool {
    match split(s) {
        Some((_, rest)) => rest.strip_prefix("ENT.").is_some_and(is_id_part),
        None => false,
    }
}

/// The country code of a BSUID (`"US"` for `US.1349...`), if `s` is one.
pub fn country_code(s: &str) -> Option<&str> {
    if is_bsuid(s) {
        split(s).map(|(cc, _)| cc)
    } else {
        None
    }
}

fn split(s: &str) -> Option<(&str, &str)> {
    let (cc, rest) = s.split_once('.')?;
    let ok = cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase());
    ok.then_some((cc, rest))
}

fn is_id_part(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documented_forms() {
        assert!(is_bsuid("US.13491208655302741918"));
        assert!(is_bsuid("BR.1502576394655843"));
        assert!(is_bsuid("US.ENT.11815799212886844830"));
        assert!(is_parent_bsuid("US.ENT.11815799212886844830"));
        assert!(!is_parent_bsuid("US.13491208655302741918"));
        assert!(is_bsuid("HK.abcXYZ09"));
        assert!(is_bsuid(&format!("US.{}", "a".repeat(128))));
        assert_eq!(country_code("BR.1502576394655843"), Some("BR"));
    }

    #[test]
    fn refuses_other_strings() {
        for s in [
            "",
            "16505551234",
            "+16505551234",
            "US.",
            "US",
            ".123",
            "us.123",
            "USA.123",
            "U.123",
            "US.12 3",
            "US.123.456",
            "US.ENT.",
            "US.ENT.12-3",
            "US.ENT.ENT.123",
            "US.\u{0661}\u{0662}",
            "ÜS.123",
        ] {
            assert!(!is_bsuid(s), "{s:?}");
        }
        assert!(!is_bsuid(&format!("US.{}", "a".repeat(129))));
        assert_eq!(country_code("16505551234"), None);
    }
}
