//! The 24-hour customer service window.
//!
//! A customer's message opens the window and each new one restarts it. It is open while
//! `now < last_inbound_at + 24 h`: one microsecond before the 24 hours are up it is open, at exactly
//! 24 hours it is closed. A contact who never wrote in has no window.

/// The window's length: 24 hours in microseconds.
pub const WINDOW_MICROS: i64 = 24 * 60 * 60 * 1_000_000;

/// When the window opened by the last inbound message closes (the first instant it is closed);
/// `None` if the contact never wrote in.
pub fn window_closes_at(last_inbound_at: Option<i64>) -> Option<i64> {
    last_inbound_at.map(|t| t.saturating_add(WINDOW_MICROS))
}

/// Whether free-form messages may be sent at `now` (Unix microseconds).
pub fn window_open(last_inbound_at: Option<i64>, now: i64) -> bool {
    match window_closes_at(last_inbound_at) {
        Some(closes) => now < closes,
        None => false,
    }
}
