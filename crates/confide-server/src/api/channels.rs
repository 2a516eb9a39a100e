//! Channels (WhatsApp business numbers): `GET/POST /api/v1/channels`,
//! `GET/PATCH/DELETE /api/v1/channels/{id}`, `POST /api/v1/channels/{id}/rotate-secret` and
//! `.../finish-rotation`. Secrets are write-only: accepted, sealed, never returned.

use super::json::{JsonBody, id, ts, unprocessable};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confide_core::ids::ChannelId;
use confide_store::channels::{Channel, ChannelPatch, NewChannel};
use confide_whatsapp::egress::EgressPolicy;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Meta's Graph API, the default for every channel (tests point channels at meta-sim).
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.facebook.com";

fn channel_json(c: &Channel) -> serde_json::Value {
    json!({
        "id": c.id.to_string(),
        "phone_number_id": c.phone_number_id,
        "waba_id": c.waba_id,
        "display_phone_number": c.display_phone_number,
        "graph_base_url": c.graph_base_url,
        "status": c.status,
        "rotating_secret": c.rotating_secret,
        "health": c.health,
        "health_detail": c.health_detail,
        "webhook_path": format!("/webhooks/whatsapp/{}", c.id),
        "created_at": ts(c.created_at),
    })
}

/// Meta's ids are digits; anything else is a typo.
fn digits(field: &'static str, v: &str) -> Result<String, ApiError> {
    let v = v.trim();
    if v.is_empty() || v.len() > 32 || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(unprocessable(
            "invalid_channel",
            format!("{field} must be Meta's numeric id."),
        ));
    }
    Ok(v.to_string())
}

fn secret(field: &'static str, v: String) -> Result<SecretString, ApiError> {
    if v.trim().is_empty() || v.len() > 4096 {
        return Err(unprocessable(
            "invalid_channel",
            format!("{field} is required (1 to 4096 characters)."),
        ));
    }
    Ok(SecretString::from(v))
}

/// A channel's Graph API must be one of the operator's `graph_allowed_origins` (SSRF protection,
/// C21): the origin (`scheme://host:port`) of `graph_base_url`, compared exactly, must be listed
/// in the egress policy built from them; else 422 `graph_origin_not_allowed`. A listed origin
/// with a query, fragment or credentials is 422 `invalid_graph_base_url`.
fn graph_base_url(egress: &Arc<EgressPolicy>, v: Option<String>) -> Result<String, ApiError> {
    let raw = v.unwrap_or_else(|| DEFAULT_GRAPH_BASE_URL.to_string());
    let url = raw.trim();
    if !egress.is_listed(url) {
        return Err(unprocessable(
            "graph_origin_not_allowed",
            "graph_base_url is not one of the Graph API origins this server allows \
             (graph_allowed_origins); the default is Meta's https://graph.facebook.com.",
        ));
    }
    confide_app::outbound::graph::graph_client(egress, url, SecretString::from("validation"))
        .map_err(|e| {
            unprocessable(
                "invalid_graph_base_url",
                format!("graph_base_url is not a usable Graph API URL: {e}"),
            )
        })?;
    Ok(url.trim_end_matches('/').to_string())
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut s = state.store.read_scope(principal.tenant).await?;
    let channels = s.list_channels().await?;
    s.commit().await?;
    Ok(Json(
        json!({"channels": channels.iter().map(channel_json).collect::<Vec<_>>()}),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(channel): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let channel: ChannelId = id(&channel)?;
    let mut s = state.store.read_scope(principal.tenant).await?;
    let c = s.get_channel(channel).await?;
    Ok(Json(channel_json(&c)))
}

#[derive(Deserialize)]
pub struct NewChannelBody {
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_phone_number: String,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
    pub graph_base_url: Option<String>,
}

/// `POST /api/v1/channels` → 201 with the channel (no secrets) and its webhook path.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(b): JsonBody<NewChannelBody>,
) -> Result<Response, ApiError> {
    let display = b.display_phone_number.trim().to_string();
    if display.is_empty() || display.len() > 32 {
        return Err(unprocessable(
            "invalid_channel",
            "display_phone_number is required.",
        ));
    }
    let new = NewChannel {
        phone_number_id: digits("phone_number_id", &b.phone_number_id)?,
        waba_id: digits("waba_id", &b.waba_id)?,
        display_phone_number: display,
        access_token: secret("access_token", b.access_token)?,
        app_secret: secret("app_secret", b.app_secret)?,
        verify_token: secret("verify_token", b.verify_token)?,
        graph_base_url: graph_base_url(&state.egress, b.graph_base_url)?,
    };
    let mut s = state.store.scope(principal.tenant).await?;
    let c = s.create_channel(new, principal.actor()).await?;
    s.commit().await?;
    state.health.check_in_background(principal.tenant, c.id);
    Ok((StatusCode::CREATED, Json(channel_json(&c))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    pub display_phone_number: Option<String>,
    pub access_token: Option<String>,
    pub verify_token: Option<String>,
    pub graph_base_url: Option<String>,
    pub status: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(channel): Path<String>,
    JsonBody(b): JsonBody<PatchBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let channel: ChannelId = id(&channel)?;
    if let Some(status) = &b.status
        && !["active", "disabled"].contains(&status.as_str())
    {
        return Err(unprocessable(
            "invalid_channel",
            "status must be active or disabled.",
        ));
    }
    let token_changed = b.access_token.is_some() || b.graph_base_url.is_some();
    let patch = ChannelPatch {
        display_phone_number: b.display_phone_number.map(|d| d.trim().to_string()),
        access_token: b
            .access_token
            .map(|v| secret("access_token", v))
            .transpose()?,
        verify_token: b
            .verify_token
            .map(|v| secret("verify_token", v))
            .transpose()?,
        graph_base_url: b
            .graph_base_url
            .map(|u| graph_base_url(&state.egress, Some(u)))
            .transpose()?,
        status: b.status,
    };
    let mut s = state.store.scope(principal.tenant).await?;
    let c = s.update_channel(channel, patch, principal.actor()).await?;
    s.commit().await?;
    state.channels.invalidate(channel);
    if token_changed {
        state.health.check_in_background(principal.tenant, channel);
    }
    Ok(Json(channel_json(&c)))
}

pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(channel): Path<String>,
) -> Result<StatusCode, ApiError> {
    let channel: ChannelId = id(&channel)?;
    let mut s = state.store.scope(principal.tenant).await?;
    s.delete_channel(channel, principal.actor()).await?;
    s.commit().await?;
    state.channels.invalidate(channel);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RotateBody {
    pub app_secret: String,
}

/// `POST /api/v1/channels/{id}/rotate-secret`: both secrets verify until `finish-rotation`.
pub async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(channel): Path<String>,
    JsonBody(b): JsonBody<RotateBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let channel: ChannelId = id(&channel)?;
    let next = secret("app_secret", b.app_secret)?;
    let mut s = state.store.scope(principal.tenant).await?;
    let c = s
        .begin_secret_rotation(channel, next, principal.actor())
        .await?;
    s.commit().await?;
    state.channels.invalidate(channel);
    Ok(Json(channel_json(&c)))
}

pub async fn finish_rotation(
    State(state): State<AppState>,
    principal: Principal,
    Path(channel): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let channel: ChannelId = id(&channel)?;
    let mut s = state.store.scope(principal.tenant).await?;
    let c = s.finish_secret_rotation(channel, principal.actor()).await?;
    s.commit().await?;
    state.channels.invalidate(channel);
    Ok(Json(channel_json(&c)))
}
