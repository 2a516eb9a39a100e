//! `meta-sim`: a simulator of Meta's WhatsApp Business Cloud API, faithful to
//! `shared/whatsapp-cloud-api.md`.
//!
//! - [`Sim::start`] serves the Graph endpoints on loopback and returns a [`SimHandle`], which
//!   scripts customers ([`SimHandle::customer_sends`]), configures numbers, users and templates,
//!   and shows what happened ([`SimHandle::sent_messages`], [`SimHandle::deliveries`],
//!   [`SimHandle::wait_idle`]).
//! - Webhooks are delivered to each number's callback, signed over the exact bytes, non-ASCII
//!   escaped, batched, retried; optionally duplicated and reordered (seeded).
//! - [`script`] makes deterministic inbound traffic from a seed; [`payloads`] makes signed webhook
//!   bodies without any server, for ingest benchmarks.
//!
//! Time comes from an injected [`confide_core::clock::Clock`], so tests can cross the 24-hour
//! window, the 5-minute media URL lifetime and token expiry with a `ManualClock`.

pub mod config;
mod control;
mod error;
pub mod graph;
mod handle;
pub mod ids;
pub mod inbound;
pub mod json_escape;
pub mod media;
pub mod payloads;
pub mod ratelimit;
pub mod records;
pub mod rng;
pub mod script;
mod sim;
mod state;
pub mod templates;
pub mod webhooks;
pub mod wire;

pub use config::{
    NumberConfig, SimConfig, StatusConfig, THROUGHPUT_DEFAULT, THROUGHPUT_UPGRADED,
    TemplateCategory, TemplateConfig, TemplateStatus, UserConfig, WebhookConfig, WindowMode,
};
pub use error::SimError;
pub use handle::SimHandle;
pub use handle::customers::Preference;
pub use inbound::{ContactCard, InboundMessage, MediaBlob};
pub use records::{
    Attempt, DeliveryOutcome, DeliveryRecord, InboundRecord, OutboundRecord, ReadReceipt,
    RejectedRequest, SendOutcome, WebhookEvent,
};
pub use script::{Mix, Script};
pub use sim::Sim;
pub use templates::Template;
pub use webhooks::signature;
