//! The Store: every byte Confide keeps, behind one interface, on SQLite or PostgreSQL.
//!
//! One implementation serves both engines through sqlx's `Any` driver, so the conformance suite
//! (`tests/it`) proves the same code on both. What differs per engine lives in two places only:
//! the migrations (`migrations/{sqlite,postgres}`) and [`backend`] (connection set-up).
//!
//! Rules a reviewer can check here:
//! - **Tenant from the caller's principal.** Every tenant-scoped operation goes through
//!   [`Store::scope`], which opens a transaction bound to one tenant; on PostgreSQL it also sets
//!   `confide.tenant_id` so row-level security is a second wall.
//! - **Ciphertext by default.** Personal data and secrets are sealed with the tenant's keys
//!   ([`keys`]) before any query sees them; lookups use keyed blind indexes.
//! - **Append-only audit.** [`audit`] appends sealed, chained entries in the same transaction as
//!   the change they record.
//!
//! Where things are: [`Store`] is the shared handle ([`Store::open`] migrates and connects);
//! [`Scope`] is one tenant's transaction, and each aggregate a scope may touch has a handle in
//! its own module, borrowed from the scope: [`Scope::contacts`], [`Scope::consent`],
//! [`Scope::inbox`] (conversations and their messages), [`Scope::users`], [`Scope::roles`],
//! [`Scope::api_keys`], [`Scope::sessions`]. What webhooks bring is written by [`ingest`], one by
//! one or in bulk, with the same statement per table either way.

pub mod api_keys;
pub mod audit;
pub mod backend;
pub mod bans;
pub mod broadcasts;
pub mod channels;
pub mod charges;
pub mod consent;
pub mod contacts;
pub mod conversations;
pub mod durability;
pub mod erasure;
pub mod error;
pub mod export;
pub mod exports;
pub mod import;
pub mod inbox;
mod inbox_messages;
pub mod incident;
pub mod ingest;
pub mod keys;
pub mod leases;
mod legacy;
pub mod media;
pub mod media_objects;
pub mod migrate;
pub mod name_tokens;
pub mod notes;
pub mod notify;
mod open;
pub mod outbox;
pub mod page;
pub mod platform;
pub mod principals;
pub mod reach;
pub mod roles;
pub mod rotation;
pub mod scope;
pub mod scratch;
pub mod sessions;
mod store;
mod tables;
pub mod templates;
pub mod tenants;
pub mod throttle;
pub mod tx;
pub mod users;

pub use backend::{Backend, StoreOptions};
pub use error::StoreError;
pub use keys::KeyringReload;
pub use scope::Scope;
pub use store::Store;
