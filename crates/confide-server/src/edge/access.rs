//! One access-log line and one metric per request: method, route template, status, duration and
//! request id. The raw URI is never logged (query strings may hold personal data).

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

pub async fn log_and_count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into());
    let request_id = super::request_id::of(&req);
    let res = next.run(req).await;
    let status = res.status().as_u16();
    state.metrics.record_status(status);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(%method, route, status, ms, request_id, "request");
    } else {
        tracing::info!(%method, route, status, ms, request_id, "request");
    }
    res
}
