//! Confide's application layer: every use case, once.
//!
//! The HTTP API, the web pages, the CLI and the background workers only extract their input,
//! call a function here and map its result; none of them reaches the store, the keyring or Graph
//! on its own. A use case takes the caller's principal (the tenant comes from it and nowhere
//! else) and typed input, and returns a typed result or an [`error::AppError`], whose
//! [`error::Code`] is the API's error code.
//!
//! - [`runtime`]: [`App`], opened from the [`config::Config`]: the store, the keyring, the
//!   egress guard, the channel directory, the ingest writer and the workers.
//! - [`ingest`]: Meta's signed webhook deliveries, verified, parsed and stored by one group-commit
//!   writer.
//! - [`media`]: the inbound media fetcher and the sealed vault.
//! - [`outbound`]: Graph clients (always behind the egress guard) and channel health.
//! - [`metrics`]: counters and security events.

pub mod audit;
pub mod bans;
pub mod broadcasts;
pub mod channels;
pub mod charges;
pub mod config;
pub mod contacts;
pub mod conversations;
pub mod data;
pub mod error;
pub mod events;
pub mod identity;
pub mod ingest;
pub mod keyring;
pub mod keys;
pub mod media;
pub mod metrics;
pub mod notes;
#[cfg(feature = "operator")]
pub mod operator;
pub mod optout;
pub mod origin;
pub mod outbound;
pub mod paging;
pub mod platform;
pub mod principal;
pub mod runtime;
pub mod security;
pub mod team;
pub mod templates;

pub use config::Config;
pub use error::{AppError, Code, Kind};
pub use origin::Origin;
pub use principal::{Principal, PrincipalKind};
pub use runtime::{App, Deps, OpenError, Opener, Workers};
