//! The one place that reads the time. Everything else takes a [`Clock`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::{Duration, OffsetDateTime};

/// A source of the current time, injected everywhere time matters (sessions, windows, URL expiry).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;

    /// Unix time in microseconds, the unit the store uses.
    fn now_micros(&self) -> i64 {
        to_micros(self.now())
    }
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the system time
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            micros: AtomicI64::new(to_micros(start)),
        }
    }

    /// Starts at 2026-01-01T00:00:00Z.
    pub fn at_epoch_2026() -> Self {
        Self::new(time::macros::datetime!(2026-01-01 0:00 UTC))
    }

    pub fn advance(&self, by: Duration) {
        let delta = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        self.micros.fetch_add(delta, Ordering::SeqCst);
    }

    pub fn set(&self, to: OffsetDateTime) {
        self.micros.store(to_micros(to), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        from_micros(self.micros.load(Ordering::SeqCst))
    }
}

/// Unix microseconds of a time (saturating far outside the supported range).
pub fn to_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The time at the given Unix microseconds (the epoch if out of range).
pub fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at_epoch_2026();
        let a = c.now();
        assert_eq!(a, c.now());
        c.advance(Duration::hours(25));
        assert_eq!(c.now() - a, Duration::hours(25));
    }

    #[test]
    fn micros_round_trip() {
        let t = time::macros::datetime!(2026-03-04 05:06:07.123456 UTC);
        assert_eq!(from_micros(to_micros(t)), t);
    }
}
