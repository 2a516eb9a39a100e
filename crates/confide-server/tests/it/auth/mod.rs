//! Identity and access (issue 3): sessions, brute-force protection, 2FA, roles, API keys,
//! tenant isolation, the platform operator.

mod brute_force;
mod cross_tenant;
mod matrix;
mod passwords;
pub mod platform;
mod roles_keys;
mod sessions;
mod two_factor;
