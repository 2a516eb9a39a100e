//! The team's tools: internal notes (`GET/POST /api/v1/conversations/{id}/notes`, never sent to
//! the customer) and canned responses (`/api/v1/canned-responses`). The use cases are
//! `confide_app::notes`.

use super::json::{JsonBody, ts};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_app::notes::{CannedResponse, Note};
use serde::Deserialize;
use serde_json::{Value, json};

fn note_json(n: &Note) -> Value {
    json!({
        "id": n.id.to_string(),
        "conversation_id": n.conversation.to_string(),
        "author": n.author,
        "text": n.text,
        "created_at": ts(n.created_at),
    })
}

fn canned_json(c: &CannedResponse) -> Value {
    json!({
        "id": c.id.to_string(),
        "shortcut": c.shortcut,
        "text": c.text,
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
    })
}

/// An internal note.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NoteInput)]
pub struct NoteBody {
    /// At most 4,096 characters; never sent to the customer.
    pub text: String,
}

/// `GET /api/v1/conversations/{id}/notes` → `{"notes":[...]}`, oldest first.
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let notes = state.list_notes(&principal, &conversation).await?;
    Ok(Json(
        json!({"notes": notes.iter().map(note_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/conversations/{id}/notes` with `{"text"}` → 201 with the note.
pub async fn add(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(conversation): Path<String>,
    JsonBody(b): JsonBody<NoteBody>,
) -> Result<Response, ApiError> {
    let n = state.add_note(&principal, &conversation, &b.text).await?;
    Ok((StatusCode::CREATED, Json(note_json(&n))).into_response())
}

/// A canned response.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CannedResponseInput)]
pub struct CannedBody {
    /// 1 to 32 letters, digits, `-` or `_` (typed after a `/` in the composer).
    pub shortcut: String,
    /// At most 4,096 characters.
    pub text: String,
}

/// A change to a canned response (absent: unchanged).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CannedResponseChange)]
pub struct CannedPatch {
    pub shortcut: Option<String>,
    pub text: Option<String>,
}

/// `GET /api/v1/canned-responses` → `{"canned_responses":[...]}`, by shortcut.
pub async fn canned_list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Value>, ApiError> {
    let list = state.list_canned(&principal).await?;
    Ok(Json(
        json!({"canned_responses": list.iter().map(canned_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/canned-responses` with `{"shortcut","text"}` → 201; 409 when the shortcut is
/// taken.
pub async fn canned_create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(b): JsonBody<CannedBody>,
) -> Result<Response, ApiError> {
    let c = state
        .create_canned(&principal, &b.shortcut, &b.text)
        .await?;
    Ok((StatusCode::CREATED, Json(canned_json(&c))).into_response())
}

/// `PATCH /api/v1/canned-responses/{id}` → the canned response.
pub async fn canned_update(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CannedPatch>,
) -> Result<Json<Value>, ApiError> {
    let c = state
        .update_canned(&principal, &id, b.shortcut.as_deref(), b.text.as_deref())
        .await?;
    Ok(Json(canned_json(&c)))
}

/// `DELETE /api/v1/canned-responses/{id}` → 204.
pub async fn canned_delete(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_canned(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
