#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of confide-whatsapp: every webhook fixture, robustness, signatures, send bodies,
//! the Graph client against meta-sim and hostile stand-ins.

mod client;
mod fixtures;
mod mutations;
mod robustness;
mod send;
mod signature;

/// The bytes of a webhook fixture (`fixtures/webhooks/`) (exactly as Meta sends them).
macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/webhooks/",
            $name
        ))
        .as_slice()
    };
}
pub(crate) use fixture;

/// The fixture directory, for tests that walk it.
pub(crate) const FIXTURE_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/webhooks");
