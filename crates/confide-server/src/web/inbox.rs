//! The inbox: the conversation list (open, mine, unassigned, resolved, all; by label; a search
//! by phone number or WhatsApp user id, as the API's `label` and `q`), a conversation
//! (messages with their statuses and failure reasons, quoted replies, notes, assignment, the
//! 24-hour window), and the composer, which offers approved templates with their parameters
//! once the window has closed and says why. The use cases are `confide_app::conversations`,
//! `confide_app::notes`, `confide_app::templates` and `send_message` (the API's own).

use super::page::{self, Form, Viewer, render, see_other};
use super::{Chrome, format};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use confide_app::AppError;
use confide_app::conversations::{ConversationQuery, ConversationUpdate, Direction, MessageQuery};
use confide_core::permissions::Permission;
use confide_core::send_gate::window_closes_at;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The most template parameters the composer offers fields for.
const MAX_PARAMS: usize = 20;

/// `GET /`: the inbox (the sign-in page for a visitor).
pub async fn home(_v: Viewer) -> Response {
    see_other("/inbox")
}

pub struct ViewTab {
    key: &'static str,
    label: &'static str,
    active: bool,
}

pub struct ConvRow {
    id: String,
    name: String,
    initials: String,
    detail: String,
    time: String,
    time_iso: String,
    resolved: bool,
    window_open: bool,
    assignee: String,
    active: bool,
    /// Customer messages since the team last opened it (not shown for the open one).
    unread: i64,
}

pub struct ThreadItem {
    /// `in`, `out` or `note`.
    side: &'static str,
    id: String,
    text: String,
    time: String,
    time_iso: String,
    status: String,
    status_label: String,
    failed: bool,
    error: Option<String>,
    author: String,
    quote: Option<String>,
}

pub struct Canned {
    shortcut: String,
    text: String,
}

pub struct TemplateOption {
    id: String,
    label: String,
    selected: bool,
}

pub struct ParamField {
    name: String,
    label: String,
    value: String,
}

pub struct ChosenTemplate {
    id: String,
    name: String,
    language: String,
    category: String,
    body: String,
    preview: String,
    params: Vec<ParamField>,
}

pub struct UserOption {
    id: String,
    email: String,
    selected: bool,
}

pub struct ConvoView {
    id: String,
    contact_id: String,
    name: String,
    initials: String,
    phone: String,
    resolved: bool,
    assignee_label: String,
    assigned_to_me: bool,
    can_assign: bool,
    can_reply: bool,
    window_open: bool,
    window_label: String,
    closes_iso: String,
    items: Vec<ThreadItem>,
    error: Option<String>,
    draft: String,
    note_draft: String,
    canned: Vec<Canned>,
    templates: Vec<TemplateOption>,
    template: Option<ChosenTemplate>,
    users: Vec<UserOption>,
}

#[derive(Template)]
#[template(path = "web/inbox.html")]
struct InboxPage {
    chrome: Chrome,
    view: &'static str,
    /// The label and search the list is filtered by (empty: none).
    label: String,
    search: String,
    /// `&label=…&q=…` for links that keep the filters (URL-encoded; escaped by the template).
    filter_qs: String,
    /// Why the search found nothing it could look for, in plain words.
    search_error: Option<String>,
    tabs: Vec<ViewTab>,
    rows: Vec<ConvRow>,
    next_cursor: Option<String>,
    convo: Option<ConvoView>,
}

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    canned: Option<String>,
}

const VIEWS: [(&str, &str); 5] = [
    ("open", "Open"),
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("resolved", "Resolved"),
    ("all", "All"),
];

fn view_key(v: Option<&str>) -> &'static str {
    VIEWS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| Some(*k) == v)
        .unwrap_or("open")
}

fn display_name(name: Option<&str>, username: Option<&str>, phone: Option<&str>) -> String {
    name.filter(|n| !n.trim().is_empty())
        .map(str::to_string)
        .or_else(|| username.map(|u| format!("@{u}")))
        .or_else(|| phone.map(str::to_string))
        .unwrap_or_else(|| "Unknown contact".into())
}

fn my_id(v: &Viewer) -> Option<String> {
    match &v.principal.kind {
        confide_app::PrincipalKind::User { user_id, .. } => Some(user_id.to_string()),
        _ => None,
    }
}

/// The list's label and search filters, as the page was asked for them.
struct Filters {
    label: String,
    search: String,
}

impl Filters {
    fn of(q: &InboxQuery) -> Filters {
        let clean = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_string();
        Filters {
            label: clean(&q.label),
            search: clean(&q.q),
        }
    }

    /// `&label=…&q=…` (only those set), URL-encoded.
    fn qs(&self) -> String {
        let mut pairs = Vec::new();
        if !self.label.is_empty() {
            pairs.push(("label", self.label.as_str()));
        }
        if !self.search.is_empty() {
            pairs.push(("q", self.search.as_str()));
        }
        match serde_urlencoded::to_string(&pairs) {
            Ok(s) if !s.is_empty() => format!("&{s}"),
            _ => String::new(),
        }
    }
}

async fn rows(
    state: &AppState,
    v: &Viewer,
    view: &'static str,
    cursor: Option<String>,
    selected: Option<&str>,
    filters: &Filters,
) -> Result<(Vec<ConvRow>, Option<String>), AppError> {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let mut q = ConversationQuery {
        cursor,
        label: non_empty(&filters.label),
        q: non_empty(&filters.search),
        ..ConversationQuery::default()
    };
    match view {
        "open" => q.status = Some("open".into()),
        "resolved" => q.status = Some("resolved".into()),
        "unassigned" => {
            q.status = Some("open".into());
            q.assignee = Some("none".into());
        }
        "mine" => {
            q.status = Some("open".into());
            q.assignee = Some(my_id(v).unwrap_or_else(|| "none".into()));
        }
        _ => {}
    }
    let page = state.list_conversations(&v.principal, q).await?;
    let now = state.clock.now_micros();
    let me = my_id(v);
    let rows = page
        .items
        .iter()
        .map(|c| {
            let name = display_name(
                c.contact_name.as_deref(),
                c.contact_username.as_deref(),
                c.contact_phone.as_deref(),
            );
            let id = c.id.to_string();
            ConvRow {
                initials: format::initials(&name),
                detail: c
                    .contact_phone
                    .clone()
                    .or_else(|| c.contact_username.as_ref().map(|u| format!("@{u}")))
                    .unwrap_or_default(),
                name,
                time: format::short(c.last_message_at, now),
                time_iso: format::iso(c.last_message_at),
                resolved: c.status == "resolved",
                window_open: window_closes_at(c.last_inbound_at).is_some_and(|t| t > now),
                assignee: match (c.assignee.map(|u| u.to_string()), &me) {
                    (None, _) => String::new(),
                    (Some(a), Some(m)) if &a == m => "You".into(),
                    (Some(_), _) => "Assigned".into(),
                },
                active: selected == Some(id.as_str()),
                unread: if selected == Some(id.as_str()) {
                    0
                } else {
                    c.unread
                },
                id,
            }
        })
        .collect();
    Ok((rows, page.next_cursor))
}

fn tabs(view: &'static str) -> Vec<ViewTab> {
    VIEWS
        .iter()
        .map(|(key, label)| ViewTab {
            key,
            label,
            active: *key == view,
        })
        .collect()
}

/// `GET /inbox?view=&cursor=`.
pub async fn list_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<InboxQuery>,
) -> Response {
    let view = view_key(q.view.as_deref());
    let filters = Filters::of(&q);
    let mut search_error = None;
    let (rows, next_cursor) = match rows(&state, &v, view, q.cursor, None, &filters).await {
        Ok(r) => r,
        // A search the contact list could not run either: said next to the search box.
        Err(e) if e.code == confide_app::Code::UnsearchableQuery => {
            search_error = Some(e.message.to_string());
            (Vec::new(), None)
        }
        Err(e) => return page::app_error(e),
    };
    render(
        StatusCode::OK,
        &InboxPage {
            chrome: Chrome::new(&v, "/inbox", "Inbox"),
            view,
            filter_qs: filters.qs(),
            label: filters.label,
            search: filters.search,
            search_error,
            tabs: tabs(view),
            rows,
            next_cursor,
            convo: None,
        },
    )
}

/// The text of the template's body component.
fn template_body(components: &Value) -> String {
    components
        .as_array()
        .and_then(|cs| {
            cs.iter().find(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case("BODY"))
            })
        })
        .and_then(|c| c["text"].as_str())
        .unwrap_or("")
        .to_string()
}

/// The body with `{{1}}`, `{{2}}`, ... replaced by the parameters given so far.
fn preview(body: &str, params: &[ParamField]) -> String {
    let mut out = body.to_string();
    for (i, p) in params.iter().enumerate() {
        if !p.value.is_empty() {
            out = out.replace(&format!("{{{{{}}}}}", i + 1), &p.value);
        }
    }
    out
}

/// What the page was asked to keep from a form that was refused.
#[derive(Default)]
struct Draft {
    error: Option<String>,
    text: String,
    note: String,
    params: HashMap<String, String>,
}

async fn conversation(
    state: &AppState,
    v: &Viewer,
    id: &str,
    q: &InboxQuery,
    draft: Draft,
) -> Result<InboxPage, AppError> {
    let view = view_key(q.view.as_deref());
    let c = state.get_conversation(&v.principal, id).await?;
    let id = c.id.to_string();
    let filters = Filters::of(q);
    let (rows, next_cursor) = rows(state, v, view, q.cursor.clone(), Some(&id), &filters)
        .await
        .or_else(|e| {
            if e.code == confide_app::Code::UnsearchableQuery {
                Ok((Vec::new(), None))
            } else {
                Err(e)
            }
        })?;
    let now = state.clock.now_micros();
    let me = my_id(v);
    let messages = state
        .list_messages(
            &v.principal,
            &id,
            MessageQuery {
                cursor: None,
                limit: Some("100".into()),
            },
        )
        .await?;
    let notes = state.list_notes(&v.principal, &id).await?;
    let users = if v.can(Permission::TeamManage) {
        state.list_users(&v.principal).await?
    } else {
        vec![]
    };
    let emails: BTreeMap<String, String> = users
        .iter()
        .map(|u| (u.id.to_string(), u.email.as_str().to_string()))
        .collect();
    let author = |actor: &str| -> String {
        let id = actor.strip_prefix("user:").unwrap_or(actor);
        if me.as_deref() == Some(id) {
            "You".into()
        } else if let Some(e) = emails.get(id) {
            e.clone()
        } else if actor.starts_with("api_key:") {
            "An integration".into()
        } else {
            "A teammate".into()
        }
    };
    let mut texts: HashMap<String, String> = HashMap::new();
    let mut items: Vec<(i64, ThreadItem)> = Vec::new();
    for m in messages.items.iter().rev() {
        let msg = &m.message;
        let text = format::message_text(&msg.kind, &msg.body);
        if let Some(w) = &msg.wamid {
            texts.insert(w.clone(), text.clone());
        }
        let quote = msg.body["context"]["id"]
            .as_str()
            .map(|w| {
                texts
                    .get(w)
                    .cloned()
                    .unwrap_or_else(|| "An earlier message".into())
            })
            .filter(|_| msg.body["context"]["forwarded"] != json!(true));
        let outbound = msg.direction == Direction::Outbound;
        items.push((
            msg.created_at,
            ThreadItem {
                side: if outbound { "out" } else { "in" },
                id: msg.id.to_string(),
                text,
                time: format::short(msg.created_at, now),
                time_iso: format::iso(msg.created_at),
                status: msg.status.clone(),
                status_label: format::status_label(&msg.status),
                failed: msg.status == "failed",
                error: msg.error.clone(),
                author: String::new(),
                quote,
            },
        ));
    }
    for n in &notes {
        items.push((
            n.created_at,
            ThreadItem {
                side: "note",
                id: n.id.to_string(),
                text: n.text.clone(),
                time: format::short(n.created_at, now),
                time_iso: format::iso(n.created_at),
                status: String::new(),
                status_label: String::new(),
                failed: false,
                error: None,
                author: author(&n.author),
                quote: None,
            },
        ));
    }
    items.sort_by_key(|(t, _)| *t);
    let closes = window_closes_at(c.last_inbound_at);
    let window_open = closes.is_some_and(|t| t > now);
    let window_label = match closes {
        Some(t) if t > now => format!("{} left to reply", format::duration(t - now)),
        Some(t) => format!(
            "The 24-hour window closed {} ago",
            format::duration(now - t)
        ),
        None => "The customer has not written yet".into(),
    };
    let can_reply = v.can(Permission::InboxReply);
    let canned = if can_reply {
        state
            .list_canned(&v.principal)
            .await?
            .into_iter()
            .map(|c| Canned {
                shortcut: c.shortcut,
                text: c.text,
            })
            .collect()
    } else {
        vec![]
    };
    let mut draft_text = draft.text;
    if draft_text.is_empty()
        && let Some(s) = q.canned.as_deref()
        && let Some(c) = canned.iter().find(|c| c.shortcut == s)
    {
        draft_text = c.text.clone();
    }
    let (templates, template) = if window_open || !can_reply {
        (vec![], None)
    } else {
        let all = state.list_templates(&v.principal).await?;
        let approved: Vec<_> = all
            .into_iter()
            .filter(|t| t.channel == c.channel_id && t.def.status == "APPROVED")
            .collect();
        let chosen_id = q
            .template
            .clone()
            .or_else(|| draft.params.get("template").cloned());
        let template = approved
            .iter()
            .find(|t| Some(t.id.to_string()) == chosen_id)
            .map(|t| {
                let body = template_body(&t.def.components);
                let n = usize::try_from(t.def.body_params)
                    .unwrap_or(0)
                    .min(MAX_PARAMS);
                let params: Vec<ParamField> = (1..=n)
                    .map(|i| ParamField {
                        name: format!("p{i}"),
                        label: format!("{{{{{i}}}}}"),
                        value: draft
                            .params
                            .get(&format!("p{i}"))
                            .cloned()
                            .unwrap_or_default(),
                    })
                    .collect();
                ChosenTemplate {
                    id: t.id.to_string(),
                    name: t.def.name.clone(),
                    language: t.def.language.clone(),
                    category: t.def.category.to_lowercase(),
                    preview: preview(&body, &params),
                    body,
                    params,
                }
            });
        let options = approved
            .iter()
            .map(|t| TemplateOption {
                id: t.id.to_string(),
                label: format!(
                    "{} ({}, {})",
                    t.def.name,
                    t.def.language,
                    t.def.category.to_lowercase()
                ),
                selected: Some(t.id.to_string()) == chosen_id,
            })
            .collect();
        (options, template)
    };
    let assignee = c.assignee.map(|u| u.to_string());
    let name = display_name(
        c.contact_name.as_deref(),
        c.contact_username.as_deref(),
        c.contact_phone.as_deref(),
    );
    let convo = ConvoView {
        contact_id: c.contact_id.to_string(),
        initials: format::initials(&name),
        phone: c
            .contact_phone
            .clone()
            .or_else(|| c.contact_username.as_ref().map(|u| format!("@{u}")))
            .unwrap_or_default(),
        name,
        resolved: c.status == "resolved",
        assignee_label: match &assignee {
            None => "Unassigned".into(),
            Some(a) if Some(a) == me.as_ref() => "Assigned to you".into(),
            Some(a) => emails
                .get(a)
                .map(|e| format!("Assigned to {e}"))
                .unwrap_or_else(|| "Assigned to a teammate".into()),
        },
        assigned_to_me: assignee.is_some() && assignee == me,
        can_assign: v.can(Permission::InboxAssign),
        can_reply,
        window_open,
        window_label,
        closes_iso: closes.map(format::iso).unwrap_or_default(),
        items: items.into_iter().map(|(_, i)| i).collect(),
        error: draft.error,
        draft: draft_text,
        note_draft: draft.note,
        canned,
        templates,
        template,
        users: users
            .iter()
            .filter(|u| u.status == "active")
            .map(|u| UserOption {
                id: u.id.to_string(),
                email: u.email.as_str().to_string(),
                selected: Some(u.id.to_string()) == assignee,
            })
            .collect(),
        id,
    };
    Ok(InboxPage {
        chrome: Chrome::new(v, "/inbox", convo.name.clone()),
        view,
        filter_qs: filters.qs(),
        label: filters.label,
        search: filters.search,
        search_error: None,
        tabs: tabs(view),
        rows,
        next_cursor,
        convo: Some(convo),
    })
}

/// `GET /inbox/{id}?view=&template=&canned=`.
pub async fn conversation_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<InboxQuery>,
) -> Response {
    match conversation(&state, &v, &id, &q, Draft::default()).await {
        Ok(p) => render(StatusCode::OK, &p),
        Err(e) => page::app_error(e),
    }
}

fn back_to(id: &str, view: Option<&str>) -> String {
    format!("/inbox/{id}?view={}", view_key(view))
}

/// `POST /inbox/{id}/reply`: a text, or (`kind=template`) an approved template with its
/// parameters `p1`, `p2`, ...: `send_message`, exactly as `POST /api/v1/conversations/{id}/messages`.
/// Refused by the send gate: the page again, with the reason and the draft kept.
pub async fn reply(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let view = f.get("view").cloned();
    let body = if f.get("kind").map(String::as_str) == Some("template") {
        let chosen = f.get("template").cloned().unwrap_or_default();
        let templates = match state.list_templates(&v.principal).await {
            Ok(t) => t,
            Err(e) => return page::app_error(e),
        };
        match templates.iter().find(|t| t.id.to_string() == chosen) {
            Some(t) => {
                let n = usize::try_from(t.def.body_params)
                    .unwrap_or(0)
                    .min(MAX_PARAMS);
                let params: Vec<String> = (1..=n)
                    .map(|i| f.get(&format!("p{i}")).cloned().unwrap_or_default())
                    .collect();
                json!({"type": "template", "template": t.def.name, "language": t.def.language, "params": params})
            }
            None => json!({"type": "template"}),
        }
    } else {
        json!({"type": "text", "text": f.get("text").cloned().unwrap_or_default()})
    };
    match state.send_message(&v.principal, &id, &body, None).await {
        Ok(_) => see_other(&back_to(&id, view.as_deref())),
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            if api.status == StatusCode::NOT_FOUND {
                return page::plain_error(api.status, &api.message);
            }
            let draft = Draft {
                error: Some(api.message),
                text: f.get("text").cloned().unwrap_or_default(),
                note: String::new(),
                params: f.clone(),
            };
            redraw(&state, &v, &id, view, draft, api.status).await
        }
    }
}

async fn redraw(
    state: &AppState,
    v: &Viewer,
    id: &str,
    view: Option<String>,
    draft: Draft,
    status: StatusCode,
) -> Response {
    let q = InboxQuery {
        view,
        template: draft.params.get("template").cloned(),
        ..InboxQuery::default()
    };
    match conversation(state, v, id, &q, draft).await {
        Ok(p) => render(status, &p),
        Err(e) => page::app_error(e),
    }
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    view: Option<String>,
}

/// `POST /inbox/{id}/notes`: an internal note (`add_note`, never sent to the customer).
pub async fn add_note(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    match state.add_note(&v.principal, &id, &f.text).await {
        Ok(_) => see_other(&back_to(&id, f.view.as_deref())),
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            let draft = Draft {
                error: Some(api.message),
                note: f.text,
                ..Draft::default()
            };
            redraw(&state, &v, &id, f.view, draft, api.status).await
        }
    }
}

#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    view: Option<String>,
}

/// `POST /inbox/{id}/update`: assign (to me, to someone, to nobody), resolve or reopen
/// (`update_conversation`).
pub async fn update(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<UpdateForm>,
) -> Response {
    let change = match f.action.as_str() {
        "resolve" => ConversationUpdate {
            status: Some("resolved".into()),
            assignee: None,
        },
        "reopen" => ConversationUpdate {
            status: Some("open".into()),
            assignee: None,
        },
        "assign_me" => ConversationUpdate {
            status: None,
            assignee: Some(my_id(&v)),
        },
        "unassign" => ConversationUpdate {
            status: None,
            assignee: Some(None),
        },
        "assign" => ConversationUpdate {
            status: None,
            assignee: Some(f.assignee.clone().filter(|a| !a.is_empty())),
        },
        _ => {
            return page::plain_error(StatusCode::BAD_REQUEST, "Unknown action.");
        }
    };
    match state.update_conversation(&v.principal, &id, change).await {
        Ok(_) => see_other(&back_to(&id, f.view.as_deref())),
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            let draft = Draft {
                error: Some(api.message),
                ..Draft::default()
            };
            redraw(&state, &v, &id, f.view, draft, api.status).await
        }
    }
}
