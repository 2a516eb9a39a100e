//! Meta's limits on business-initiated traffic (whatsapp-cloud-api.md §4):
//!
//! - the **messaging limit** (tier): how many unique users a number may reach outside a customer
//!   service window per rolling 24 hours (250, 2,000, 10,000, 100,000 or unlimited). The gate
//!   refuses a business-initiated send to a user not yet reached in the last 24 hours once the
//!   tier is used up (`messaging_limit`); the caller counts the reached users ([`Reach`]).
//! - the **pair rate**: about one message per 6 s to the same user, with bursts borrowing from
//!   future quota. This is pacing, not a refusal: the dispatcher holds a recipient's next message
//!   until [`PairPacer`] has room, so Meta's 131056 is never provoked. Nothing is refused for it:
//!   a message waits seconds at most per message already queued for that person.

use std::fmt;

/// A number's messaging-limit tier: unique users reached outside a window per rolling 24 h.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessagingLimit {
    /// At most this many unique users (Meta's tiers: 250, 2,000, 10,000, 100,000).
    Users(u32),
    Unlimited,
}

impl MessagingLimit {
    /// Meta's tiers, smallest first.
    pub const TIERS: [MessagingLimit; 5] = [
        MessagingLimit::Users(250),
        MessagingLimit::Users(2_000),
        MessagingLimit::Users(10_000),
        MessagingLimit::Users(100_000),
        MessagingLimit::Unlimited,
    ];

    /// `"250"`, `"2000"`, `"10000"`, `"100000"` or `"unlimited"` (a tier of Meta's only).
    pub fn parse(s: &str) -> Option<MessagingLimit> {
        let s = s.trim().replace([',', '_'], "");
        Self::TIERS.into_iter().find(|t| t.as_string() == s)
    }

    /// The stored and API form (`"250"`, …, `"unlimited"`).
    pub fn as_string(self) -> String {
        match self {
            MessagingLimit::Users(n) => n.to_string(),
            MessagingLimit::Unlimited => "unlimited".to_string(),
        }
    }

    /// Whether one more user may be reached when `reached` unique users were reached in the
    /// last 24 hours.
    pub fn has_room(self, reached: u64) -> bool {
        match self {
            MessagingLimit::Users(n) => reached < u64::from(n),
            MessagingLimit::Unlimited => true,
        }
    }
}

impl fmt::Display for MessagingLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessagingLimit::Users(n) => write!(f, "{n} users per 24 hours"),
            MessagingLimit::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// The messaging-limit facts of a send, counted by the caller from the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The sending number's tier.
    pub limit: MessagingLimit,
    /// Unique users the number reached outside a window in the 24 hours before the decision.
    pub reached: u64,
    /// Whether this contact is one of them (reaching them again costs nothing).
    pub contact_reached: bool,
}

impl Reach {
    /// No limit (and nobody reached): what a caller that does not count passes.
    pub const UNLIMITED: Reach = Reach {
        limit: MessagingLimit::Unlimited,
        reached: 0,
        contact_reached: false,
    };
}

/// Meta's pair rate: one message per this many microseconds to the same user…
pub const PAIR_INTERVAL_MICROS: i64 = 6_000_000;
/// …with bursts of up to 45. Confide keeps below it (40), so its own clock and Meta's may
/// differ by a few messages' worth without a 131056.
pub const PAIR_BURST: i64 = 40;

/// A token bucket for one (number, user) pair: [`PAIR_BURST`] messages at once, then one per
/// [`PAIR_INTERVAL_MICROS`]. Pure (time is a parameter) and exact (integer microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairPacer {
    /// The time at which the bucket would be full again ("virtual scheduling": each message
    /// moves it on by one interval, and it never lags `now` by more than the burst).
    full_at: i64,
}

impl PairPacer {
    /// A full bucket.
    pub fn new() -> PairPacer {
        PairPacer { full_at: i64::MIN }
    }

    /// Takes one message's room at `now`, or tells when there is room (`Err(at)`).
    pub fn take(&mut self, now: i64) -> Result<(), i64> {
        let window = PAIR_BURST * PAIR_INTERVAL_MICROS;
        let base = self.full_at.max(now);
        let next = base.saturating_add(PAIR_INTERVAL_MICROS);
        if next - now > window {
            return Err(next - window);
        }
        self.full_at = next;
        Ok(())
    }

    /// Whether the bucket is full at `now` (and can be forgotten).
    pub fn is_full(&self, now: i64) -> bool {
        self.full_at <= now
    }
}

impl Default for PairPacer {
    fn default() -> Self {
        PairPacer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_in_meta_s_numbers_only() {
        assert_eq!(
            MessagingLimit::parse("250"),
            Some(MessagingLimit::Users(250))
        );
        assert_eq!(
            MessagingLimit::parse("2,000"),
            Some(MessagingLimit::Users(2_000))
        );
        assert_eq!(
            MessagingLimit::parse("unlimited"),
            Some(MessagingLimit::Unlimited)
        );
        assert_eq!(MessagingLimit::parse("300"), None);
        assert_eq!(MessagingLimit::parse(""), None);
        for t in MessagingLimit::TIERS {
            assert_eq!(MessagingLimit::parse(&t.as_string()), Some(t));
        }
    }

    #[test]
    fn a_tier_has_room_below_its_number() {
        assert!(MessagingLimit::Users(250).has_room(249));
        assert!(!MessagingLimit::Users(250).has_room(250));
        assert!(MessagingLimit::Unlimited.has_room(u64::MAX));
    }

    #[test]
    fn the_pair_pacer_allows_a_burst_then_one_per_six_seconds() {
        let mut p = PairPacer::new();
        let t0 = 1_000_000_000;
        for i in 0..PAIR_BURST {
            assert_eq!(p.take(t0), Ok(()), "message {i} of the burst");
        }
        // The next one has room one interval later, exactly.
        assert_eq!(p.take(t0), Err(t0 + PAIR_INTERVAL_MICROS));
        assert_eq!(
            p.take(t0 + PAIR_INTERVAL_MICROS - 1),
            Err(t0 + PAIR_INTERVAL_MICROS)
        );
        assert_eq!(p.take(t0 + PAIR_INTERVAL_MICROS), Ok(()));
        assert!(p.take(t0 + PAIR_INTERVAL_MICROS).is_err());
        // After a quiet spell it is full again.
        let later = t0 + (PAIR_BURST + 1) * PAIR_INTERVAL_MICROS;
        assert!(p.is_full(later));
    }

    #[test]
    fn the_pair_pacer_never_exceeds_meta_s_bucket() {
        // Meta's bucket: 45 at once, refilled one per 6 s. Whatever the pacer lets through in
        // any 10-minute schedule of attempts every second, Meta's bucket has a token for.
        let mut p = PairPacer::new();
        let mut meta_tokens: i64 = 45 * PAIR_INTERVAL_MICROS;
        let mut last = 0;
        for s in 0..600 {
            let now = s * 1_000_000;
            for _ in 0..3 {
                if p.take(now).is_ok() {
                    meta_tokens = (meta_tokens + (now - last)).min(45 * PAIR_INTERVAL_MICROS);
                    last = now;
                    assert!(meta_tokens >= PAIR_INTERVAL_MICROS, "131056 at {s} s");
                    meta_tokens -= PAIR_INTERVAL_MICROS;
                }
            }
        }
    }
}
