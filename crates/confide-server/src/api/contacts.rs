//! Contacts: `GET /api/v1/contacts/{id}`, and the contact's consent ledger:
//! `GET /api/v1/contacts/{id}/consent` to read it with the current consent per purpose, and
//! `POST /api/v1/contacts/{id}/consent` to append an event (C19). The ledger is append-only:
//! there is no route to change or remove an event. Every append is audited in the same
//! transaction (C22), with the purpose and source only (never the evidence, which may quote the
//! person).

use super::json::{JsonBody, id, ts, unprocessable};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use confide_core::audit::AuditEvent;
use confide_core::ids::ContactId;
use confide_core::send_gate::{ConsentLedger, ConsentStatus, Purpose};
use confide_store::consent::{ConsentEvent, NewConsent};
use confide_store::contacts::Contact;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The longest `source` accepted, in characters.
pub const MAX_SOURCE_CHARS: usize = 100;
/// The longest `evidence` accepted, in characters.
pub const MAX_EVIDENCE_CHARS: usize = 2_000;

fn contact_json(c: &Contact) -> Value {
    json!({
        "id": c.id.to_string(),
        "phone": c.phone.as_ref().map(|p| p.as_str().to_string()),
        "wa_user_id": c.wa_user_id,
        "username": c.username,
        "name": c.name,
        "labels": c.labels,
        "attributes": c.attributes,
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
    })
}

fn event_json(e: &ConsentEvent) -> Value {
    json!({
        "id": e.id.to_string(),
        "purpose": e.purpose,
        "status": e.status,
        "source": e.source,
        "evidence": e.evidence,
        "actor": e.actor,
        "created_at": ts(e.created_at),
    })
}

/// The current consent per purpose, folded by the send gate's own ledger so the API and the gate
/// agree. A row the gate cannot read is an error, never a silent skip.
fn current_json(events: &[ConsentEvent]) -> Result<Value, ApiError> {
    let ledger = ConsentLedger::from_rows(
        events
            .iter()
            .map(|e| (e.purpose.as_str(), e.status.as_str(), e.created_at)),
    )
    .map_err(|e| {
        tracing::error!(error = %e, "unreadable consent ledger");
        ApiError::internal()
    })?;
    let mut current = Map::new();
    for p in Purpose::ALL {
        current.insert(
            p.as_str().to_string(),
            ledger
                .status(p)
                .map_or(Value::Null, |s| Value::String(s.as_str().to_string())),
        );
    }
    Ok(Value::Object(current))
}

/// `GET /api/v1/contacts/{id}` → the contact, decrypted.
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(contact): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let contact: ContactId = id(&contact)?;
    let mut s = state.store.read_scope(principal.tenant).await?;
    let c = s.get_contact(contact).await?;
    s.commit().await?;
    Ok(Json(contact_json(&c)))
}

/// `GET /api/v1/contacts/{id}/consent` → `{"contact_id","events":[...],"current":{...}}`, the
/// events oldest first.
pub async fn consent(
    State(state): State<AppState>,
    principal: Principal,
    Path(contact): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let contact: ContactId = id(&contact)?;
    let mut s = state.store.read_scope(principal.tenant).await?;
    s.get_contact(contact).await?;
    let events = s.consent_history(contact).await?;
    s.commit().await?;
    Ok(Json(json!({
        "contact_id": contact.to_string(),
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
        "current": current_json(&events)?,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConsentBody {
    pub purpose: Option<String>,
    pub status: Option<String>,
    pub source: Option<String>,
    pub evidence: Option<String>,
}

/// A checked consent body.
struct Checked {
    purpose: Purpose,
    status: ConsentStatus,
    source: String,
    evidence: Option<String>,
}

fn check(b: NewConsentBody) -> Result<Checked, ApiError> {
    let purpose = b
        .purpose
        .as_deref()
        .and_then(|p| p.parse::<Purpose>().ok())
        .ok_or_else(|| {
            unprocessable(
                "invalid_purpose",
                "purpose must be marketing, utility or service.",
            )
        })?;
    let status = b
        .status
        .as_deref()
        .and_then(|s| s.parse::<ConsentStatus>().ok())
        .ok_or_else(|| unprocessable("invalid_status", "status must be opted_in or opted_out."))?;
    let source = b.source.as_deref().map(str::trim).unwrap_or_default();
    let source_chars = source.chars().count();
    if source_chars == 0 || source_chars > MAX_SOURCE_CHARS || source.chars().any(char::is_control)
    {
        return Err(unprocessable(
            "invalid_source",
            format!(
                "source is required: 1 to {MAX_SOURCE_CHARS} characters saying where the consent came from."
            ),
        ));
    }
    let evidence = match b.evidence {
        Some(e) if e.chars().count() > MAX_EVIDENCE_CHARS => {
            return Err(unprocessable(
                "invalid_evidence",
                format!("evidence must be at most {MAX_EVIDENCE_CHARS} characters."),
            ));
        }
        Some(e) if e.trim().is_empty() => None,
        other => other,
    };
    Ok(Checked {
        purpose,
        status,
        source: source.to_string(),
        evidence,
    })
}

/// `POST /api/v1/contacts/{id}/consent` → 201 with the appended event. The append and its audit
/// entry (`consent.opted_in` / `consent.opted_out`) are one transaction.
pub async fn record_consent(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(contact): Path<String>,
    JsonBody(b): JsonBody<NewConsentBody>,
) -> Result<Response, ApiError> {
    let contact: ContactId = id(&contact)?;
    let c = check(b)?;
    let actor = principal.actor();
    let at = state.clock.now_micros();
    let mut s = state.store.scope(principal.tenant).await?;
    s.get_contact(contact).await?;
    let new = NewConsent {
        purpose: c.purpose.as_str().to_string(),
        status: c.status.as_str().to_string(),
        source: c.source.clone(),
        evidence: c.evidence.clone(),
        actor: actor.to_string(),
        at_micros: at,
        dedupe_key: None,
    };
    let Some(event_id) = s.append_consent(contact, new).await? else {
        tracing::error!("a consent event without a dedupe key was not appended");
        return Err(ApiError::internal());
    };
    let audit = AuditEvent::new(
        actor.clone(),
        format!("consent.{}", c.status.as_str()),
        format!("contact:{contact}"),
    )
    .with_details(json!({"purpose": c.purpose.as_str(), "source": c.source}))
    .with_request_id(super::session::request_id(&headers));
    s.audit(&audit).await?;
    s.commit().await?;
    let event = ConsentEvent {
        id: event_id,
        contact_id: contact,
        purpose: c.purpose.as_str().to_string(),
        status: c.status.as_str().to_string(),
        source: c.source,
        evidence: c.evidence,
        actor: actor.to_string(),
        created_at: at,
    };
    Ok((StatusCode::CREATED, Json(event_json(&event))).into_response())
}
