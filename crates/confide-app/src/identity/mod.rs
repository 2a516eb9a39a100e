//! Who may do what, and proving who you are: password hashing on a bounded pool
//! ([`passwords`]), throttling of password checks ([`throttle`]), the rules for granting power
//! ([`grants`]), and the secrets handed to people (one-time passwords, API keys: [`secrets`]).

pub mod grants;
pub mod passwords;
pub mod secrets;
pub mod throttle;

pub use passwords::AuthRuntime;
