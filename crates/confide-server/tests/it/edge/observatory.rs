//! C25: the Mozilla HTTP Observatory's rules, applied to the real responses of every route of the
//! route table and every route outside it (health, webhooks, security.txt), as an anonymous caller
//! and as a signed-in owner (so 200s, 401s, 403s, 404s, 405s, 413s, 422s and 429s are all scored),
//! over HTTPS (a trusted TLS-terminating proxy's `X-Forwarded-Proto: https`) and plain HTTP. Every
//! response must grade A+ (score 100 or more, no failed test).
//!
//! The tests and their modifiers are the Observatory's (github.com/mozilla/http-observatory,
//! scoring document): content-security-policy, cookies, cross-origin-resource-sharing,
//! redirection, referrer-policy, strict-transport-security, subresource-integrity,
//! x-content-type-options, x-frame-options; plus COOP and CORP, which its v2 reports.

use crate::harness::{Auth, Options, Resp, TestApp};
use axum::http::{Method, StatusCode, header};
use serde_json::json;

/// Where the test requests come from: the TLS-terminating proxy.
const PROXY: &str = "203.0.113.10";

fn header_str<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The directives of a CSP: name → sources.
fn csp(policy: &str) -> Vec<(String, Vec<String>)> {
    policy
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut parts = d.split_whitespace();
            let name = parts.next().unwrap_or("").to_ascii_lowercase();
            (name, parts.map(str::to_string).collect())
        })
        .collect()
}

/// The Observatory's score of one response (100 baseline), and the tests it fails.
fn grade(r: &Resp, https: bool) -> (i32, Vec<String>) {
    let mut score = 100;
    let mut failed = Vec::new();
    let mut fail = |score: &mut i32, points: i32, what: String| {
        *score += points;
        failed.push(what);
    };
    // content-security-policy
    match header_str(r, "content-security-policy") {
        None => fail(&mut score, -25, "csp-not-implemented".into()),
        Some(p) => {
            let d = csp(p);
            let get = |n: &str| d.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            let default = get("default-src");
            let script = get("script-src").or_else(|| default.clone());
            let style = get("style-src").or_else(|| default.clone());
            let object = get("object-src").or_else(|| default.clone());
            let unsafe_src = |v: &Option<Vec<String>>, bad: &[&str]| {
                v.as_ref().is_none_or(|v| {
                    v.iter().any(|s| {
                        bad.contains(&s.as_str())
                            || s == "*"
                            || s.eq_ignore_ascii_case("http:")
                            || s.eq_ignore_ascii_case("https:")
                    })
                })
            };
            if unsafe_src(&script, &["'unsafe-inline'", "'unsafe-eval'", "data:"]) {
                fail(
                    &mut score,
                    -20,
                    format!("csp-implemented-but-unsafe-script: {p}"),
                );
            } else if unsafe_src(&object, &[]) {
                fail(&mut score, -20, format!("csp-unsafe-object: {p}"));
            } else if unsafe_src(&style, &["'unsafe-inline'"]) {
                fail(&mut score, 0, format!("csp-unsafe-inline-style: {p}"));
            } else if default.as_deref() == Some(&["'none'".to_string()]) {
                score += 10; // csp-implemented-with-no-unsafe-default-src-none
            } else {
                score += 5; // csp-implemented-with-no-unsafe
            }
        }
    }
    // cookies
    let cookies: Vec<&str> = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !cookies.is_empty() {
        let all = |flag: &str| {
            cookies.iter().all(|c| {
                c.split(';')
                    .any(|a| a.trim().to_ascii_lowercase().starts_with(flag))
            })
        };
        if !all("secure") {
            fail(&mut score, -20, "cookies-without-secure-flag".into());
        } else if !all("httponly") {
            fail(
                &mut score,
                -30,
                "cookies-session-without-httponly-flag".into(),
            );
        } else if !all("samesite=strict") && !all("samesite=lax") {
            fail(&mut score, 0, "cookies-samesite-flag-invalid".into());
        } else {
            score += 5; // cookies-secure-with-httponly-sessions-and-samesite
        }
        for c in &cookies {
            if !c.starts_with("__Host-") {
                fail(&mut score, 0, format!("cookie without __Host- prefix: {c}"));
            }
        }
    }
    // cross-origin-resource-sharing
    if let Some(o) = header_str(r, "access-control-allow-origin") {
        fail(
            &mut score,
            -50,
            format!("cross-origin-resource-sharing-implemented-with-universal-access: {o}"),
        );
    }
    // redirection: only to https (or a path on this origin)
    if r.status.is_redirection() {
        let loc = header_str(r, "location").unwrap_or("");
        if !(loc.starts_with("https://") || (loc.starts_with('/') && !loc.starts_with("//"))) {
            fail(&mut score, -20, format!("redirection-not-to-https: {loc}"));
        }
    }
    // referrer-policy
    match header_str(r, "referrer-policy") {
        Some(
            "no-referrer" | "same-origin" | "strict-origin" | "strict-origin-when-cross-origin",
        ) => {
            score += 5; // referrer-policy-private
        }
        other => fail(&mut score, -5, format!("referrer-policy-unsafe: {other:?}")),
    }
    // strict-transport-security
    match (https, header_str(r, "strict-transport-security")) {
        (true, Some(v)) => {
            let max_age = v
                .split(';')
                .filter_map(|d| d.trim().strip_prefix("max-age="))
                .find_map(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            if max_age < 15_552_000 {
                fail(
                    &mut score,
                    -10,
                    format!("hsts-implemented-max-age-less-than-six-months: {v}"),
                );
            }
            if max_age != 31_536_000 || !v.contains("includeSubDomains") {
                fail(
                    &mut score,
                    0,
                    format!("hsts not one year with includeSubDomains: {v}"),
                );
            }
        }
        (true, None) => fail(&mut score, -20, "hsts-not-implemented".into()),
        // RFC 6797 §7.2: never over plain HTTP.
        (false, Some(v)) => fail(&mut score, 0, format!("hsts over plain http: {v}")),
        (false, None) => {}
    }
    // subresource-integrity (HTML only): every script from elsewhere has an integrity hash
    let html = header_str(r, "content-type").is_some_and(|c| c.starts_with("text/html"));
    if html {
        let body = r.body.as_str().unwrap_or("");
        for tag in body.split("<script").skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            let external = tag.contains("src=\"http") || tag.contains("src=\"//");
            if external && !tag.contains("integrity=") {
                fail(
                    &mut score,
                    -50,
                    format!("sri-not-implemented-but-external-scripts-loaded: {tag}"),
                );
            }
        }
    }
    // x-content-type-options
    if header_str(r, "x-content-type-options") != Some("nosniff") {
        fail(
            &mut score,
            -5,
            "x-content-type-options-not-implemented".into(),
        );
    }
    // x-frame-options (or CSP frame-ancestors, which earns the bonus)
    let ancestors = header_str(r, "content-security-policy")
        .map(csp)
        .and_then(|d| d.into_iter().find(|(k, _)| k == "frame-ancestors"))
        .map(|(_, v)| v);
    match ancestors.as_deref() {
        Some([only]) if only == "'none'" || only == "'self'" => score += 5,
        _ => {
            if !matches!(
                header_str(r, "x-frame-options"),
                Some("DENY" | "SAMEORIGIN")
            ) {
                fail(&mut score, -20, "x-frame-options-not-implemented".into());
            }
        }
    }
    // cross-origin isolation headers (Observatory v2 reports them)
    if header_str(r, "cross-origin-opener-policy") != Some("same-origin") {
        fail(&mut score, 0, "cross-origin-opener-policy missing".into());
    }
    if !matches!(
        header_str(r, "cross-origin-resource-policy"),
        Some("same-origin" | "same-site")
    ) {
        fail(&mut score, 0, "cross-origin-resource-policy missing".into());
    }
    (score, failed)
}

/// A path with every `{param}` filled with a fresh id.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "0190a7a4-0000-7000-8000-00000000beef".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_grades_a_plus_on_the_observatory_rules_including_errors() {
    let app = TestApp::with_config(Options::default(), |c| {
        c.trusted_proxies = vec![PROXY.into()];
        // One tight limit, so a 429 of the edge is scored too.
        c.rate_limits.exports_per_address = 1;
        c.limits.api_body_bytes = 4096;
    })
    .await
    .unwrap();
    let proxy = PROXY.parse().unwrap();
    let t = app.tenant("Observed").await;
    // The edge's own answers first (the owner's session is still alive for them).
    let mut routes: Vec<(Method, String)> = vec![
        (Method::GET, "/.well-known/security.txt".to_string()),
        (Method::GET, "/no/such/page".to_string()),
        (Method::PUT, "/api/v1/me".to_string()),
        (Method::POST, "/api/v1/exports".to_string()),
        (Method::POST, "/api/v1/exports".to_string()),
    ];
    routes.extend(
        confide_server::api::route_specs()
            .into_iter()
            .map(|s| (s.method, concrete(s.path)))
            .chain(
                confide_server::api::openapi::extra_routes()
                    .into_iter()
                    .map(|(m, p)| (m, concrete(p))),
            ),
    );
    let mut statuses = std::collections::BTreeSet::new();
    let mut graded = 0;
    for https in [true, false] {
        let proto = if https { "https" } else { "http" };
        // The owner's session is ended by `DELETE /api/v1/session`: the anonymous pass first, then
        // the signed-in one with a fresh session.
        let owner = app.login(&t.owner.email, &t.owner.password).await;
        for auth in [Auth::None, owner] {
            for (method, path) in &routes {
                let r = app
                    .call_with(
                        proxy,
                        method.clone(),
                        path,
                        &auth,
                        None,
                        &[("x-forwarded-proto", proto)],
                    )
                    .await;
                statuses.insert(r.status.as_u16());
                let (score, failed) = grade(&r, https);
                assert!(
                    failed.is_empty() && score >= 100,
                    "{method} {path} ({proto}, {auth:?}) → {}: score {score}, failed {failed:?}",
                    r.status
                );
                graded += 1;
            }
        }
        // A sign-in (its cookie is scored), a body over the limit, a bad webhook signature.
        let r = app
            .call_with(
                proxy,
                Method::POST,
                "/api/v1/session",
                &Auth::None,
                Some(json!({"email": t.owner.email, "password": t.owner.password})),
                &[("x-forwarded-proto", proto)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.headers.contains_key(header::SET_COOKIE));
        let big = json!({"name": "x".repeat(8192)});
        let too_big = app
            .call_with(
                proxy,
                Method::POST,
                "/api/v1/contacts",
                &owner_of(&r),
                Some(big),
                &[("x-forwarded-proto", proto)],
            )
            .await;
        assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
        let invalid = app
            .call_with(
                proxy,
                Method::POST,
                "/api/v1/contacts",
                &owner_of(&r),
                Some(json!({"phone": "not a phone"})),
                &[("x-forwarded-proto", proto)],
            )
            .await;
        assert_eq!(
            invalid.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            invalid.body
        );
        for r in [r, too_big, invalid] {
            let (score, failed) = grade(&r, https);
            assert!(
                failed.is_empty() && score >= 100,
                "{}: {score} {failed:?}",
                r.status
            );
            statuses.insert(r.status.as_u16());
            graded += 1;
        }
    }
    for s in [200, 401, 403, 404, 405, 413, 422, 429] {
        assert!(statuses.contains(&s), "a {s} was scored: {statuses:?}");
    }
    assert!(graded > 200, "{graded} responses graded");
}

fn owner_of(login: &Resp) -> Auth {
    crate::harness::session_of(login)
}

#[tokio::test]
async fn hsts_only_over_https_and_a_client_cannot_claim_it() {
    let app = TestApp::with_config(Options::default(), |c| {
        c.trusted_proxies = vec!["10.0.0.0/8".into()];
    })
    .await
    .unwrap();
    let hsts = |r: &Resp| header_str(r, "strict-transport-security").map(str::to_string);
    let get = |ip: &str, proto: Option<&'static str>| {
        let ip = ip.parse().unwrap();
        let headers: Vec<(&str, &str)> = proto
            .map(|p| ("x-forwarded-proto", p))
            .into_iter()
            .collect();
        let app = &app;
        async move {
            app.call_with(ip, Method::GET, "/healthz", &Auth::None, None, &headers)
                .await
        }
    };
    // From the trusted proxy: https → HSTS for a year with subdomains; http → none.
    let r = get("10.0.0.2", Some("https")).await;
    assert_eq!(
        hsts(&r).as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(hsts(&get("10.0.0.2", Some("http")).await), None);
    assert_eq!(hsts(&get("10.0.0.2", None).await), None);
    // A direct client saying https is not believed (it is on plain HTTP).
    assert_eq!(hsts(&get("198.51.100.7", Some("https")).await), None);
}
