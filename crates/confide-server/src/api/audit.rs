//! The tenant's audit log (C22): `GET /api/v1/audit` lists its entries, newest first, and
//! `GET /api/v1/audit/verify` walks the sealed hash chain and reports the first bad entry. The
//! use cases are `confide_app::audit`; the list is keyset-paginated with an opaque cursor.

use super::conversations::query;
use super::json::ts;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use confide_app::audit::{AuditEntry, AuditQuery, ChainReport, break_kind};
use serde_json::{Value, json};

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

/// `GET /api/v1/audit?action=&cursor=&limit=` → `{"entries":[...],"next_cursor":...}`, newest
/// first; `action` keeps only entries with exactly that action.
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let page = state.list_audit(&principal, query(q)?).await?;
    Ok(Json(json!({
        "entries": page.items.iter().map(entry_json).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

/// `GET /api/v1/audit/verify` → `{"ok":true,"entries":N}` or
/// `{"ok":false,"entries":N,"break":{"seq":…,"kind":…,"message":…}}`; always 200 when the chain
/// could be read (a broken chain is the answer, not an error).
pub async fn verify(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(match state.verify_audit(&principal).await? {
        ChainReport::Intact { entries } => json!({"ok": true, "entries": entries}),
        ChainReport::Broken { entries, at } => json!({
            "ok": false,
            "entries": entries,
            "break": {
                "seq": at.seq(),
                "kind": break_kind(&at),
                "message": at.to_string(),
            },
        }),
    }))
}
