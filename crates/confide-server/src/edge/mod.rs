//! The edge: what every request passes through before a handler (request ids, security headers,
//! body limits, timeouts, access logs, status metrics).

pub mod access;
pub mod headers;
pub mod request_id;
