//! Identity and access (issue 3): sessions, brute-force protection, 2FA, roles, API keys,
//! tenant isolation, the platform operator.

mod brute_force;
mod cross_tenant;
mod humans_only;
mod matrix;
mod oracles;
mod passwords;
pub mod platform;
mod proxies;
mod roles_keys;
mod sessions;
mod two_factor;
