//! The Graph client against meta-sim (happy paths, Meta's errors) and against small hostile
//! stand-ins on 127.0.0.1 (redirects, foreign media URLs, oversized bodies, paging tricks), with
//! the egress guard under it.

mod allowlist;
mod answers;
mod egress;
mod harness;
mod meta_sim;
mod token;
