//! The inbox: `GET /api/v1/conversations`, `GET /api/v1/conversations/{id}` and
//! `GET /api/v1/conversations/{id}/messages` to read; `POST /api/v1/conversations` to start (or
//! find) the open conversation with a contact on a channel, and `PATCH /api/v1/conversations/{id}`
//! to assign, resolve and reopen. The use cases are `confide_app::conversations`; lists are
//! keyset-paginated with opaque cursors (`confide_app::paging`).

use super::json::{JsonBody, ts, ts_opt};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_app::conversations::{
    ConversationQuery, ConversationUpdate, InboxConversation, InboxMessage, MessageQuery,
};
use confide_core::send_gate::window_closes_at;
use serde::Deserialize;
use serde_json::{Value, json};

/// The query string, or 400 `invalid_query`.
pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("The query string is not understood: {}", e.body_text()),
        )
    })
}

fn conversation_json(c: &InboxConversation) -> Value {
    json!({
        "id": c.id.to_string(),
        "contact_id": c.contact_id.to_string(),
        "channel_id": c.channel_id.to_string(),
        "status": c.status,
        "assignee": c.assignee.map(|u| u.to_string()),
        "last_message_at": ts(c.last_message_at),
        "last_inbound_at": ts_opt(c.last_inbound_at),
        "created_at": ts(c.created_at),
        "window_open_until": ts_opt(window_closes_at(c.last_inbound_at)),
        "unread": c.unread,
        "contact": {
            "id": c.contact_id.to_string(),
            "name": c.contact_name,
            "username": c.contact_username,
            "phone": c.contact_phone,
        },
    })
}

fn message_json(m: &InboxMessage) -> Value {
    let mut v = plain_message_json(&m.message);
    v["media"] = json!(
        m.media
            .as_ref()
            .map(|f| json!({"status": f.status, "attempts": f.attempts, "error": f.error, "media_id": f.media_id}))
    );
    v
}

fn plain_message_json(msg: &confide_app::conversations::Message) -> Value {
    json!({
        "id": msg.id.to_string(),
        "conversation_id": msg.conversation_id.to_string(),
        "direction": msg.direction,
        "wamid": msg.wamid,
        "kind": msg.kind,
        "body": msg.body,
        "status": msg.status,
        "error": msg.error,
        "created_at": ts(msg.created_at),
    })
}

/// `GET /api/v1/conversations?status=&assignee=&cursor=&limit=` →
/// `{"conversations":[...],"next_cursor":...,"unread_conversations":n}`, most recent activity
/// first; each conversation carries its `unread` count, and the first page (no cursor) the
/// number of conversations with unread customer messages.
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    q: Result<Query<ConversationQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let first_page = q.cursor.as_deref().is_none_or(str::is_empty);
    let page = state.list_conversations(&principal, q).await?;
    let mut body = json!({
        "conversations": page.items.iter().map(conversation_json).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    });
    if first_page {
        body["unread_conversations"] = json!(state.unread_conversations(&principal).await?);
    }
    Ok(Json(body))
}

/// `GET /api/v1/conversations/{id}`: 404 `not_found` unless it is the caller's tenant's.
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = state.get_conversation(&principal, &conversation).await?;
    Ok(Json(conversation_json(&c)))
}

/// A change to a conversation: an absent field is unchanged.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConversationChange)]
pub struct PatchBody {
    /// `open` or `resolved`.
    pub status: Option<String>,
    /// A user id of this tenant; `null` unassigns.
    #[serde(default, deserialize_with = "super::json::present")]
    pub assignee: Option<Option<String>>,
}

/// `PATCH /api/v1/conversations/{id}` with `{"status"?, "assignee"?}` (absent: unchanged;
/// `"assignee": null` unassigns) → the conversation. 422 `invalid_status` / `invalid_assignee`,
/// 409 `conflict` when reopening would make a second open conversation for the contact and
/// channel, 404 `not_found` unless it is the caller's tenant's.
pub async fn update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
    JsonBody(b): JsonBody<PatchBody>,
) -> Result<Json<Value>, ApiError> {
    let change = ConversationUpdate {
        status: b.status,
        assignee: b.assignee,
    };
    let c = state
        .update_conversation(&principal, &conversation, change)
        .await?;
    Ok(Json(conversation_json(&c)))
}

/// The contact and channel of a conversation to start (or find).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConversationStart)]
pub struct StartBody {
    /// A contact of this tenant.
    pub contact_id: String,
    /// A channel of this tenant.
    pub channel_id: String,
}

/// `POST /api/v1/conversations` with `{"contact_id","channel_id"}` → the open conversation for
/// the pair: 201 when opened now, 200 when it was already open. 422 `invalid_contact` /
/// `invalid_channel` unless both are the caller's tenant's.
pub async fn start(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(b): JsonBody<StartBody>,
) -> Result<Response, ApiError> {
    let (c, created) = state
        .start_conversation(&principal, &b.contact_id, &b.channel_id)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(conversation_json(&c))).into_response())
}

/// `GET /api/v1/conversations/{id}/messages?cursor=&limit=` →
/// `{"messages":[...],"next_cursor":...}`, newest first.
pub async fn messages(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
    q: Result<Query<MessageQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    // An id that cannot be one is not found, before the query string is looked at.
    if q.is_err()
        && conversation
            .parse::<confide_core::ids::ConversationId>()
            .is_err()
    {
        return Err(ApiError::not_found());
    }
    let q = query(q)?;
    let page = state.list_messages(&principal, &conversation, q).await?;
    Ok(Json(json!({
        "messages": page.items.iter().map(message_json).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

/// What to send: `{"type":"text","text":"..."}`,
/// `{"type":"template","template":"name","language":"en_US","params":[...]}`,
/// `{"type":"media","media_id":"...","caption":"..."}`,
/// `{"type":"interactive","text":"...","buttons":[{"id","title"}]}` or
/// `{"type":"reaction","message_id":"...","emoji":"👍"}`; any but a reaction may quote a message of
/// the conversation with `reply_to`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MessageSend)]
pub struct SendBody {
    /// `text` (the default), `template`, `media`, `interactive` or `reaction`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The text of a `text` message (at most 4,096 characters) or an `interactive` one (1,024).
    pub text: Option<String>,
    /// A `media` message: the id `POST /api/v1/media` returned.
    pub media_id: Option<String>,
    /// A `media` message: its caption (images, videos and documents; at most 1,024 characters).
    pub caption: Option<String>,
    /// An `interactive` message: 1 to 3 reply buttons `{"id","title"}` (title at most 20). A
    /// `template` message: its buttons' parameters, `{"index","type":"quick_reply","payload"}`
    /// or `{"index","type":"url","text"}` (the dynamic URL's suffix).
    pub buttons: Option<Vec<serde_json::Value>>,
    /// A `reaction`: the id of the message of this conversation reacted to (at most 30 days old).
    pub message_id: Option<String>,
    /// A `reaction`: the emoji (empty removes the reaction).
    pub emoji: Option<String>,
    /// A quoted reply: the id of the message of this conversation it answers.
    pub reply_to: Option<String>,
    /// A `template` message: the template's name.
    pub template: Option<String>,
    /// A `template` message: its language code, e.g. `en_US`.
    pub language: Option<String>,
    /// A `template` message: the body's parameters, a list in order (`{{1}}`, `{{2}}`…) or an
    /// object by name for templates with named parameters (`{"first_name": "Ana"}`, sent as
    /// Graph's `parameter_name`). Checked against the synced template: 422 `template_params`.
    #[schema(value_type = Object)]
    pub params: Option<serde_json::Value>,
    /// A `template` message: its header's parameter, `{"type":"text","text"}` or
    /// `{"type":"image|video|document","media_id"|"link"}` (an uploaded file, or an https link).
    #[schema(value_type = Object)]
    pub header: Option<serde_json::Value>,
}

/// `POST /api/v1/conversations/{id}/messages` → 202 with the queued message (`status:
/// queued`); the dispatcher sends it and status webhooks move it on. With an `Idempotency-Key`
/// header, a repeated request returns the first one's message and sends nothing more. Refused by
/// the send gate → 422 with its code (`outside_window`, `no_consent`, `channel_disabled`, ...).
pub async fn send(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Idempotency-Key must be visible ASCII.",
            )
        })?),
        None => None,
    };
    let queued = state
        .send_message(&principal, &conversation, &body, key)
        .await?;
    let m = confide_app::outbound::send::queued_message(&queued);
    Ok((StatusCode::ACCEPTED, Json(plain_message_json(m))).into_response())
}

/// `POST /api/v1/conversations/{id}/read` → 202 when a read receipt for the customer's latest
/// message is on its way to WhatsApp, 204 when there is nothing to mark (no message from the
/// customer, or the channel is stopped). The web inbox calls it as a conversation is opened.
pub async fn read(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
) -> Result<StatusCode, ApiError> {
    Ok(
        if state
            .mark_conversation_read(&principal, &conversation)
            .await?
        {
            StatusCode::ACCEPTED
        } else {
            StatusCode::NO_CONTENT
        },
    )
}
