//! The JSON API and the public routes around it.

pub mod health;

use crate::state::AppState;
use axum::Router;
use axum::routing::get;

/// Routes of the public listener.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}

/// Routes of the admin listener.
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(health::metrics))
        .route("/healthz", get(health::healthz))
}
