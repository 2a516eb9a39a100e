//! Media: the media store where sealed objects live (local directory or S3), uploads typed by
//! their content, signed links, and the worker that fetches inbound media from Meta.

pub mod config;
pub mod fetcher;
pub mod lifecycle;
pub mod links;
pub mod sniff;
pub mod store;
pub mod upload;
