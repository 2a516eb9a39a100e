//! Tenant settings that are not security: `GET/PUT /api/v1/settings/opt-out`, the opt-out
//! keywords per language and the confirmation sent once per opt-out. The use cases are
//! `confide_app::optout`.

use super::json::JsonBody;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use confide_app::optout::OptOutSettings;
use confide_core::send_gate::keywords::DEFAULT_OPT_OUT_WORDS;
use serde_json::{Value, json};

fn settings_json(s: &OptOutSettings) -> Value {
    json!({
        "keywords": s.keywords,
        "confirmations": s.confirmations,
        "confirm": s.confirm,
        "built_in_keywords": DEFAULT_OPT_OUT_WORDS,
    })
}

/// `GET /api/v1/settings/opt-out`.
pub async fn get_opt_out(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<Value>, ApiError> {
    let s = state.opt_out_settings(&principal).await?;
    Ok(Json(settings_json(&s)))
}

/// `PUT /api/v1/settings/opt-out` with `{"keywords":{lang:[words]},"confirmations":{lang:text},
/// "confirm":bool}` (the whole settings; absent fields are empty, `confirm` true).
pub async fn put_opt_out(
    State(state): State<AppState>,
    Caller(principal): Caller,
    JsonBody(body): JsonBody<OptOutSettings>,
) -> Result<Json<Value>, ApiError> {
    let s = state.set_opt_out_settings(&principal, body).await?;
    Ok(Json(settings_json(&s)))
}
