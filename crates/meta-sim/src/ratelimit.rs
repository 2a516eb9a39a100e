//! Token buckets on the simulator's clock: number throughput (130429) and pair rate (131056).

/// A token bucket refilled continuously at `num/den` tokens per second; time is Unix microseconds
/// from the injected clock. Integer arithmetic, so window edges are exact.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Credit, in units where one token is `1_000_000 * den`.
    units: i128,
    cap: i128,
    per_token: i128,
    /// Units gained per microsecond.
    num: i128,
    last_micros: i64,
}

impl TokenBucket {
    /// Starts full: `capacity` tokens, refilled at `num / den` tokens per second.
    pub fn new(capacity: u32, num: u32, den: u32, now_micros: i64) -> Self {
        let per_token = 1_000_000 * i128::from(den.max(1));
        let cap = i128::from(capacity) * per_token;
        Self {
            units: cap,
            cap,
            per_token,
            num: i128::from(num),
            last_micros: now_micros,
        }
    }

    /// Throughput of a number: a burst of one second's worth, refilled at `rate` per second.
    pub fn throughput(rate: u32, now_micros: i64) -> Self {
        let r = rate.max(1);
        Self::new(r, r, 1, now_micros)
    }

    /// Pair rate: bursts up to 45, then one message per 6 seconds.
    pub fn pair(now_micros: i64) -> Self {
        Self::new(45, 1, 6, now_micros)
    }

    fn refill(&mut self, now_micros: i64) {
        if now_micros > self.last_micros {
            let elapsed = i128::from(now_micros - self.last_micros);
            self.units = (self.units + elapsed * self.num).min(self.cap);
            self.last_micros = now_micros;
        }
    }

    /// Would a message pass now (without taking a token)?
    pub fn check(&mut self, now_micros: i64) -> bool {
        self.refill(now_micros);
        self.units >= self.per_token
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self, now_micros: i64) -> bool {
        self.refill(now_micros);
        if self.units >= self.per_token {
            self.units -= self.per_token;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_burst_then_refill() {
        let mut b = TokenBucket::throughput(80, 0);
        for _ in 0..80 {
            assert!(b.try_take(0));
        }
        assert!(!b.try_take(0));
        assert!(b.try_take(12_500)); // 1/80 s later
        assert!(!b.try_take(12_500));
    }

    #[test]
    fn pair_rate() {
        let mut b = TokenBucket::pair(0);
        for _ in 0..45 {
            assert!(b.try_take(0));
        }
        assert!(!b.try_take(5_000_000));
        assert!(b.try_take(6_000_000));
    }
}
