//! Who may do what, and proving who you are: password hashing on a bounded pool
//! ([`passwords`]), throttling of password checks ([`throttle`]), the rules for granting power
//! ([`grants`]), the secrets handed to people (one-time passwords, API keys, recovery codes:
//! [`secrets`]), sign-in and sessions ([`session`]) and one's own account ([`account`]).

pub mod account;
pub mod grants;
pub mod passwords;
pub mod resolve;
pub mod secrets;
pub mod session;
pub mod throttle;

pub use passwords::AuthRuntime;
