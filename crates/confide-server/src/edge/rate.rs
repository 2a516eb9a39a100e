//! Rate limits: a token bucket per (route class, client address) and, once a request is
//! authenticated, per (route class, tenant). A bucket holds a minute's worth of requests and
//! refills continuously; an empty one answers 429 `rate_limited` with `Retry-After`. Time comes
//! from the injected clock. The client address is the one `trusted_proxies` decides
//! ([`crate::auth::client`]), never an untrusted `X-Forwarded-For`.

use axum::http::Method;
use confide_app::config::RateLimitsConfig;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::OffsetDateTime;

/// What a route is, for its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `POST /api/v1/session`, `POST /api/v1/platform/session`.
    SignIn,
    /// Everything else of the API and the pages.
    Api,
    /// `/webhooks/...`: Meta's deliveries.
    Webhooks,
    /// `/m/{token}`: media links.
    Media,
    /// `/api/v1/exports...`: tenant exports.
    Exports,
}

/// The class of a request; `None` for what is never limited (health checks, security.txt).
pub fn class_of(method: &Method, path: &str) -> Option<Class> {
    if matches!(path, "/healthz" | "/readyz") || path.starts_with("/.well-known/") {
        return None;
    }
    if *method == Method::POST && matches!(path, "/api/v1/session" | "/api/v1/platform/session") {
        return Some(Class::SignIn);
    }
    if path.starts_with("/webhooks/") {
        return Some(Class::Webhooks);
    }
    // Signed links: media, and export downloads.
    if path.starts_with("/m/") || path.starts_with("/x/") {
        return Some(Class::Media);
    }
    // Starting an export is the costly part; following one (`GET /api/v1/exports/{id}`, polled
    // until ready) is an ordinary API read.
    if *method == Method::POST && path == "/api/v1/exports" {
        return Some(Class::Exports);
    }
    Some(Class::Api)
}

impl Class {
    /// Requests per minute per client address (0: no limit).
    pub fn per_address(self, c: &RateLimitsConfig) -> u32 {
        match self {
            Class::SignIn => c.sign_in_per_address,
            Class::Api => c.api_per_address,
            Class::Webhooks => c.webhooks_per_address,
            Class::Media => c.media_per_address,
            Class::Exports => c.exports_per_address,
        }
    }

    /// Requests per minute per tenant (0: no limit).
    pub fn per_tenant(self, c: &RateLimitsConfig) -> u32 {
        match self {
            Class::Api => c.api_per_tenant,
            Class::Exports => c.exports_per_tenant,
            Class::SignIn | Class::Webhooks | Class::Media => 0,
        }
    }
}

/// Whose bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Address(IpAddr),
    Tenant(String),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: OffsetDateTime,
}

/// Buckets kept at most; when full, the ones that have refilled are dropped.
const MAX_BUCKETS: usize = 200_000;

#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<(Class, Key), Bucket>>,
}

impl Limiter {
    /// Takes one request from the bucket of `(class, key)` holding `per_minute`; `Err(seconds)`
    /// to wait when it is empty. A limit of 0 always passes.
    pub fn take(
        &self,
        class: Class,
        key: Key,
        per_minute: u32,
        now: OffsetDateTime,
    ) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        let rate = capacity / 60.0;
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| b.tokens + (now - b.at).as_seconds_f64() * rate < capacity);
        }
        let b = buckets.entry((class, key)).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = (now - b.at).as_seconds_f64().max(0.0);
        b.tokens = (b.tokens + elapsed * rate).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / rate).ceil();
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn a_bucket_holds_a_minute_and_refills() {
        let l = Limiter::default();
        let ip = Key::Address("198.51.100.1".parse().unwrap());
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        for _ in 0..6 {
            assert!(l.take(Class::SignIn, ip.clone(), 6, t0).is_ok());
        }
        assert_eq!(l.take(Class::SignIn, ip.clone(), 6, t0), Err(10));
        // Another class and another address have their own buckets.
        assert!(l.take(Class::Api, ip.clone(), 6, t0).is_ok());
        let other = Key::Address("198.51.100.2".parse().unwrap());
        assert!(l.take(Class::SignIn, other, 6, t0).is_ok());
        assert!(
            l.take(Class::SignIn, ip.clone(), 6, t0 + Duration::seconds(10))
                .is_ok()
        );
        assert!(l.take(Class::SignIn, ip, 0, t0).is_ok());
    }

    #[test]
    fn routes_fall_in_their_classes() {
        assert_eq!(
            class_of(&Method::POST, "/api/v1/session"),
            Some(Class::SignIn)
        );
        assert_eq!(
            class_of(&Method::DELETE, "/api/v1/session"),
            Some(Class::Api)
        );
        assert_eq!(
            class_of(&Method::POST, "/webhooks/whatsapp/x"),
            Some(Class::Webhooks)
        );
        assert_eq!(class_of(&Method::GET, "/m/abc"), Some(Class::Media));
        assert_eq!(
            class_of(&Method::POST, "/api/v1/exports"),
            Some(Class::Exports)
        );
        assert_eq!(
            class_of(&Method::GET, "/api/v1/exports/abc"),
            Some(Class::Api)
        );
        assert_eq!(class_of(&Method::GET, "/x/abc"), Some(Class::Media));
        assert_eq!(class_of(&Method::GET, "/healthz"), None);
        assert_eq!(class_of(&Method::GET, "/.well-known/security.txt"), None);
    }
}
