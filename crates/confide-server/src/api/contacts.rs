//! Contacts: `GET /api/v1/contacts` (the contact book, newest first, keyset-paginated like the
//! inbox: an opaque `next_cursor`, base64url of `k1.<created_at micros>.<contact id>`),
//! `POST /api/v1/contacts` to create, `GET/PATCH /api/v1/contacts/{id}` to read and change one,
//! and the contact's consent ledger:
//! `GET /api/v1/contacts/{id}/consent` to read it with the current consent per purpose, and
//! `POST /api/v1/contacts/{id}/consent` to append an event (C19). The ledger is append-only:
//! there is no route to change or remove an event. Every append is audited in the same
//! transaction (C22), with the purpose only (never the source or the evidence, free text that may quote the
//! person).

use super::conversations::{decode_cursor, encode_cursor, limit, query};
use super::json::{JsonBody, id, ts, unprocessable};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use confide_core::audit::AuditEvent;
use confide_core::ids::ContactId;
use confide_core::phone::Phone;
use confide_core::send_gate::{ConsentLedger, ConsentStatus, Purpose};
use confide_store::consent::{ConsentEvent, NewConsent};
use confide_store::contacts::{Contact, ContactChange, ContactCursor, NewContact};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The longest `source` accepted, in characters.
pub const MAX_SOURCE_CHARS: usize = 100;
/// The longest `evidence` accepted, in characters.
pub const MAX_EVIDENCE_CHARS: usize = 2_000;

/// The most labels a contact carries.
pub const MAX_LABELS: usize = 50;
/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 50;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The largest `attributes` object, serialized as JSON, in bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

const CONTACT_CURSOR: &str = "k1";

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

#[derive(Deserialize)]
pub struct ListParams {
    pub q: Option<String>,
    pub label: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// What `q` looks up, exactly, through a blind index.
enum Lookup {
    Phone(Phone),
    WaUser(String),
}

/// `q` is a phone number (normalised to E.164) or a WhatsApp user id (BSUID); anything else is
/// 422 `invalid_query`. Names and other personal data are sealed, so they cannot be searched.
fn lookup(q: &str) -> Result<Lookup, ApiError> {
    if let Ok(p) = Phone::parse(q) {
        return Ok(Lookup::Phone(p));
    }
    if confide_whatsapp::is_bsuid(q) {
        return Ok(Lookup::WaUser(q.to_string()));
    }
    Err(unprocessable(
        "invalid_query",
        "q searches by phone number (with its country code) or WhatsApp user id only; names are encrypted and cannot be searched.",
    ))
}

/// `GET /api/v1/contacts?q=&label=&cursor=&limit=` → `{"contacts":[...],"next_cursor":...}`,
/// newest first. `label` keeps contacts carrying exactly that label. `q` is an exact lookup by
/// phone number or WhatsApp user id (BSUID) through the blind indexes: names, usernames and
/// attributes are encrypted at rest and are not searchable, so any other `q` is 422
/// `invalid_query`. 400 `invalid_cursor` / `invalid_limit` (1 to 200, default 50).
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query(q)?;
    let limit = limit(p.limit.as_deref())?;
    let after = p
        .cursor
        .as_deref()
        .map(|c| decode_cursor(CONTACT_CURSOR, c))
        .transpose()?
        .map(|(created_at, id)| ContactCursor { created_at, id });
    let label = p.label.as_deref().filter(|l| !l.is_empty());
    let lookup =
        p.q.as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(lookup)
            .transpose()?;
    let mut s = state.store.read_scope(principal.tenant).await?;
    let (items, next) = match lookup {
        None => {
            let page = s.list_contacts(label, after, limit).await?;
            (page.items, page.next)
        }
        Some(l) => {
            let found = match l {
                Lookup::Phone(p) => s.find_contact_by_phone(&p).await?,
                Lookup::WaUser(w) => s.find_contact_by_wa_user(&w).await?,
            };
            // At most one: the filters and the cursor still apply, and no page follows.
            let found = found.filter(|c| {
                label.is_none_or(|l| c.labels.iter().any(|x| x == l))
                    && after.is_none_or(|a| (c.created_at, c.id) < (a.created_at, a.id))
            });
            (found.into_iter().collect(), None)
        }
    };
    s.commit().await?;
    Ok(Json(json!({
        "contacts": items.iter().map(contact_json).collect::<Vec<_>>(),
        "next_cursor": next.map(|c| encode_cursor(CONTACT_CURSOR, c.created_at, &c.id.to_string())),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContactBody {
    pub phone: Option<String>,
    pub name: Option<String>,
    pub labels: Option<Value>,
    pub attributes: Option<Value>,
}

fn check_phone(p: &str) -> Result<Phone, ApiError> {
    Phone::parse(p).map_err(|_| {
        unprocessable(
            "invalid_phone",
            "phone must be a phone number with its country code, e.g. +16505551234.",
        )
    })
}

/// A trimmed name; empty is no name.
fn check_name(n: &str) -> Result<Option<String>, ApiError> {
    let n = n.trim();
    if n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(unprocessable(
            "invalid_name",
            format!(
                "name must be at most {MAX_NAME_CHARS} characters, without control characters."
            ),
        ));
    }
    Ok((!n.is_empty()).then(|| n.to_string()))
}

/// An array of labels, each trimmed, 1 to 50 characters, at most 50; repeats are dropped.
fn check_labels(v: &Value) -> Result<Vec<String>, ApiError> {
    let invalid = || {
        unprocessable(
            "invalid_labels",
            format!(
                "labels must be an array of at most {MAX_LABELS} strings of 1 to {MAX_LABEL_CHARS} characters."
            ),
        )
    };
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) if items.len() <= MAX_LABELS => items,
        _ => return Err(invalid()),
    };
    let mut labels: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let l = item.as_str().map(str::trim).ok_or_else(invalid)?;
        let n = l.chars().count();
        if n == 0 || n > MAX_LABEL_CHARS || l.chars().any(char::is_control) {
            return Err(invalid());
        }
        if !labels.iter().any(|x| x == l) {
            labels.push(l.to_string());
        }
    }
    Ok(labels)
}

/// A JSON object of at most 16 KiB serialized.
fn check_attributes(v: &Value) -> Result<Map<String, Value>, ApiError> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) if v.to_string().len() <= MAX_ATTRIBUTES_BYTES => Ok(m.clone()),
        _ => Err(unprocessable(
            "invalid_attributes",
            format!(
                "attributes must be a JSON object of at most {MAX_ATTRIBUTES_BYTES} bytes serialized."
            ),
        )),
    }
}

/// `POST /api/v1/contacts` with `{"phone"?, "name"?, "labels"?, "attributes"?}` → 201 with the
/// contact. The phone is normalised to E.164 (422 `invalid_phone`); 409 `conflict` when the
/// tenant already has a contact with that phone; 422 `invalid_name` / `invalid_labels` /
/// `invalid_attributes`. Created and audited (`contact.created`, ids only) in one transaction.
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(b): JsonBody<NewContactBody>,
) -> Result<Response, ApiError> {
    let phone = b.phone.as_deref().map(check_phone).transpose()?;
    let name = b.name.as_deref().map(check_name).transpose()?.flatten();
    let labels = b.labels.as_ref().map(check_labels).transpose()?;
    let attributes = b.attributes.as_ref().map(check_attributes).transpose()?;
    let new = NewContact {
        phone,
        name,
        labels: labels.unwrap_or_default(),
        attributes: attributes.unwrap_or_default(),
        ..Default::default()
    };
    let mut s = state.store.scope(principal.tenant).await?;
    let c = s.create_contact(new, principal.actor()).await?;
    s.commit().await?;
    Ok((StatusCode::CREATED, Json(contact_json(&c))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "super::json::present")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::json::present")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::json::present")]
    pub labels: Option<Option<Value>>,
    #[serde(default, deserialize_with = "super::json::present")]
    pub attributes: Option<Option<Value>>,
}

/// `PATCH /api/v1/contacts/{id}` with any of `{"phone","name","labels","attributes"}` (absent:
/// unchanged; `null` clears) → the contact, validated as for `POST`. 409 `conflict` when the
/// phone is another contact's; 404 `not_found` unless it is the caller's tenant's. Audited
/// (`contact.updated`) with the names of the changed fields only, in the same transaction.
pub async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(contact): Path<String>,
    JsonBody(b): JsonBody<PatchBody>,
) -> Result<Json<Value>, ApiError> {
    let contact: ContactId = id(&contact)?;
    let change = ContactChange {
        phone: b
            .phone
            .map(|p| p.as_deref().map(check_phone).transpose())
            .transpose()?,
        name: b
            .name
            .map(|n| {
                n.as_deref()
                    .map(check_name)
                    .transpose()
                    .map(Option::flatten)
            })
            .transpose()?,
        labels: b
            .labels
            .map(|l| check_labels(&l.unwrap_or(Value::Null)))
            .transpose()?,
        attributes: b
            .attributes
            .map(|a| check_attributes(&a.unwrap_or(Value::Null)))
            .transpose()?,
    };
    let mut s = state.store.scope(principal.tenant).await?;
    let (c, _) = s.update_contact(contact, change, principal.actor()).await?;
    s.commit().await?;
    Ok(Json(contact_json(&c)))
}

/// `GET /api/v1/contacts/{id}` → the contact, decrypted.
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
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
    Caller(principal): Caller,
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
    Caller(principal): Caller,
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
    // Ids and enumerated values only: the source is free text and stays in the sealed ledger.
    .with_details(json!({"purpose": c.purpose.as_str()}))
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
