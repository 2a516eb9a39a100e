//! WhatsApp Business Cloud API wire types, as described in `shared/whatsapp-cloud-api.md`.
//!
//! - [`webhook`]: the inbound webhook model and its parser, [`webhook::parse_webhook`]. Only the
//!   envelope can fail a whole body; a malformed change or item is skipped and reported, the rest kept.
//! - [`signature`]: `X-Hub-Signature-256` verification over the raw body (constant time, two secrets
//!   during rotation) and signing for the simulator and tests.
//! - [`send`]: outbound Graph bodies with validating constructors, and the Graph responses (send
//!   success, error, template list).
//! - [`errors`]: what to do with a Graph error code (retry, back off, stop the channel, fail).
//! - [`bsuid`]: business-scoped user id format checks.
//! - [`client`]: the Graph API client (sends, mark-read, media, templates) with an outbound
//!   allowlist, no redirects, size caps and typed, classified errors.
//! - [`egress`]: the one egress guard every client carries: no connection to a private,
//!   loopback, link-local or otherwise non-public address unless its origin is listed.
//!
//! Apart from [`client`] and [`egress`], which do HTTP and DNS, the library does no I/O; it reads
//! no clock, draws no randomness and logs nothing: it returns data.

pub mod bsuid;
pub mod client;
pub mod egress;
pub mod errors;
mod origin;
pub mod send;
pub mod signature;
pub mod webhook;

pub use bsuid::{is_bsuid, is_parent_bsuid};
pub use errors::{ErrorClass, backoff_delay, classify};
pub use signature::{SignatureError, sign, verify_signature};
pub use webhook::{EnvelopeError, WebhookBatch, parse_webhook};
