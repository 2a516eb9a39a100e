//! Contacts: `GET /api/v1/contacts` (the contact book, newest first, keyset-paginated),
//! `POST /api/v1/contacts` to create, `GET/PATCH /api/v1/contacts/{id}` to read and change one,
//! and the contact's consent ledger: `GET /api/v1/contacts/{id}/consent` to read it with the
//! current consent per purpose, and `POST /api/v1/contacts/{id}/consent` to append an event
//! (C19). The use cases and their rules are `confide_app::contacts`.

use super::conversations::query;
use super::json::{JsonBody, ts};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confide_app::contacts::{
    ConsentEvent, ConsentInput, Contact, ContactEdit, ContactInput, ContactQuery,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

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

/// `GET /api/v1/contacts?q=&label=&cursor=&limit=` → `{"contacts":[...],"next_cursor":...}`,
/// newest first. `label` keeps contacts carrying exactly that label. `q` is an exact lookup by
/// phone number or WhatsApp user id (BSUID) through the blind indexes: names, usernames and
/// attributes are encrypted at rest and are not searchable, so any other `q` is 422
/// `invalid_query`. 400 `invalid_cursor` / `invalid_limit` (1 to 200, default 50).
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    q: Result<Query<ContactQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let page = state.list_contacts(&principal, query(q)?).await?;
    Ok(Json(json!({
        "contacts": page.items.iter().map(contact_json).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

/// `POST /api/v1/contacts` with `{"phone"?, "name"?, "labels"?, "attributes"?}` → 201 with the
/// contact. 422 `invalid_phone` / `invalid_name` / `invalid_labels` / `invalid_attributes`; 409
/// `conflict` when the tenant already has a contact with that phone.
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(b): JsonBody<ContactInput>,
) -> Result<Response, ApiError> {
    let c = state.create_contact(&principal, b).await?;
    Ok((StatusCode::CREATED, Json(contact_json(&c))).into_response())
}

/// A change to a contact: an absent field is unchanged, `null` clears it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ContactChange)]
pub struct PatchBody {
    /// A phone number with its country code, normalised to E.164.
    #[serde(default, deserialize_with = "super::json::present")]
    pub phone: Option<Option<String>>,
    /// The contact's name.
    #[serde(default, deserialize_with = "super::json::present")]
    pub name: Option<Option<String>>,
    /// An array of label strings.
    #[serde(default, deserialize_with = "super::json::present")]
    pub labels: Option<Option<Value>>,
    /// An object of text values.
    #[serde(default, deserialize_with = "super::json::present")]
    pub attributes: Option<Option<Value>>,
}

/// `PATCH /api/v1/contacts/{id}` with any of `{"phone","name","labels","attributes"}` (absent:
/// unchanged; `null` clears) → the contact, validated as for `POST`. 409 `conflict` when the
/// phone is another contact's; 404 `not_found` unless it is the caller's tenant's.
pub async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(contact): Path<String>,
    JsonBody(b): JsonBody<PatchBody>,
) -> Result<Json<Value>, ApiError> {
    let edit = ContactEdit {
        phone: b.phone,
        name: b.name,
        labels: b.labels,
        attributes: b.attributes,
    };
    let c = state.update_contact(&principal, &contact, edit).await?;
    Ok(Json(contact_json(&c)))
}

/// `GET /api/v1/contacts/{id}` → the contact, decrypted.
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(contact): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = state.get_contact(&principal, &contact).await?;
    Ok(Json(contact_json(&c)))
}

/// `GET /api/v1/contacts/{id}/consent` → `{"contact_id","events":[...],"current":{...}}`, the
/// events oldest first.
pub async fn consent(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(contact): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let h = state.consent_history(&principal, &contact).await?;
    let mut current = Map::new();
    for (purpose, status) in &h.current {
        current.insert(
            purpose.as_str().to_string(),
            status.map_or(Value::Null, |s| Value::String(s.as_str().to_string())),
        );
    }
    Ok(Json(json!({
        "contact_id": h.contact.to_string(),
        "events": h.events.iter().map(event_json).collect::<Vec<_>>(),
        "current": current,
    })))
}

/// `POST /api/v1/contacts/{id}/consent` → 201 with the appended event.
pub async fn record_consent(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Path(contact): Path<String>,
    JsonBody(b): JsonBody<ConsentInput>,
) -> Result<Response, ApiError> {
    let request_id = super::session::request_id(&headers);
    let event = state
        .record_consent(&principal, &contact, b, request_id)
        .await?;
    Ok((StatusCode::CREATED, Json(event_json(&event))).into_response())
}

/// `DELETE /api/v1/contacts/{id}` erases the contact and everything of that person: messages,
/// notes, attributes, labels, media and blind-index entries (GDPR Art. 17). Only an opt-out
/// survives, as a tombstone that still blocks sends to the same number. Needs `data.erase`
/// (a person: signed in within the last 15 minutes). → `{"id","erased":{counts}}`; 404 unless
/// the contact is the caller's tenant's.
pub async fn erase(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Path(contact): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let request_id = super::session::request_id(&headers);
    let e = state
        .erase_contact(&principal, &contact, request_id)
        .await?;
    Ok(Json(json!({
        "id": contact,
        "erased": {
            "conversations": e.conversations,
            "messages": e.messages,
            "notes": e.notes,
            "consent_events": e.consent_events,
            "media": e.media.len(),
            "opt_outs_kept": e.tombstoned_purposes,
        }
    })))
}

/// `?format=csv|json` of a contact export.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `csv` (the default) or `json`.
    pub format: Option<String>,
}

/// `GET /api/v1/contacts/export?format=csv|json`: the whole contact book, streamed (CSV cells
/// starting with `= + - @`, a tab or a carriage return are neutralised with `'`). Needs
/// `contacts.export`; audited as `contacts.exported`.
pub async fn export(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let request_id = super::session::request_id(&headers);
    let q = query(q)?;
    let export = state
        .export_contacts(&principal, q.format.as_deref(), request_id)
        .await?;
    let format = export.format;
    let chunks = futures_util::stream::unfold(export.chunks, |mut rx| async move {
        let next = rx.recv().await?;
        let item = next.map_err(|e| {
            tracing::error!(error = %e.message, "contact export stopped");
            std::io::Error::other("the export stopped")
        });
        Some((item, rx))
    });
    let filename = format!("contacts.{}", format.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response())
}

/// `POST /api/v1/contacts/import?mode=partial|all_or_nothing&region=BR&map=...` with a
/// `text/csv` body: `{"mode","imported","updated","rejected":[{"line","reason"}],"committed"}`.
/// The body is read as it arrives (at most 64 MiB). Needs `contacts.write` (and `consent.write`
/// for a consent column); each transaction is audited as `contacts.imported`.
pub async fn import(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    q: Result<Query<confide_app::data::import::ImportOptions>, QueryRejection>,
    body: axum::body::Body,
) -> Result<Json<Value>, ApiError> {
    use futures_util::StreamExt;
    let request_id = super::session::request_id(&headers);
    let mut import = state
        .start_import(&principal, query(q)?, request_id)
        .await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "The body could not be read.",
            )
        })?;
        import.feed(&chunk).await?;
    }
    let report = import.finish().await?;
    Ok(Json(json!(report)))
}
