//! The one egress guard (SECURITY-CLAIMS C21): every outbound HTTP request of the product goes
//! through a [`crate::client::GraphClient`], and every `GraphClient` carries an [`EgressPolicy`]
//! ([`crate::client::GraphClientOptions::egress`]); there is no other way out.
//!
//! The policy refuses to connect to any address that is not public: private (10/8, 172.16/12,
//! 192.168/16), loopback (127/8, `::1`), link-local (169.254/16 with the cloud metadata address
//! 169.254.169.254, `fe80::/10`), unspecified (0.0.0.0/8, `::`), shared CGNAT (100.64/10),
//! unique-local (`fc00::/7`, with AWS's `fd00:ec2::254`), multicast, broadcast and reserved
//! ranges, documentation and benchmarking ranges, and the IPv4-mapped, IPv4-compatible, NAT64,
//! 6to4 and Teredo forms of IPv6 that would smuggle any of these (see [`non_public_range`]).
//!
//! It is enforced twice, so that neither an IP literal nor a DNS name gets past it:
//!
//! - before a request, [`EgressPolicy::check_url`] refuses an IP-literal host in those ranges
//!   (reqwest does not resolve literals, so the resolver never sees them);
//! - at connect time, [`GuardedResolver`] (a [`reqwest::dns::Resolve`] wrapper around an
//!   injectable inner resolver) drops every resolved address in those ranges and fails when none
//!   is left. The check happens on the addresses actually connected to, after DNS, so a name that
//!   resolves (or rebinds) to 10.0.0.1 is refused too.
//!
//! The only exception is an origin (`scheme://host:port`) the operator listed explicitly
//! (`graph_allowed_origins`): that is how tests and `serve --demo` reach their meta-sim on
//! loopback. The exception is exact: `http://localhost:8080` is not `http://127.0.0.1:8080`. As
//! the resolver only sees a host name, never a scheme or port, a request to an unlisted origin
//! whose host name is that of a listed origin is refused before it is made (otherwise the
//! resolver could not tell the two apart).
//!
//! [`EgressPolicy`] (with its errors and the [`GuardedResolver`] it hands to clients) is in
//! `policy`, the address ranges in `ranges`, and the plain resolvers the guard wraps
//! ([`SystemResolver`], [`FixedResolver`]) in `resolvers`.

mod policy;
mod ranges;
mod resolvers;

pub use policy::{EgressConfigError, EgressPolicy, EgressRefused, GuardedResolver};
pub use ranges::{is_public, non_public_range};
pub use resolvers::{FixedResolver, SystemResolver};
