//! Contacts: the contact book (an exact search by phone number or WhatsApp user id, a label
//! filter), a contact with its consent history, and the edit form (name, labels, attributes).
//! The use cases are `confide_app::contacts`, the same as `/api/v1/contacts`.

use super::page::{self, Form, Viewer, render, see_other};
use super::{Chrome, format};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use confide_app::contacts::{ConsentInput, ContactEdit, ContactQuery};
use confide_core::permissions::Permission;
use serde::Deserialize;
use serde_json::{Map, Value};

pub struct ContactRow {
    id: String,
    name: String,
    initials: String,
    phone: String,
    labels: Vec<String>,
    added: String,
}

#[derive(Template)]
#[template(path = "web/contacts.html")]
struct ContactsPage {
    chrome: Chrome,
    q: String,
    label: String,
    rows: Vec<ContactRow>,
    next_cursor: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ContactsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    cursor: Option<String>,
}

fn name_of(c: &confide_app::contacts::Contact) -> String {
    c.name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| c.username.as_ref().map(|u| format!("@{u}")))
        .or_else(|| c.phone.as_ref().map(|p| p.as_str().to_string()))
        .unwrap_or_else(|| "Unnamed contact".into())
}

/// `GET /contacts?q=&label=`.
pub async fn list_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<ContactsQuery>,
) -> Response {
    let query = ContactQuery {
        q: Some(q.q.clone()).filter(|s| !s.trim().is_empty()),
        label: Some(q.label.clone()).filter(|s| !s.trim().is_empty()),
        cursor: q.cursor.clone(),
        limit: None,
    };
    let now = state.clock.now_micros();
    let (rows, next_cursor, error) = match state.list_contacts(&v.principal, query).await {
        Ok(page) => (
            page.items
                .iter()
                .map(|c| {
                    let name = name_of(c);
                    ContactRow {
                        id: c.id.to_string(),
                        initials: format::initials(&name),
                        name,
                        phone: c
                            .phone
                            .as_ref()
                            .map(|p| p.as_str().to_string())
                            .or_else(|| c.username.as_ref().map(|u| format!("@{u}")))
                            .unwrap_or_default(),
                        labels: c.labels.clone(),
                        added: format::short(c.created_at, now),
                    }
                })
                .collect(),
            page.next_cursor,
            None,
        ),
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            if api.status.is_server_error() || api.status == StatusCode::FORBIDDEN {
                return page::plain_error(api.status, &api.message);
            }
            (vec![], None, Some(api.message))
        }
    };
    render(
        StatusCode::OK,
        &ContactsPage {
            chrome: Chrome::new(&v, "/contacts", "Contacts"),
            q: q.q,
            label: q.label,
            rows,
            next_cursor,
            error,
        },
    )
}

pub struct ConsentRow {
    purpose: String,
    status: String,
    opted_in: bool,
    source: String,
    evidence: String,
    actor: String,
    when: String,
    when_iso: String,
}

pub struct CurrentConsent {
    purpose: String,
    label: String,
    class: &'static str,
}

pub struct ContactConversation {
    id: String,
    resolved: bool,
    last: String,
    window_open: bool,
}

#[derive(Template)]
#[template(path = "web/contact.html")]
struct ContactPage {
    chrome: Chrome,
    id: String,
    name: String,
    initials: String,
    phone: String,
    username: String,
    labels: Vec<String>,
    labels_text: String,
    attributes: Vec<(String, String)>,
    attributes_text: String,
    added: String,
    current: Vec<CurrentConsent>,
    history: Vec<ConsentRow>,
    conversations: Vec<ContactConversation>,
    can_edit: bool,
    can_consent: bool,
    error: Option<String>,
    saved: bool,
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn detail(
    state: &AppState,
    v: &Viewer,
    id: &str,
    error: Option<String>,
    saved: bool,
) -> Response {
    let c = match state.get_contact(&v.principal, id).await {
        Ok(c) => c,
        Err(e) => return page::app_error(e),
    };
    let history = match state.consent_history(&v.principal, id).await {
        Ok(h) => h,
        Err(e) => return page::app_error(e),
    };
    let now = state.clock.now_micros();
    let conversations = if v.can(Permission::InboxRead) {
        match state.contact_conversations(&v.principal, id).await {
            Ok(list) => list
                .iter()
                .map(|k| ContactConversation {
                    id: k.id.to_string(),
                    resolved: k.status == "resolved",
                    last: format::full(k.last_message_at),
                    window_open: confide_core::send_gate::window_closes_at(k.last_inbound_at)
                        .is_some_and(|t| t > now),
                })
                .collect(),
            Err(e) => return page::app_error(e),
        }
    } else {
        vec![]
    };
    let name = name_of(&c);
    let attributes: Vec<(String, String)> = c
        .attributes
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    let page = ContactPage {
        chrome: Chrome::new(v, "/contacts", name.clone()),
        id: c.id.to_string(),
        initials: format::initials(&name),
        name: c.name.clone().unwrap_or_default(),
        phone: c
            .phone
            .as_ref()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        username: c.username.clone().unwrap_or_default(),
        labels_text: c.labels.join(", "),
        labels: c.labels.clone(),
        attributes_text: attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        attributes,
        added: format::date(c.created_at),
        current: history
            .current
            .iter()
            .map(|(p, s)| {
                let (label, class) = match s.map(|s| s.as_str()) {
                    Some("opted_in") => ("Opted in", "pill-green"),
                    Some("opted_out") => ("Opted out", "pill-red"),
                    _ => ("Not asked", "pill-gray"),
                };
                CurrentConsent {
                    purpose: p.as_str().to_string(),
                    label: label.to_string(),
                    class,
                }
            })
            .collect(),
        history: history
            .events
            .iter()
            .rev()
            .map(|e| ConsentRow {
                purpose: e.purpose.clone(),
                opted_in: e.status == "opted_in",
                status: e.status.replace('_', " "),
                source: e.source.clone(),
                evidence: e.evidence.clone().unwrap_or_default(),
                actor: e.actor.clone(),
                when: format::full(e.created_at),
                when_iso: format::iso(e.created_at),
            })
            .collect(),
        conversations,
        can_edit: v.can(Permission::ContactsWrite),
        can_consent: v.can(Permission::ConsentWrite),
        error,
        saved,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

/// `GET /contacts/{id}`.
pub async fn detail_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    detail(&state, &v, &id, None, q.saved.is_some()).await
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    attributes: String,
}

/// Labels typed as a comma-separated list.
fn labels_of(text: &str) -> Value {
    let mut seen: Vec<String> = Vec::new();
    for l in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if !seen.iter().any(|s| s == l) {
            seen.push(l.to_string());
        }
    }
    Value::Array(seen.into_iter().map(Value::String).collect())
}

/// Attributes typed as `key=value` lines.
fn attributes_of(text: &str) -> Result<Value, String> {
    let mut map = Map::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!(
                "Write each attribute as key=value on its own line (“{line}” has no =)."
            ));
        };
        map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
    }
    Ok(Value::Object(map))
}

/// `POST /contacts/{id}`: `update_contact` with the name, labels and attributes.
pub async fn edit(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<EditForm>,
) -> Response {
    let attributes = match attributes_of(&f.attributes) {
        Ok(a) => a,
        Err(msg) => return detail(&state, &v, &id, Some(msg), false).await,
    };
    let name = f.name.trim();
    let edit = ContactEdit {
        phone: None,
        name: Some((!name.is_empty()).then(|| name.to_string())),
        labels: Some(Some(labels_of(&f.labels))),
        attributes: Some(Some(attributes)),
    };
    match state.update_contact(&v.principal, &id, edit).await {
        Ok(c) => see_other(&format!("/contacts/{}?saved=1", c.id)),
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            if api.status == StatusCode::NOT_FOUND || api.status.is_server_error() {
                return page::plain_error(api.status, &api.message);
            }
            detail(&state, &v, &id, Some(api.message), false).await
        }
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    evidence: String,
}

/// `POST /contacts/{id}/consent`: `record_consent` (append-only, audited).
pub async fn record_consent(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<ConsentForm>,
) -> Response {
    let input = ConsentInput {
        purpose: Some(f.purpose),
        status: Some(f.status),
        source: Some(f.source),
        evidence: Some(f.evidence).filter(|e| !e.trim().is_empty()),
    };
    match state.record_consent(&v.principal, &id, input, None).await {
        Ok(_) => see_other(&format!("/contacts/{id}")),
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            if api.status == StatusCode::NOT_FOUND || api.status.is_server_error() {
                return page::plain_error(api.status, &api.message);
            }
            detail(&state, &v, &id, Some(api.message), false).await
        }
    }
}
