//! Liveness, readiness and metrics.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

/// Liveness: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers and its migrations are current.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let database = state.ready().await?;
    Ok(Json(json!({"status": "ready", "database": database})))
}

/// Prometheus metrics (admin listener only).
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The addresses banned now (admin listener only; on PostgreSQL every instance's):
/// `{"bans":[{address, reason, failures, since, until}]}`.
pub async fn bans(State(state): State<AppState>) -> impl IntoResponse {
    let bans: Vec<serde_json::Value> = crate::edge::bans::list(&state)
        .await
        .iter()
        .map(|b| b.to_json())
        .collect();
    axum::Json(serde_json::json!({ "bans": bans }))
}
