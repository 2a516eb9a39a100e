//! What to do with a Graph error code (whatsapp-cloud-api.md §2), and how long to wait before a retry.

use std::time::Duration;

/// The reaction a Graph error calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Transient or rate-limited: retry the same message later, with exponential backoff.
    RetryBackoff,
    /// Pair rate limit (131056, too many messages to one user): retry after 4^n seconds.
    RetryPairRate,
    /// The channel cannot send at all (token, permission, blocked account): stop its queue and alert
    /// the tenant; retrying would only make things worse.
    StopChannel,
    /// This message can never succeed as it is: fail it with a clear reason, no retry.
    Permanent,
}

impl ErrorClass {
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::RetryBackoff | Self::RetryPairRate)
    }
}

/// Classifies a Graph error `code`. `http_status` decides only for codes not in the table:
/// a 5xx or 429 is retried with backoff, anything else is permanent.
pub fn classify(code: i64, http_status: Option<u16>) -> ErrorClass {
    use ErrorClass::*;
    match code {
        // Access token expired / authentication, permission denied, blocked / account locked:
        // the send gate's list, so a stopped channel and the gate agree.
        c if confide_core::send_gate::stops_channel(c) => StopChannel,
        // App or WABA call-rate limit, throughput, spam rate limit, "something went wrong".
        4 | 80007 | 130429 | 131048 | 131000 => RetryBackoff,
        131056 => RetryPairRate,
        // Invalid parameter, undeliverable, outside the window, not delivered for engagement,
        // user stopped marketing, unsupported type, media download/upload, template problems.
        100 | 131026 | 131047 | 131049 | 131050 | 131051 | 131052 | 131053 | 132000 | 132001
        | 132012 | 132015 => Permanent,
        _ => classify_http(http_status),
    }
}

/// Classifies a failure with no Graph error body (a proxy's error page, an empty 503): 5xx and 429
/// are retried with backoff, anything else (or no status) is permanent.
pub fn classify_http(http_status: Option<u16>) -> ErrorClass {
    match http_status {
        Some(429 | 500..=599) => ErrorClass::RetryBackoff,
        _ => ErrorClass::Permanent,
    }
}

/// A short, stable explanation of a known code, for the reason shown on a failed message.
pub fn describe(code: i64) -> Option<&'static str> {
    Some(match code {
        190 | 0 => "the access token expired or is invalid",
        10 | 200..=299 => "the app lacks permission for this number",
        4 | 80007 => "the app or account call-rate limit was hit",
        100 => "Meta refused a parameter of the request",
        130429 => "the number's throughput limit was hit",
        131048 => "the spam rate limit was hit",
        131056 => "too many messages to this user in a short time (pair rate limit)",
        368 | 131031 => "the business account is blocked or locked",
        131000 => "Meta reported an internal error",
        131026 => "the message could not be delivered to this user",
        131047 => "more than 24 hours passed since the customer last replied",
        131049 => "Meta did not deliver this marketing message, to keep engagement healthy",
        131050 => "the user stopped marketing messages from this business",
        131051 => "the message type is not supported",
        131052 => "the media could not be downloaded",
        131053 => "the media could not be uploaded",
        132000 => "the number of template parameters does not match the template",
        132001 => "the template does not exist in this language",
        132012 => "a template parameter has the wrong format",
        132015 => "the template is paused",
        _ => return None,
    })
}

/// 131050: the failure itself records the user's opt-out of marketing messages.
pub fn records_marketing_opt_out(code: i64) -> bool {
    code == 131050
}

/// First delay of [`ErrorClass::RetryBackoff`].
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Largest delay of [`ErrorClass::RetryBackoff`].
pub const BACKOFF_CAP: Duration = Duration::from_secs(600);
/// Largest exponent of the pair-rate rule: 4^6 s ≈ 68 minutes.
pub const PAIR_RATE_MAX_EXPONENT: u32 = 6;

/// How long to wait before retry number `attempt` (0 for the first retry), or `None` when the class
/// is not retried. `jitter_unit` is a random number in `[0, 1)` drawn by the caller (values outside
/// are clamped, NaN counts as 0), so this stays deterministic and testable.
///
/// - `RetryBackoff`: "equal jitter": `e = min(1 s · 2^attempt, 10 min)`, delay in `[e/2, e)`.
/// - `RetryPairRate`: Meta's rule, at least `4^attempt` seconds (exponent capped at 6), plus up to a
///   quarter more of jitter so that queued messages to one user do not retry in lockstep.
pub fn backoff_delay(attempt: u32, class: ErrorClass, jitter_unit: f64) -> Option<Duration> {
    let j = if jitter_unit.is_nan() {
        0.0
    } else {
        jitter_unit.clamp(0.0, 0.999_999)
    };
    match class {
        ErrorClass::RetryBackoff => {
            let exp = BACKOFF_BASE
                .saturating_mul(2u32.saturating_pow(attempt.min(31)))
                .min(BACKOFF_CAP);
            Some(exp.mul_f64(0.5 + 0.5 * j))
        }
        ErrorClass::RetryPairRate => {
            let base = Duration::from_secs(4u64.pow(attempt.min(PAIR_RATE_MAX_EXPONENT)));
            Some(base + base.mul_f64(0.25 * j))
        }
        ErrorClass::StopChannel | ErrorClass::Permanent => None,
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorClass::*;
    use super::*;

    #[test]
    fn every_listed_code() {
        let table: &[(i64, ErrorClass)] = &[
            (190, StopChannel),
            (0, StopChannel),
            (10, StopChannel),
            (200, StopChannel),
            (250, StopChannel),
            (299, StopChannel),
            (4, RetryBackoff),
            (80007, RetryBackoff),
            (100, Permanent),
            (130429, RetryBackoff),
            (131048, RetryBackoff),
            (131056, RetryPairRate),
            (368, StopChannel),
            (131031, StopChannel),
            (131000, RetryBackoff),
            (131026, Permanent),
            (131047, Permanent),
            (131049, Permanent),
            (131050, Permanent),
            (131051, Permanent),
            (131052, Permanent),
            (131053, Permanent),
            (132000, Permanent),
            (132001, Permanent),
            (132012, Permanent),
            (132015, Permanent),
        ];
        for &(code, class) in table {
            // The table wins over the HTTP status.
            for http in [None, Some(400), Some(429), Some(500), Some(503)] {
                assert_eq!(classify(code, http), class, "code {code} http {http:?}");
            }
            assert!(describe(code).is_some(), "{code}");
        }
    }

    #[test]
    fn unknown_codes_follow_http() {
        assert_eq!(classify(999_999, None), Permanent);
        assert_eq!(classify(999_999, Some(400)), Permanent);
        assert_eq!(classify(999_999, Some(500)), RetryBackoff);
        assert_eq!(classify(999_999, Some(503)), RetryBackoff);
        assert_eq!(classify(999_999, Some(429)), RetryBackoff);
        assert_eq!(classify(300, None), Permanent, "just outside 200-299");
        assert_eq!(classify(199, None), Permanent);
        assert_eq!(classify_http(Some(502)), RetryBackoff);
        assert_eq!(classify_http(None), Permanent);
        assert_eq!(describe(42), None);
        assert!(records_marketing_opt_out(131050));
        assert!(!records_marketing_opt_out(131049));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let d = |a, j| backoff_delay(a, RetryBackoff, j);
        assert_eq!(d(0, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(d(1, 0.0), Some(Duration::from_secs(1)));
        assert_eq!(d(3, 0.0), Some(Duration::from_secs(4)));
        assert_eq!(d(3, 0.5), Some(Duration::from_secs(6)));
        for a in 0..40 {
            let lo = d(a, 0.0).unwrap();
            let hi = d(a, 0.999).unwrap();
            assert!(lo <= hi && hi < BACKOFF_CAP, "attempt {a}");
            assert!(d(a + 1, 0.0).unwrap() >= lo, "monotonic in attempt");
        }
        assert_eq!(d(u32::MAX, 0.0), Some(BACKOFF_CAP / 2));
        // Out-of-range jitter is clamped.
        assert_eq!(d(2, f64::NAN), d(2, 0.0));
        assert_eq!(d(2, -3.0), d(2, 0.0));
        assert!(d(2, 7.0).unwrap() < Duration::from_secs(4));
    }

    #[test]
    fn pair_rate_is_four_to_the_n() {
        for (a, secs) in [
            (0u32, 1u64),
            (1, 4),
            (2, 16),
            (3, 64),
            (6, 4096),
            (7, 4096),
            (u32::MAX, 4096),
        ] {
            assert_eq!(
                backoff_delay(a, RetryPairRate, 0.0),
                Some(Duration::from_secs(secs)),
                "{a}"
            );
            let hi = backoff_delay(a, RetryPairRate, 0.999).unwrap();
            assert!(hi >= Duration::from_secs(secs) && hi < Duration::from_secs(secs) * 5 / 4);
        }
    }

    #[test]
    fn no_delay_for_non_retryable() {
        assert_eq!(backoff_delay(0, StopChannel, 0.5), None);
        assert_eq!(backoff_delay(0, Permanent, 0.5), None);
        assert!(RetryBackoff.is_retryable() && RetryPairRate.is_retryable());
        assert!(!StopChannel.is_retryable() && !Permanent.is_retryable());
    }
}
