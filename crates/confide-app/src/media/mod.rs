//! Media: the private vault where sealed media bytes live, and the worker that fetches inbound
//! media from Meta.

pub mod fetcher;
pub mod vault;
