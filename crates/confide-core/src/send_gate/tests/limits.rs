//! The messaging limit: business-initiated sends to new users stop when the tier is used up.

use super::*;

fn limited(reached: u64, contact_reached: bool) -> World {
    let mut w = World::allowed();
    w.reach = Reach {
        limit: MessagingLimit::Users(250),
        reached,
        contact_reached,
    };
    w
}

#[test]
fn a_business_initiated_send_to_a_new_user_beyond_the_tier_is_refused() {
    // The window is closed: the template would start a business-initiated conversation.
    let mut w = limited(250, false);
    w.last_inbound_at = Some(NOW - 30 * HOUR);
    let r = w.decide(ORDER_UPDATE).unwrap_err();
    assert_eq!(
        r,
        Refusal::MessagingLimit {
            limit: MessagingLimit::Users(250),
            reached: 250
        }
    );
    assert_eq!(r.code(), "messaging_limit");
    assert!(r.message().contains("250 users per 24 hours"), "{r}");
    // One below the tier: allowed.
    let mut w = limited(249, false);
    w.last_inbound_at = None;
    assert!(w.decide(ORDER_UPDATE).is_ok());
}

#[test]
fn a_user_already_reached_or_inside_the_window_does_not_count() {
    // Reached in the last 24 hours already: reaching them again costs nothing.
    let mut w = limited(250, true);
    w.last_inbound_at = None;
    assert!(w.decide(ORDER_UPDATE).is_ok());
    // Inside the window, nothing is business-initiated: the tier does not apply.
    let w = limited(100_000, false);
    assert!(w.decide(ORDER_UPDATE).is_ok());
    for content in FREE_FORM {
        assert!(w.decide(content).is_ok());
    }
    // Unlimited never refuses.
    let mut w = World::allowed();
    w.reach = Reach {
        limit: MessagingLimit::Unlimited,
        reached: u64::MAX,
        contact_reached: false,
    };
    w.last_inbound_at = None;
    assert!(w.decide(ORDER_UPDATE).is_ok());
}

#[test]
fn the_limit_is_checked_after_consent_and_the_window() {
    // Opted out and over the tier: the lasting reason (consent) is the answer.
    let mut w = limited(250, false);
    w.last_inbound_at = None;
    w.consent = ledger(&[(Utility, OptedOut, NOW - HOUR)]);
    assert_eq!(w.code(ORDER_UPDATE), "no_consent");
    // A free-form message outside the window is refused for the window, not the tier.
    let mut w = limited(250, false);
    w.last_inbound_at = None;
    assert_eq!(w.code(Content::Text), "outside_window");
}
