#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! meta-sim integration tests: one binary, one module per area.

mod binary;
mod common;
mod identity;
mod limits;
mod media;
mod pywa;
mod script;
mod send;
mod templates;
mod webhooks;
mod window;
