//! `GET /.well-known/security.txt` (RFC 9116): where to report a vulnerability, in what
//! languages, under which policy, and until when the file is valid. The operator sets the fields
//! (`security_txt.*`); `Expires` is always `expires_days` ahead of the server's clock, so a
//! deployment never serves a stale file.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use confide_app::config::SecurityTxtConfig;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The path RFC 9116 §3 fixes.
pub const PATH: &str = "/.well-known/security.txt";

/// The file's text for `now` (CRLF line ends are allowed; plain LF is what most tools expect).
pub fn render(c: &SecurityTxtConfig, now: OffsetDateTime) -> String {
    let expires = (now + Duration::days(i64::from(c.expires_days)))
        .replace_nanosecond(0)
        .unwrap_or(now)
        .to_offset(time::UtcOffset::UTC);
    let expires = expires
        .format(&Rfc3339)
        .unwrap_or_else(|_| "2099-01-01T00:00:00Z".to_string());
    let mut out =
        String::from("# Reporting a security problem in this Confide deployment (RFC 9116).\n");
    for contact in &c.contact {
        out.push_str(&format!("Contact: {contact}\n"));
    }
    out.push_str(&format!("Expires: {expires}\n"));
    if let Some(e) = &c.encryption {
        out.push_str(&format!("Encryption: {e}\n"));
    }
    out.push_str(&format!(
        "Preferred-Languages: {}\n",
        c.preferred_languages.trim()
    ));
    for canonical in &c.canonical {
        out.push_str(&format!("Canonical: {canonical}\n"));
    }
    out.push_str(&format!("Policy: {}\n", c.policy));
    out
}

pub async fn serve(State(state): State<AppState>) -> Response {
    let body = render(&state.config.security_txt, state.clock.now());
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            // The file changes only with the configuration and its expiry date.
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}
