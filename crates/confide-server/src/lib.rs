//! Confide's server: the axum application behind `confide serve`.
//!
//! Every use case lives in `confide_app` (with the configuration, the store and the workers);
//! this crate extracts input from HTTP, calls it, and maps the result.
//!
//! - [`startup`]: [`startup::Application::build`] binds the listeners, opens the store and returns
//!   a server ready to run until a shutdown signal.
//! - [`state`]: the shared application state handed to handlers.
//! - [`error`]: the one error type handlers return and its mapping to `{"error":{code,message}}`.
//! - [`api`]: JSON API handlers; [`edge`]: request ids, headers, limits; [`telemetry`]: logs and
//!   metrics; [`webhooks`]: Meta's signed deliveries and the group-commit writer; [`web`]: the
//!   server-rendered pages.

pub mod api;
pub mod auth;
pub mod edge;
pub mod error;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
pub mod webhooks;

pub use confide_app::Config;
pub use startup::Application;
