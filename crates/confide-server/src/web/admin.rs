//! The team's other pages: broadcasts (compose, progress, pause/resume/cancel), templates
//! (synced from Meta, with their status), channels (health, the webhook address to paste into
//! Meta), team and roles (invite), API keys (create), and the audit log with its chain
//! verification. Each calls the same `confide_app` use case as its JSON route.

use super::page::{self, Form, Viewer, render, see_other};
use super::{Chrome, format};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use confide_app::audit::{AuditQuery, ChainReport};
use confide_app::broadcasts::Broadcast;
use confide_app::keys::NewKey;
use confide_app::team::Invite;
use confide_core::permissions::Permission;
use serde::Deserialize;
use serde_json::{Value, json};

// ---------------------------------------------------------------- broadcasts

pub struct BroadcastRow {
    id: String,
    template: String,
    audience: String,
    state: String,
    recipients: i64,
    sent: i64,
    read: i64,
    failed: i64,
    refused: i64,
    when: String,
}

pub struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// The audience size after consent of the broadcast being composed (`broadcast_audience`).
pub struct AudienceView {
    recipients: u64,
    permitted: u64,
    refused_no_consent: u64,
    refused_other: u64,
}

/// What the compose form holds (kept when it is shown again: refused, or reviewed).
#[derive(Default)]
struct Compose {
    error: Option<String>,
    channel_id: String,
    template: String,
    label: String,
    params: String,
    purpose: String,
    audience: Option<AudienceView>,
}

#[derive(Template)]
#[template(path = "web/broadcasts.html")]
struct BroadcastsPage {
    chrome: Chrome,
    rows: Vec<BroadcastRow>,
    can_send: bool,
    channels: Vec<Choice>,
    templates: Vec<Choice>,
    error: Option<String>,
    label: String,
    params: String,
    marketing: bool,
    audience: Option<AudienceView>,
}

fn audience_text(a: &Value) -> String {
    if let Some(l) = a["label"].as_str() {
        format!("Label “{l}”")
    } else if let Some(ids) = a["contact_ids"].as_array() {
        format!("{} chosen contacts", ids.len())
    } else {
        "Contacts".into()
    }
}

fn count(b: &Broadcast, k: &str) -> i64 {
    b.counts.get(k).copied().unwrap_or(0)
}

fn row(b: &Broadcast, now: i64) -> BroadcastRow {
    BroadcastRow {
        id: b.id.to_string(),
        template: format!("{} ({})", b.template, b.language),
        audience: audience_text(&b.audience),
        state: b.state.clone(),
        recipients: b.recipients,
        sent: count(b, "sent") + count(b, "delivered") + count(b, "read") + count(b, "played"),
        read: count(b, "read") + count(b, "played"),
        failed: count(b, "failed"),
        refused: b.refused_no_consent + b.refused_other,
        when: format::short(b.created_at, now),
    }
}

async fn broadcasts(state: &AppState, v: &Viewer, form: Compose) -> Response {
    let list = match state.list_broadcasts(&v.principal).await {
        Ok(l) => l,
        Err(e) => return page::app_error(e),
    };
    let can_send = v.can(Permission::BroadcastsSend);
    let (channels, templates) = if can_send {
        let channels = match state.list_channels(&v.principal).await {
            Ok(c) => c,
            Err(e) => return page::app_error(e),
        };
        let templates = match state.list_templates(&v.principal).await {
            Ok(t) => t,
            Err(e) => return page::app_error(e),
        };
        (
            channels
                .iter()
                .map(|c| Choice {
                    value: c.id.to_string(),
                    label: c.display_phone_number.clone(),
                    selected: c.id.to_string() == form.channel_id,
                })
                .collect(),
            templates
                .iter()
                .filter(|t| t.def.status == "APPROVED")
                .map(|t| Choice {
                    selected: format!("{}|{}", t.def.name, t.def.language) == form.template,
                    value: format!("{}|{}", t.def.name, t.def.language),
                    label: format!(
                        "{} ({}, {}, {} parameters)",
                        t.def.name,
                        t.def.language,
                        t.def.category.to_lowercase(),
                        t.def.body_params
                    ),
                })
                .collect(),
        )
    } else {
        (vec![], vec![])
    };
    let now = state.clock.now_micros();
    let status = if form.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &BroadcastsPage {
            chrome: Chrome::new(v, "/broadcasts", "Broadcasts"),
            rows: list.iter().map(|b| row(b, now)).collect(),
            can_send,
            channels,
            templates,
            error: form.error,
            label: form.label,
            params: form.params,
            marketing: form.purpose != "utility",
            audience: form.audience,
        },
    )
}

/// `GET /broadcasts`.
pub async fn broadcasts_page(State(state): State<AppState>, v: Viewer) -> Response {
    broadcasts(&state, &v, Compose::default()).await
}

#[derive(Deserialize)]
pub struct BroadcastForm {
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    params: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    purpose: String,
}

impl BroadcastForm {
    /// The body of `POST /api/v1/broadcasts` this form stands for.
    fn body(&self) -> Value {
        let (name, language) = self
            .template
            .split_once('|')
            .unwrap_or((&self.template, ""));
        let params: Vec<&str> = self
            .params
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        json!({
            "channel_id": self.channel_id,
            "template": name,
            "language": language,
            "params": params,
            "audience": {"label": self.label.trim()},
            "purpose": self.purpose,
        })
    }

    fn compose(self, error: Option<String>, audience: Option<AudienceView>) -> Compose {
        Compose {
            error,
            channel_id: self.channel_id,
            template: self.template,
            label: self.label,
            params: self.params,
            purpose: self.purpose,
            audience,
        }
    }
}

/// A refused form: the page again with the reason (a server error or a missing permission is
/// a plain error page).
async fn refused(
    state: &AppState,
    v: &Viewer,
    f: BroadcastForm,
    e: confide_app::AppError,
) -> Response {
    let api = crate::error::ApiError::from(e);
    if api.status.is_server_error() || api.status == StatusCode::FORBIDDEN {
        return page::plain_error(api.status, &api.message);
    }
    broadcasts(state, v, f.compose(Some(api.message.to_string()), None)).await
}

/// `POST /broadcasts/audience`: the compose form again, with the audience size after consent
/// (`broadcast_audience`) and the button that starts it. Nothing is written.
pub async fn review_broadcast(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<BroadcastForm>,
) -> Response {
    match state.broadcast_audience(&v.principal, &f.body()).await {
        Ok(size) => {
            let audience = AudienceView {
                recipients: size.recipients,
                permitted: size.permitted,
                refused_no_consent: size.refused_no_consent,
                refused_other: size.refused_other,
            };
            broadcasts(&state, &v, f.compose(None, Some(audience))).await
        }
        Err(e) => refused(&state, &v, f, e).await,
    }
}

/// `POST /broadcasts`: `create_broadcast` (the same body as `POST /api/v1/broadcasts`).
pub async fn create_broadcast(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<BroadcastForm>,
) -> Response {
    match state.create_broadcast(&v.principal, &f.body()).await {
        Ok(b) => see_other(&format!("/broadcasts/{}", b.id)),
        Err(e) => refused(&state, &v, f, e).await,
    }
}

#[derive(Template)]
#[template(path = "web/broadcast.html")]
struct BroadcastPage {
    chrome: Chrome,
    b: BroadcastRow,
    purpose: String,
    params: String,
    queued: i64,
    delivered: i64,
    done: i64,
    can_send: bool,
}

/// `GET /broadcasts/{id}`: its progress (refreshed live as statuses come back).
pub async fn broadcast_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
) -> Response {
    let b = match state.get_broadcast(&v.principal, &id).await {
        Ok(b) => b,
        Err(e) => return page::app_error(e),
    };
    let now = state.clock.now_micros();
    let r = row(&b, now);
    let delivered = count(&b, "delivered") + r.read;
    let done = r.sent + r.failed + r.refused;
    render(
        StatusCode::OK,
        &BroadcastPage {
            chrome: Chrome::new(&v, "/broadcasts", "Broadcast"),
            purpose: b.purpose.clone(),
            params: b.params.join(" · "),
            queued: count(&b, "queued"),
            delivered,
            done,
            can_send: v.can(Permission::BroadcastsSend),
            b: r,
        },
    )
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    action: String,
}

/// `POST /broadcasts/{id}/change`: pause, resume or cancel (`change_broadcast`).
pub async fn change_broadcast(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<ChangeForm>,
) -> Response {
    match state.change_broadcast(&v.principal, &id, &f.action).await {
        Ok(b) => see_other(&format!("/broadcasts/{}", b.id)),
        Err(e) => page::app_error(e),
    }
}

// ---------------------------------------------------------------- templates

pub struct TemplateRow {
    name: String,
    language: String,
    category: String,
    status: String,
    status_class: &'static str,
    params: i64,
    body: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "web/templates.html")]
struct TemplatesPage {
    chrome: Chrome,
    rows: Vec<TemplateRow>,
    can_sync: bool,
    notice: Option<String>,
}

async fn templates(state: &AppState, v: &Viewer, notice: Option<String>) -> Response {
    let list = match state.list_templates(&v.principal).await {
        Ok(l) => l,
        Err(e) => return page::app_error(e),
    };
    let now = state.clock.now_micros();
    let rows = list
        .iter()
        .map(|t| TemplateRow {
            name: t.def.name.clone(),
            language: t.def.language.clone(),
            category: t.def.category.to_lowercase(),
            status_class: match t.def.status.as_str() {
                "APPROVED" => "pill-green",
                "REJECTED" | "DISABLED" | "PAUSED" => "pill-red",
                _ => "pill-amber",
            },
            status: t.def.status.to_lowercase(),
            params: t.def.body_params,
            body: t
                .def
                .components
                .as_array()
                .and_then(|cs| {
                    cs.iter().find(|c| {
                        c["type"]
                            .as_str()
                            .is_some_and(|x| x.eq_ignore_ascii_case("BODY"))
                    })
                })
                .and_then(|c| c["text"].as_str())
                .unwrap_or("")
                .to_string(),
            updated: format::short(t.updated_at, now),
        })
        .collect();
    render(
        StatusCode::OK,
        &TemplatesPage {
            chrome: Chrome::new(v, "/templates", "Templates"),
            rows,
            can_sync: v.can(Permission::TemplatesManage),
            notice,
        },
    )
}

/// `GET /templates`.
pub async fn templates_page(State(state): State<AppState>, v: Viewer) -> Response {
    templates(&state, &v, None).await
}

#[derive(Deserialize)]
pub struct Empty {}

/// `POST /templates/sync`: `sync_templates` from Meta, for every channel.
pub async fn sync_templates(
    State(state): State<AppState>,
    v: Viewer,
    Form(_): Form<Empty>,
) -> Response {
    match state.sync_templates(&v.principal).await {
        Ok(r) => {
            let notice = format!(
                "Synced from Meta: {} templates, {} new.",
                r.templates, r.new
            );
            templates(&state, &v, Some(notice)).await
        }
        Err(e) => page::app_error(e),
    }
}

// ---------------------------------------------------------------- channels

pub struct ChannelRow {
    id: String,
    number: String,
    phone_number_id: String,
    waba_id: String,
    status: String,
    health: String,
    health_class: &'static str,
    health_detail: String,
    checked: String,
    webhook_url: String,
    rotating: bool,
    /// Secrets an incident asked to replace, not replaced yet (plain words).
    rotation_pending: String,
}

#[derive(Template)]
#[template(path = "web/channels.html")]
struct ChannelsPage {
    chrome: Chrome,
    rows: Vec<ChannelRow>,
    can_manage: bool,
    notice: Option<String>,
    error: Option<String>,
}

/// `GET /channels`: each number with its health and the webhook address to give Meta.
pub async fn channels_page(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
) -> Response {
    channels(&state, &v, &headers, None, None).await
}

async fn channels(
    state: &AppState,
    v: &Viewer,
    headers: &HeaderMap,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let list = match state.list_channels(&v.principal).await {
        Ok(l) => l,
        Err(e) => return page::app_error(e),
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("confide.example");
    let now = state.clock.now_micros();
    let rows = list
        .iter()
        .map(|c| ChannelRow {
            id: c.id.to_string(),
            number: c.display_phone_number.clone(),
            phone_number_id: c.phone_number_id.clone(),
            waba_id: c.waba_id.clone(),
            status: c.status.clone(),
            health_class: match c.health.as_str() {
                "ok" => "pill-green",
                "unverified" | "rate_limited" => "pill-amber",
                _ => "pill-red",
            },
            health: c.health.replace('_', " "),
            health_detail: c.health_detail.clone().unwrap_or_default(),
            checked: c
                .health_checked_at
                .map(|t| format!("checked {}", format::short(t, now)))
                .unwrap_or_else(|| "not checked yet".into()),
            webhook_url: format!("https://{host}/webhooks/whatsapp/{}", c.id),
            rotating: c.rotating_secret,
            rotation_pending: c
                .secrets_rotation_pending
                .iter()
                .map(|s| s.replace('_', " "))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &ChannelsPage {
            chrome: Chrome::new(v, "/channels", "Channels"),
            rows,
            can_manage: v.can(Permission::ChannelsManage),
            notice,
            error,
        },
    )
}

#[derive(Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    display_phone_number: String,
    #[serde(default)]
    phone_number_id: String,
    #[serde(default)]
    waba_id: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    app_secret: String,
    #[serde(default)]
    verify_token: String,
}

/// `POST /channels`: `create_channel` (its token is then checked with Graph in the background).
pub async fn connect_channel(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<ConnectForm>,
) -> Response {
    let input = confide_app::channels::NewChannelInput {
        phone_number_id: f.phone_number_id,
        waba_id: f.waba_id,
        display_phone_number: f.display_phone_number,
        access_token: f.access_token,
        app_secret: f.app_secret,
        verify_token: f.verify_token,
        graph_base_url: None,
    };
    match state.create_channel(&v.principal, input).await {
        Ok(c) => {
            let notice = format!(
                "Connected {}. Now give Meta its webhook URL (below) and the verify token you chose.",
                c.display_phone_number
            );
            channels(&state, &v, &headers, Some(notice), None).await
        }
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            if api.status == StatusCode::FORBIDDEN {
                return page::plain_error(api.status, &api.message);
            }
            channels(&state, &v, &headers, None, Some(api.message)).await
        }
    }
}

#[derive(Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    app_secret: String,
}

/// `POST /channels/{id}/secret`: start an app-secret rotation with the new secret (both verify
/// meanwhile), or finish it (`rotate_channel_secret`, `finish_channel_rotation`).
pub async fn rotate_secret(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<RotateForm>,
) -> Response {
    let r = if f.action == "finish" {
        state.finish_channel_rotation(&v.principal, &id).await
    } else {
        state
            .rotate_channel_secret(&v.principal, &id, f.app_secret)
            .await
    };
    match r {
        Ok(c) => {
            let notice = if c.rotating_secret {
                "Rotation started: webhooks signed with either secret are accepted until you finish it."
            } else {
                "Rotation finished: only the new app secret is accepted."
            };
            channels(&state, &v, &headers, Some(notice.to_string()), None).await
        }
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            if api.status == StatusCode::NOT_FOUND || api.status == StatusCode::FORBIDDEN {
                return page::plain_error(api.status, &api.message);
            }
            channels(&state, &v, &headers, None, Some(api.message)).await
        }
    }
}

// ---------------------------------------------------------------- team

pub struct MemberRow {
    email: String,
    role: String,
    status: String,
    two_factor: bool,
    since: String,
}

pub struct RoleRow {
    id: String,
    name: String,
    permissions: String,
    builtin: bool,
}

#[derive(Template)]
#[template(path = "web/team.html")]
struct TeamPage {
    chrome: Chrome,
    members: Vec<MemberRow>,
    roles: Vec<RoleRow>,
    invited: Option<(String, String)>,
    error: Option<String>,
}

async fn team(
    state: &AppState,
    v: &Viewer,
    invited: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let users = match state.list_users(&v.principal).await {
        Ok(u) => u,
        Err(e) => return page::app_error(e),
    };
    let roles = if v.can(Permission::RolesManage) {
        match state.list_roles(&v.principal).await {
            Ok(r) => r,
            Err(e) => return page::app_error(e),
        }
    } else {
        vec![]
    };
    let role_name = |id: &str| {
        roles
            .iter()
            .find(|r| r.id.to_string() == id)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| "—".into())
    };
    let members = users
        .iter()
        .map(|u| MemberRow {
            email: u.email.as_str().to_string(),
            role: role_name(&u.role_id.to_string()),
            status: u.status.clone(),
            two_factor: u.totp_enabled,
            since: format::date(u.created_at),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &TeamPage {
            chrome: Chrome::new(v, "/team", "Team"),
            members,
            roles: roles
                .iter()
                .map(|r| RoleRow {
                    id: r.id.to_string(),
                    name: r.name.clone(),
                    permissions: r
                        .permissions
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    builtin: r.builtin,
                })
                .collect(),
            invited,
            error,
        },
    )
}

/// `GET /team`.
pub async fn team_page(State(state): State<AppState>, v: Viewer) -> Response {
    team(&state, &v, None, None).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: String,
}

/// `POST /team`: `invite_user`; the one-time password is shown once.
pub async fn invite(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<InviteForm>,
) -> Response {
    let invite = Invite {
        email: f.email,
        role_id: f.role_id,
    };
    match state.invite_user(&v.principal, invite).await {
        Ok(i) => {
            let shown = (i.user.email.as_str().to_string(), i.one_time_password);
            team(&state, &v, Some(shown), None).await
        }
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            team(&state, &v, None, Some(api.message)).await
        }
    }
}

// ---------------------------------------------------------------- API keys

pub struct KeyRow {
    id: String,
    name: String,
    role: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "web/keys.html")]
struct KeysPage {
    chrome: Chrome,
    keys: Vec<KeyRow>,
    roles: Vec<Choice>,
    created: Option<String>,
    error: Option<String>,
}

async fn keys(
    state: &AppState,
    v: &Viewer,
    created: Option<String>,
    error: Option<String>,
) -> Response {
    let list = match state.list_api_keys(&v.principal).await {
        Ok(l) => l,
        Err(e) => return page::app_error(e),
    };
    let roles = if v.can(Permission::RolesManage) {
        state.list_roles(&v.principal).await.unwrap_or_default()
    } else {
        vec![]
    };
    let role_name = |id: String| {
        roles
            .iter()
            .find(|r| r.id.to_string() == id)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| "—".into())
    };
    let now = state.clock.now_micros();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &KeysPage {
            chrome: Chrome::new(v, "/api-keys", "API keys"),
            keys: list
                .iter()
                .map(|k| KeyRow {
                    id: k.id.to_string(),
                    name: k.name.clone(),
                    role: role_name(k.role_id.to_string()),
                    created: format::date(k.created_at),
                    last_used: k
                        .last_used_at
                        .map(|t| format::short(t, now))
                        .unwrap_or_else(|| "never".into()),
                    revoked: k.revoked_at.is_some(),
                })
                .collect(),
            roles: roles
                .iter()
                .map(|r| Choice {
                    value: r.id.to_string(),
                    label: r.name.clone(),
                    selected: false,
                })
                .collect(),
            created,
            error,
        },
    )
}

/// `GET /api-keys`.
pub async fn keys_page(State(state): State<AppState>, v: Viewer) -> Response {
    keys(&state, &v, None, None).await
}

#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role_id: String,
}

/// `POST /api-keys`: `create_api_key`; the secret is shown once.
pub async fn create_key(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<KeyForm>,
) -> Response {
    let new = NewKey {
        name: f.name,
        role_id: f.role_id,
    };
    match state.create_api_key(&v.principal, new).await {
        Ok(k) => keys(&state, &v, Some(k.secret), None).await,
        Err(e) => {
            let api = crate::error::ApiError::from(e);
            keys(&state, &v, None, Some(api.message)).await
        }
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    id: String,
}

/// `POST /api-keys/revoke`: `revoke_api_key`.
pub async fn revoke_key(
    State(state): State<AppState>,
    v: Viewer,
    Form(f): Form<RevokeForm>,
) -> Response {
    match state.revoke_api_key(&v.principal, &f.id).await {
        Ok(()) => see_other("/api-keys"),
        Err(e) => page::app_error(e),
    }
}

// ---------------------------------------------------------------- audit

pub struct AuditRow {
    seq: i64,
    when: String,
    when_iso: String,
    actor: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "web/audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<AuditRow>,
    intact: bool,
    entries: u64,
    problem: String,
    action: String,
    next_cursor: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct AuditParams {
    #[serde(default)]
    action: String,
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /audit?action=&cursor=`: the entries, newest first, and whether the chain is intact.
pub async fn audit_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<AuditParams>,
) -> Response {
    let report = match state.verify_audit(&v.principal).await {
        Ok(r) => r,
        Err(e) => return page::app_error(e),
    };
    let page = match state
        .list_audit(
            &v.principal,
            AuditQuery {
                action: Some(q.action.clone()).filter(|a| !a.trim().is_empty()),
                cursor: q.cursor.clone(),
                limit: Some("100".into()),
            },
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return page::app_error(e),
    };
    let (intact, entries, problem) = match report {
        ChainReport::Intact { entries } => (true, entries, String::new()),
        ChainReport::Broken { entries, at } => (false, entries, at.to_string()),
    };
    render(
        StatusCode::OK,
        &AuditPage {
            chrome: Chrome::new(&v, "/audit", "Audit log"),
            rows: page
                .items
                .iter()
                .map(|e| AuditRow {
                    seq: e.seq,
                    when: format::full(e.at_micros),
                    when_iso: format::iso(e.at_micros),
                    actor: e.actor.clone(),
                    action: e.action.clone(),
                    target: e.target.clone(),
                    details: if e.details == "{}" || e.details.is_empty() {
                        String::new()
                    } else {
                        e.details.clone()
                    },
                })
                .collect(),
            intact,
            entries,
            problem,
            action: q.action,
            next_cursor: page.next_cursor,
        },
    )
}
