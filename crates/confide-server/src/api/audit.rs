//! The tenant's audit log (C22): `GET /api/v1/audit` lists its entries, newest first, and
//! `GET /api/v1/audit/verify` walks the sealed hash chain and reports the first bad entry.
//!
//! The list is keyset-paginated like the inbox: a page answers `next_cursor`, an opaque string
//! (null on the last page) to pass back as `cursor` for the next one. A cursor is base64url (no
//! padding) of `a1.<seq>`, the last entry handed out; clients must not build or read them.
//! Audit entries hold ids, codes and counts only, never personal data, so nothing is opened here.

use super::json::ts;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use confide_core::audit::{AuditEntry, ChainBreak};
use confide_store::audit::Verification;
use serde::Deserialize;
use serde_json::{Value, json};

/// The page size when none is asked for.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page a caller may ask for.
pub const MAX_LIMIT: i64 = 200;

const AUDIT_CURSOR: &str = "a1";

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn limit(v: Option<&str>) -> Result<i64, ApiError> {
    let Some(v) = v else {
        return Ok(DEFAULT_LIMIT);
    };
    match v.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(bad_request(
            "invalid_limit",
            format!("limit must be a whole number from 1 to {MAX_LIMIT}."),
        )),
    }
}

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{AUDIT_CURSOR}.{seq}"))
}

/// The sequence number a cursor names; anything else is `invalid_cursor`.
fn decode_cursor(v: &str) -> Result<i64, ApiError> {
    let invalid = || {
        bad_request(
            "invalid_cursor",
            "cursor is not one this list handed out; start again without it.",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(v.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let Some((kind, seq)) = text.split_once('.') else {
        return Err(invalid());
    };
    if kind != AUDIT_CURSOR {
        return Err(invalid());
    }
    match seq.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(invalid()),
    }
}

fn entry_json(e: &AuditEntry) -> Value {
    // Details are stored as the JSON text that was hashed; anything else is shown as text.
    let details = serde_json::from_str::<Value>(&e.details)
        .unwrap_or_else(|_| Value::String(e.details.clone()));
    json!({
        "seq": e.seq,
        "at": ts(e.at_micros),
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "details": details,
        "hash": hex::encode(e.hash),
    })
}

#[derive(Deserialize)]
pub struct ListParams {
    pub action: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// `GET /api/v1/audit?action=&cursor=&limit=` → `{"entries":[...],"next_cursor":...}`, newest
/// first; `action` keeps only entries with exactly that action.
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = q.map_err(|e| {
        bad_request(
            "invalid_query",
            format!("The query string is not understood: {}", e.body_text()),
        )
    })?;
    let limit = limit(p.limit.as_deref())?;
    let before = p.cursor.as_deref().map(decode_cursor).transpose()?;
    let action = p.action.as_deref().map(str::trim).filter(|a| !a.is_empty());
    // One more than asked for tells whether another page follows.
    let mut entries = state
        .store
        .audit_list(principal.tenant, action, before, limit + 1)
        .await?;
    let more = entries.len() as i64 > limit;
    entries.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more {
        entries.last().map(|e| encode_cursor(e.seq))
    } else {
        None
    };
    Ok(Json(json!({
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

/// What kind of tampering a break points to.
fn break_kind(b: &ChainBreak) -> &'static str {
    match b {
        ChainBreak::Altered { .. } => "edited",
        ChainBreak::Forged { .. } => "forged",
        ChainBreak::Missing { .. } | ChainBreak::Truncated { .. } => "deleted",
        ChainBreak::BadLink { .. } => "reordered",
        ChainBreak::HeadMismatch { .. } => "head_mismatch",
    }
}

/// `GET /api/v1/audit/verify` → `{"ok":true,"entries":N}` or
/// `{"ok":false,"entries":N,"break":{"seq":…,"kind":…,"message":…}}`; always 200 when the chain
/// could be read (a broken chain is the answer, not an error). `entries` counts the stored entries.
pub async fn verify(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Value>, ApiError> {
    let v = state.store.audit_verify(principal.tenant).await?;
    Ok(Json(match v {
        Verification::Intact { entries } => json!({"ok": true, "entries": entries}),
        Verification::Broken(b) => {
            let entries = state.store.audit_count(principal.tenant).await?;
            json!({
                "ok": false,
                "entries": entries,
                "break": {
                    "seq": b.seq(),
                    "kind": break_kind(&b),
                    "message": b.to_string(),
                },
            })
        }
    }))
}
