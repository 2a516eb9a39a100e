//! The inbox: `GET /api/v1/conversations`, `GET /api/v1/conversations/{id}` and
//! `GET /api/v1/conversations/{id}/messages` to read; `POST /api/v1/conversations` to start (or
//! find) the open conversation with a contact on a channel, and `PATCH /api/v1/conversations/{id}`
//! to assign, resolve and reopen.
//!
//! Lists are keyset-paginated: a page answers `next_cursor`, an opaque string (null on the last
//! page) to pass back as `cursor` for the next one. A cursor is base64url (no padding) of
//! `c1.<last_message_at micros>.<conversation id>` (conversations) or
//! `m1.<created_at micros>.<message id>` (messages); clients must not build or read them.

use super::json::{JsonBody, id, ts, ts_opt};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use confide_core::ids::ConversationId;
use confide_core::send_gate::window_closes_at;
use confide_store::inbox::{
    AssigneeFilter, ConversationChange, ConversationCursor, ConversationFilter, ConversationStatus,
    InboxConversation, InboxError, InboxMessage, MAX_PAGE, MessageCursor,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// The page size when none is asked for.
pub const DEFAULT_LIMIT: i64 = 50;

const CONVERSATION_CURSOR: &str = "c1";
const MESSAGE_CURSOR: &str = "m1";

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| {
        bad_request(
            "invalid_query",
            format!("The query string is not understood: {}", e.body_text()),
        )
    })
}

pub(super) fn limit(v: Option<&str>) -> Result<i64, ApiError> {
    let Some(v) = v else {
        return Ok(DEFAULT_LIMIT);
    };
    match v.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(bad_request(
            "invalid_limit",
            format!("limit must be a whole number from 1 to {MAX_PAGE}."),
        )),
    }
}

pub(super) fn encode_cursor(kind: &str, at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}.{at}.{id}"))
}

/// The time and id a cursor of `kind` names; anything else is `invalid_cursor`.
pub(super) fn decode_cursor<T: std::str::FromStr>(
    kind: &str,
    v: &str,
) -> Result<(i64, T), ApiError> {
    let invalid = || {
        bad_request(
            "invalid_cursor",
            "cursor is not one this list handed out; start again without it.",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(v.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '.');
    let (Some(k), Some(at), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if k != kind {
        return Err(invalid());
    }
    let at = at.parse::<i64>().map_err(|_| invalid())?;
    let id = id.parse::<T>().map_err(|_| invalid())?;
    Ok((at, id))
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
        "contact": {
            "id": c.contact_id.to_string(),
            "name": c.contact_name,
            "username": c.contact_username,
            "phone": c.contact_phone,
        },
    })
}

fn message_json(m: &InboxMessage) -> Value {
    let msg = &m.message;
    json!({
        "id": msg.id.to_string(),
        "conversation_id": msg.conversation_id.to_string(),
        "direction": msg.direction,
        "wamid": msg.wamid,
        "kind": msg.kind,
        "body": msg.body,
        "status": msg.status,
        "created_at": ts(msg.created_at),
        "media": m.media.as_ref().map(|f| json!({"status": f.status, "attempts": f.attempts})),
    })
}

#[derive(Deserialize)]
pub struct ListParams {
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// `GET /api/v1/conversations?status=&assignee=&cursor=&limit=` →
/// `{"conversations":[...],"next_cursor":...}`, most recent activity first.
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    q: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query(q)?;
    let status = match p.status.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(s) => Some(ConversationStatus::parse(s).ok_or_else(|| {
            bad_request("invalid_status", "status must be open, resolved or all.")
        })?),
    };
    let assignee = match p.assignee.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("none") => Some(AssigneeFilter::Nobody),
        Some(u) => Some(AssigneeFilter::User(u.parse().map_err(|_| {
            bad_request("invalid_assignee", "assignee must be a user id or none.")
        })?)),
    };
    let limit = limit(p.limit.as_deref())?;
    let after = p
        .cursor
        .as_deref()
        .map(|c| decode_cursor(CONVERSATION_CURSOR, c))
        .transpose()?
        .map(|(last_message_at, id)| ConversationCursor {
            last_message_at,
            id,
        });
    let mut s = state.store.read_scope(principal.tenant).await?;
    let page = s
        .list_conversations(ConversationFilter { status, assignee }, after, limit)
        .await?;
    s.commit().await?;
    Ok(Json(json!({
        "conversations": page.items.iter().map(conversation_json).collect::<Vec<_>>(),
        "next_cursor": page.next.map(|c| encode_cursor(CONVERSATION_CURSOR, c.last_message_at, &c.id.to_string())),
    })))
}

/// `GET /api/v1/conversations/{id}`: 404 `not_found` unless it is the caller's tenant's.
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let conversation: ConversationId = id(&conversation)?;
    let mut s = state.store.read_scope(principal.tenant).await?;
    let c = s.inbox_conversation(conversation).await?;
    s.commit().await?;
    Ok(Json(conversation_json(&c)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    pub status: Option<String>,
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
    let conversation: ConversationId = id(&conversation)?;
    let status = b
        .status
        .as_deref()
        .map(|s| {
            ConversationStatus::parse(s.trim()).ok_or_else(|| {
                super::json::unprocessable("invalid_status", "status must be open or resolved.")
            })
        })
        .transpose()?;
    let assignee = match b.assignee {
        None => None,
        Some(None) => Some(None),
        Some(Some(u)) => Some(Some(
            u.trim()
                .parse()
                .map_err(|_| ApiError::from(InboxError::InvalidAssignee))?,
        )),
    };
    let mut s = state.store.scope(principal.tenant).await?;
    let c = s
        .update_conversation(
            conversation,
            ConversationChange { status, assignee },
            principal.actor(),
        )
        .await?;
    s.commit().await?;
    Ok(Json(conversation_json(&c)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    pub contact_id: String,
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
    let contact = b
        .contact_id
        .trim()
        .parse()
        .map_err(|_| ApiError::from(InboxError::InvalidContact))?;
    let channel = b
        .channel_id
        .trim()
        .parse()
        .map_err(|_| ApiError::from(InboxError::InvalidChannel))?;
    let mut s = state.store.scope(principal.tenant).await?;
    let (c, created) = s
        .start_conversation(contact, channel, principal.actor())
        .await?;
    s.commit().await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(conversation_json(&c))).into_response())
}

#[derive(Deserialize)]
pub struct MessageParams {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// `GET /api/v1/conversations/{id}/messages?cursor=&limit=` →
/// `{"messages":[...],"next_cursor":...}`, newest first.
pub async fn messages(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
    q: Result<Query<MessageParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let conversation: ConversationId = id(&conversation)?;
    let p = query(q)?;
    let limit = limit(p.limit.as_deref())?;
    let after = p
        .cursor
        .as_deref()
        .map(|c| decode_cursor(MESSAGE_CURSOR, c))
        .transpose()?
        .map(|(created_at, id)| MessageCursor { created_at, id });
    let mut s = state.store.read_scope(principal.tenant).await?;
    // Not the tenant's conversation: not found, before anything else is looked at.
    s.inbox_conversation(conversation).await?;
    let page = s.list_messages_page(conversation, after, limit).await?;
    s.commit().await?;
    Ok(Json(json!({
        "messages": page.items.iter().map(message_json).collect::<Vec<_>>(),
        "next_cursor": page.next.map(|c| encode_cursor(MESSAGE_CURSOR, c.created_at, &c.id.to_string())),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::ids::MessageId;

    #[test]
    fn cursors_round_trip_and_refuse_the_other_kind_and_garbage() {
        let id = "0190a7a4-0000-7000-8000-000000000000";
        let c = encode_cursor(CONVERSATION_CURSOR, 42, id);
        let (at, got): (i64, ConversationId) = decode_cursor(CONVERSATION_CURSOR, &c).unwrap();
        assert_eq!((at, got.to_string()), (42, id.to_string()));
        assert!(decode_cursor::<MessageId>(MESSAGE_CURSOR, &c).is_err());
        for bad in ["", "!!", "YWJj", &URL_SAFE_NO_PAD.encode("c1.x.y")] {
            let e = decode_cursor::<ConversationId>(CONVERSATION_CURSOR, bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_REQUEST, "invalid_cursor")
            );
        }
    }

    #[test]
    fn limits_outside_one_to_two_hundred_are_refused() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some("200")).unwrap(), 200);
        for bad in ["0", "-1", "201", "ten", "1.5", "99999999999999999999"] {
            assert_eq!(limit(Some(bad)).unwrap_err().code, "invalid_limit", "{bad}");
        }
    }
}
