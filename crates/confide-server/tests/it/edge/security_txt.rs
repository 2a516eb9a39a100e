//! C32: `/.well-known/security.txt` passes an RFC 9116 check: served as UTF-8 plain text, every
//! line a comment or a known `Field: value`, at least one `Contact` (a mailto:, https: or tel:
//! URI), exactly one `Expires` in RFC 3339 that is in the future and under a year away, at most
//! one `Preferred-Languages`, https: `Policy` and `Canonical`; set by the operator.

use crate::harness::{Auth, Options, TestApp};
use axum::http::{Method, StatusCode, header};
use confide_core::clock::Clock;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The fields of a security.txt, checked against RFC 9116; panics on any violation.
fn rfc9116_fields(body: &str, now: OffsetDateTime) -> BTreeMap<String, Vec<String>> {
    const KNOWN: [&str; 7] = [
        "acknowledgments",
        "canonical",
        "contact",
        "encryption",
        "expires",
        "hiring",
        "policy",
    ];
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in body.lines() {
        assert!(!line.contains('\r'), "mixed line ends: {line:?}");
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("not a field: {line:?}"));
        let name = name.to_ascii_lowercase();
        assert!(
            KNOWN.contains(&name.as_str()) || name == "preferred-languages",
            "unknown field {name}"
        );
        assert!(!value.trim().is_empty(), "{name} is empty");
        fields.entry(name).or_default().push(value.to_string());
    }
    let contacts = fields.get("contact").expect("Contact is required (§2.5.3)");
    for c in contacts {
        assert!(
            c.starts_with("mailto:") || c.starts_with("https://") || c.starts_with("tel:"),
            "Contact {c:?} is a URI of mailto:, https: or tel:"
        );
    }
    let expires = fields.get("expires").expect("Expires is required (§2.5.5)");
    assert_eq!(expires.len(), 1, "Expires appears once");
    let at = OffsetDateTime::parse(&expires[0], &Rfc3339).expect("Expires is RFC 3339");
    assert!(at > now, "Expires {at} is in the future of {now}");
    assert!(at <= now + Duration::days(366), "Expires under a year away");
    assert!(
        fields.get("preferred-languages").map_or(0, Vec::len) <= 1,
        "Preferred-Languages at most once"
    );
    for name in ["policy", "canonical", "acknowledgments", "hiring"] {
        for v in fields.get(name).into_iter().flatten() {
            assert!(v.starts_with("https://"), "{name} {v:?} is https");
        }
    }
    fields
}

#[tokio::test]
async fn security_txt_passes_an_rfc_9116_check() {
    let app = TestApp::new().await;
    let r = app
        .call(Method::GET, "/.well-known/security.txt", &Auth::None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ct = r.headers[header::CONTENT_TYPE].to_str().unwrap();
    assert_eq!(ct, "text/plain; charset=utf-8");
    let body = r.body.as_str().unwrap().to_string();
    let now = app.clock.now();
    let f = rfc9116_fields(&body, now);
    assert_eq!(f["contact"], ["mailto:security@confide.example"]);
    assert_eq!(f["preferred-languages"], ["en, pt"]);
    assert!(f.contains_key("policy"));
    // Expires follows the clock: a year later it is still ahead.
    app.clock.advance(Duration::days(365));
    let later = app
        .call(Method::GET, "/.well-known/security.txt", &Auth::None, None)
        .await;
    rfc9116_fields(later.body.as_str().unwrap(), app.clock.now());

    // The operator's own fields.
    let app = TestApp::with_config(Options::default(), |c| {
        c.security_txt.contact = vec![
            "https://example.org/report".into(),
            "mailto:psirt@example.org".into(),
        ];
        c.security_txt.policy = "https://example.org/disclosure".into();
        c.security_txt.preferred_languages = "de, en".into();
        c.security_txt.canonical =
            vec!["https://inbox.example.org/.well-known/security.txt".into()];
        c.security_txt.encryption = Some("https://example.org/pgp.asc".into());
        c.security_txt.expires_days = 30;
    })
    .await
    .unwrap();
    let r = app
        .call(Method::GET, "/.well-known/security.txt", &Auth::None, None)
        .await;
    let f = rfc9116_fields(r.body.as_str().unwrap(), app.clock.now());
    assert_eq!(
        f["contact"],
        ["https://example.org/report", "mailto:psirt@example.org"]
    );
    assert_eq!(f["policy"], ["https://example.org/disclosure"]);
    assert_eq!(f["preferred-languages"], ["de, en"]);
    assert_eq!(f["encryption"], ["https://example.org/pgp.asc"]);
    let expires = OffsetDateTime::parse(&f["expires"][0], &Rfc3339).unwrap();
    assert_eq!(
        expires,
        (app.clock.now() + Duration::days(30))
            .replace_nanosecond(0)
            .unwrap()
    );
}

#[test]
fn a_bad_security_txt_setting_stops_start_up_naming_it() {
    let load = |k: &str, v: &str| {
        confide_app::config::load_from(None, vec![(k.to_string(), v.to_string())])
            .err()
            .map(|e| e.0)
            .unwrap_or_default()
    };
    assert!(
        load("CONFIDE_SECURITY_TXT__CONTACT", "security@example.org")
            .starts_with("security_txt.contact")
    );
    assert!(
        load("CONFIDE_SECURITY_TXT__POLICY", "http://example.org/p")
            .starts_with("security_txt.policy")
    );
    assert!(
        load("CONFIDE_SECURITY_TXT__EXPIRES_DAYS", "400").starts_with("security_txt.expires_days")
    );
}
