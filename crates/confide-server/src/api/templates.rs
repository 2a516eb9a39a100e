//! Message templates: `GET /api/v1/templates` (synced from Graph, kept current by status
//! webhooks) and `POST /api/v1/templates/sync`. The use cases are `confide_app::templates`.

use super::json::ts;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use confide_app::templates::StoredTemplate;
use serde_json::{Value, json};

fn template_json(t: &StoredTemplate) -> Value {
    json!({
        "id": t.id.to_string(),
        "channel_id": t.channel.to_string(),
        "name": t.def.name,
        "language": t.def.language,
        "category": t.def.category,
        "status": t.def.status,
        "params": t.def.body_params,
        "components": t.def.components,
        "updated_at": ts(t.updated_at),
    })
}

/// `GET /api/v1/templates` → `{"templates":[...]}`, by channel, name and language.
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Value>, ApiError> {
    let list = state.list_templates(&principal).await?;
    Ok(Json(json!({
        "templates": list.iter().map(template_json).collect::<Vec<_>>(),
    })))
}

/// `POST /api/v1/templates/sync` → `{"channels","templates","new","failed_channels"}`: every
/// channel's templates, all pages, as Graph lists them.
pub async fn sync(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Value>, ApiError> {
    let r = state.sync_templates(&principal).await?;
    Ok(Json(json!({
        "channels": r.channels,
        "templates": r.templates,
        "new": r.new,
        "failed_channels": r.failed_channels,
    })))
}

/// `POST /api/v1/templates/preview` with `{"template","language","channel_id"?,"params"}` → the
/// template rendered as the customer would see it.
pub async fn preview(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    crate::auth::Caller(principal): crate::auth::Caller,
    super::json::JsonBody(input): super::json::JsonBody<confide_app::templates::PreviewInput>,
) -> Result<axum::Json<confide_app::templates::TemplatePreview>, crate::error::ApiError> {
    Ok(axum::Json(
        state.preview_template(&principal, &input).await?,
    ))
}
