//! Confide's domain: types and rules with no I/O.
//!
//! Time and randomness are parameters ([`clock::Clock`], [`entropy::Entropy`]): nothing in the
//! workspace reads the system clock or the OS random source except through these two modules.

pub mod audit;
pub mod clock;
pub mod email;
pub mod entropy;
pub mod ids;
pub mod names;
pub mod permissions;
pub mod phone;
pub mod send_gate;
