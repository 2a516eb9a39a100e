//! confide-server's integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod auth;
mod channels;
mod contacts;
mod data;
mod edge;
mod exports;
mod finding;
mod harness;
mod inbox;
mod incident;
mod layers;
mod media;
mod openapi;
mod sending;
mod team_tools;
mod web;
mod webhooks;
