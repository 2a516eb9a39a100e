//! The 24-hour customer service window: free-form content only inside it, templates always.

use super::*;

#[test]
fn the_window_closes_exactly_24_hours_after_the_last_inbound() {
    let mut w = World::allowed();
    let last = NOW - 5 * HOUR;
    w.last_inbound_at = Some(last);
    let closes = last + WINDOW_MICROS;
    assert_eq!(window_closes_at(Some(last)), Some(closes));
    for content in FREE_FORM {
        // One microsecond before 24 h: allowed.
        assert!(w.decide_as(SendPath::Api, content, closes - 1).is_ok());
        // Exactly 24 h: refused.
        let r = w.decide_as(SendPath::Api, content, closes).unwrap_err();
        assert_eq!(
            r,
            Refusal::OutsideWindow {
                last_inbound_at: Some(last)
            }
        );
        assert_eq!(
            outcome(&w.decide_as(SendPath::Api, content, closes + 1)),
            "outside_window"
        );
    }
    // An approved template with consent may go at any time.
    assert!(w.decide_as(SendPath::Api, ORDER_UPDATE, closes).is_ok());
    assert!(window_open(Some(last), closes - 1));
    assert!(!window_open(Some(last), closes));
    // No overflow at the edge of time.
    assert!(window_open(Some(i64::MAX), i64::MAX - 1));
}

#[test]
fn a_contact_who_never_wrote_in_gets_only_templates() {
    let mut w = World::allowed();
    w.last_inbound_at = None;
    assert_eq!(window_closes_at(None), None);
    for content in FREE_FORM {
        let r = w.decide(content).unwrap_err();
        assert_eq!(
            r,
            Refusal::OutsideWindow {
                last_inbound_at: None
            }
        );
        assert!(r.message().contains("never written"), "{r}");
    }
    // An approved utility template with an opt-in goes.
    w.consent = ledger(&[(Utility, OptedIn, NOW - 50 * HOUR)]);
    let p = w.decide(ORDER_UPDATE).unwrap();
    assert_eq!(p.purpose(), Utility);
    assert!(!p.inside_window());
}
