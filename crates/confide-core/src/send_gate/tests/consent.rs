//! Consent: opt-outs always refuse, each purpose's opt-in rule, and how the ledger's latest event
//! is found (and bad rows from the store named).

use super::*;

#[test]
fn an_opted_out_purpose_is_always_refused() {
    for path in SendPath::ALL {
        for inside in [true, false] {
            // Free-form messages are `service`.
            let mut w = World::allowed();
            w.consent.record(ConsentEvent {
                purpose: Service,
                status: OptedOut,
                at: NOW - HOUR,
            });
            w.last_inbound_at = inside.then_some(NOW - HOUR);
            for content in FREE_FORM {
                let r = w.decide_as(path, content, NOW).unwrap_err();
                assert_eq!(
                    r,
                    Refusal::NoConsent {
                        purpose: Service,
                        current: Some(OptedOut)
                    }
                );
            }
            // Templates are their category's purpose.
            for category in TemplateCategory::ALL {
                let mut w = World::allowed();
                w.template = Some(template(category, TemplateStatus::Approved));
                w.consent.record(ConsentEvent {
                    purpose: category.purpose(),
                    status: OptedOut,
                    at: NOW - HOUR,
                });
                w.last_inbound_at = inside.then_some(NOW - HOUR);
                let r = w.decide_as(path, ORDER_UPDATE, NOW).unwrap_err();
                assert_eq!(r.code(), "no_consent");
                assert!(r.message().contains("opted out"), "{r}");
            }
        }
    }
}

#[test]
fn opting_out_of_one_purpose_leaves_the_others() {
    let mut w = World::allowed();
    w.consent.record(ConsentEvent {
        purpose: Marketing,
        status: OptedOut,
        at: NOW - HOUR,
    });
    assert_eq!(w.code(Content::Text), "permit");
    assert_eq!(w.code(ORDER_UPDATE), "permit");
    w.template = Some(template(
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
    ));
    assert_eq!(w.code(ORDER_UPDATE), "no_consent");
}

#[test]
fn marketing_needs_an_explicit_opt_in_even_inside_the_window() {
    let mut w = World::allowed();
    w.template = Some(template(
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
    ));
    w.consent = ledger(&[
        (Utility, OptedIn, NOW - HOUR),
        (Service, OptedIn, NOW - HOUR),
    ]);
    let r = w.decide(ORDER_UPDATE).unwrap_err();
    assert_eq!(
        r,
        Refusal::NoConsent {
            purpose: Marketing,
            current: None
        }
    );
    w.consent.record(ConsentEvent {
        purpose: Marketing,
        status: OptedIn,
        at: NOW - 2 * HOUR,
    });
    let p = w.decide(ORDER_UPDATE).unwrap();
    assert_eq!(p.purpose(), Marketing);
    // Outside the window too.
    w.last_inbound_at = None;
    assert_eq!(w.code(ORDER_UPDATE), "permit");
}

#[test]
fn utility_needs_an_opt_in_only_when_business_initiated() {
    for category in [TemplateCategory::Utility, TemplateCategory::Authentication] {
        let mut w = World::allowed();
        w.template = Some(template(category, TemplateStatus::Approved));
        w.consent = ConsentLedger::new();
        // Inside the window: a reply, no opt-in needed.
        let p = w.decide(ORDER_UPDATE).unwrap();
        assert_eq!(p.purpose(), Utility);
        assert!(p.inside_window());
        // Outside: business-initiated, opt-in needed.
        w.last_inbound_at = Some(NOW - 30 * HOUR);
        let r = w.decide(ORDER_UPDATE).unwrap_err();
        assert_eq!(
            r,
            Refusal::NoConsent {
                purpose: Utility,
                current: None
            }
        );
        assert!(r.message().contains("24-hour"), "{r}");
        w.consent = ledger(&[(Utility, OptedIn, NOW - 40 * HOUR)]);
        let p = w.decide(ORDER_UPDATE).unwrap();
        assert!(!p.inside_window());
    }
}

#[test]
fn service_needs_no_opt_in_only_no_opt_out() {
    let mut w = World::allowed();
    w.consent = ConsentLedger::new();
    for content in FREE_FORM {
        let p = w.decide(content).unwrap();
        assert_eq!(p.purpose(), Service);
        assert_eq!(p.kind(), content.kind());
    }
    // A withdrawn opt-out counts as consent again.
    w.consent = ledger(&[
        (Service, OptedOut, NOW - 3 * HOUR),
        (Service, OptedIn, NOW - 2 * HOUR),
    ]);
    assert_eq!(w.code(Content::Text), "permit");
}

#[test]
fn the_latest_event_wins_and_ties_go_to_the_later_record() {
    // Out of time order: the later time wins regardless of position.
    let l = ledger(&[(Marketing, OptedIn, 20), (Marketing, OptedOut, 10)]);
    assert_eq!(
        l.current(Marketing),
        Some(CurrentConsent {
            status: OptedIn,
            since: 20
        })
    );
    // Same time: the event recorded later wins.
    let l = ledger(&[(Marketing, OptedIn, 10), (Marketing, OptedOut, 10)]);
    assert!(l.is_opted_out(Marketing));
    let l = ledger(&[(Marketing, OptedOut, 10), (Marketing, OptedIn, 10)]);
    assert!(l.is_opted_in(Marketing));
    // Purposes are independent.
    let l = ledger(&[
        (Utility, OptedOut, 5),
        (Marketing, OptedIn, 10),
        (Service, OptedIn, 1),
    ]);
    assert_eq!(l.status(Utility), Some(OptedOut));
    assert_eq!(l.status(Marketing), Some(OptedIn));
    assert_eq!(l.status(Service), Some(OptedIn));
    assert_eq!(l.len(), 3);
    assert!(ConsentLedger::new().is_empty());
    assert_eq!(ConsentLedger::new().status(Marketing), None);
}

#[test]
fn ledger_rows_from_the_store_parse_or_name_the_bad_row() {
    let l = ConsentLedger::from_rows([
        ("marketing", "opted_in", 1),
        ("utility", "opted_out", 2),
        ("service", "opted_in", 3),
    ])
    .unwrap();
    assert_eq!(
        l,
        ledger(&[
            (Marketing, OptedIn, 1),
            (Utility, OptedOut, 2),
            (Service, OptedIn, 3)
        ])
    );
    let owned: Vec<(String, String, i64)> = vec![("utility".into(), "opted_in".into(), 1)];
    assert!(
        ConsentLedger::from_rows(owned)
            .unwrap()
            .is_opted_in(Utility)
    );

    let err = ConsentLedger::from_rows([("marketing", "opted_in", 1), ("promo", "opted_in", 2)])
        .unwrap_err();
    assert_eq!(err.index, 1);
    assert_eq!(err.source.field, "purpose");
    let err = ConsentLedger::from_rows([("marketing", "STOP", 1)]).unwrap_err();
    assert_eq!((err.index, err.source.field), (0, "status"));
    for p in Purpose::ALL {
        assert_eq!(p.as_str().parse::<Purpose>(), Ok(p));
    }
    for s in ConsentStatus::ALL {
        assert_eq!(s.as_str().parse::<ConsentStatus>(), Ok(s));
    }
    for c in TemplateCategory::ALL {
        assert_eq!(c.as_str().parse::<TemplateCategory>(), Ok(c));
    }
    assert_eq!(TemplateCategory::Authentication.purpose(), Utility);
    assert_eq!(TemplateCategory::Marketing.purpose(), Marketing);
}
