//! Confide's server: the axum application behind `confide serve`.
//!
//! - [`config`]: layered configuration.
//! - [`startup`]: [`startup::Application::build`] binds the listeners, opens the store and returns
//!   a server ready to run until a shutdown signal.
//! - [`state`]: the shared application state handed to handlers.
//! - [`error`]: the one error type handlers return and its mapping to `{"error":{code,message}}`.
//! - [`api`]: JSON API handlers; [`edge`]: request ids, headers, limits; [`telemetry`]: logs and
//!   metrics; [`webhooks`]: Meta's signed deliveries and the group-commit writer.

pub mod api;
pub mod auth;
pub mod config;
pub mod edge;
pub mod error;
pub mod keyring;
pub mod media;
pub mod outbound;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod webhooks;

pub use config::Config;
pub use startup::Application;
