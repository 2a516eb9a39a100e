//! The decision itself: refusal codes and messages as the API shows them, the order in which
//! the checks run, and what a permit records.

use super::*;

#[test]
fn refusal_codes_are_the_api_codes_and_messages_are_plain() {
    let refusals = [
        Refusal::Forbidden {
            needed: Permission::InboxReply,
        },
        Refusal::ChannelDisabled {
            reason: ChannelStop::MetaError(190),
        },
        Refusal::TemplateNotApproved {
            name: "x".into(),
            language: "en".into(),
            status: Some(TemplateStatus::Paused),
        },
        Refusal::TemplateParams {
            name: "x".into(),
            expected: 3,
            got: 1,
        },
        Refusal::NoConsent {
            purpose: Marketing,
            current: None,
        },
        Refusal::OutsideWindow {
            last_inbound_at: None,
        },
        Refusal::MessagingLimit {
            limit: MessagingLimit::Users(250),
            reached: 250,
        },
    ];
    let codes: Vec<&str> = refusals.iter().map(Refusal::code).collect();
    assert_eq!(codes, Refusal::CODES);
    assert_eq!(
        codes,
        [
            "forbidden",
            "channel_disabled",
            "template_not_approved",
            "template_params",
            "no_consent",
            "outside_window",
            "messaging_limit"
        ]
    );
    for r in &refusals {
        let m = r.message();
        assert!(!m.is_empty() && !m.contains("Refusal"), "{m}");
    }
}

#[test]
fn checks_run_in_the_documented_order() {
    // Everything wrong at once: role first.
    let mut w = World::allowed();
    w.permissions = BTreeSet::new();
    w.channel = ChannelHealth::Stopped(ChannelStop::Admin);
    w.template = Some(template(
        TemplateCategory::Marketing,
        TemplateStatus::Rejected,
    ));
    w.consent = ledger(&[(Marketing, OptedOut, NOW), (Service, OptedOut, NOW)]);
    w.last_inbound_at = None;
    assert_eq!(w.code(ORDER_UPDATE), "forbidden");
    w.permissions = BuiltinRole::Owner.permissions();
    assert_eq!(w.code(ORDER_UPDATE), "channel_disabled");
    w.channel = ChannelHealth::Active;
    assert_eq!(w.code(ORDER_UPDATE), "template_not_approved");
    w.template = Some(template(
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
    ));
    let wrong_params = Content::Template {
        name: "order_update",
        language: "en_US",
        params: 5,
    };
    assert_eq!(w.code(wrong_params), "template_params");
    assert_eq!(w.code(ORDER_UPDATE), "no_consent");
    // An opted-out contact outside the window: no_consent, not outside_window.
    assert_eq!(w.code(Content::Text), "no_consent");
    // Once consent is fine, the window decides.
    w.consent = ConsentLedger::new();
    assert_eq!(w.code(Content::Text), "outside_window");
    w.last_inbound_at = Some(NOW - HOUR);
    assert_eq!(w.code(Content::Text), "permit");
}

#[test]
fn a_permit_records_the_decision() {
    let w = World::allowed();
    let p = w
        .decide_as(SendPath::Broadcast, ORDER_UPDATE, NOW + 7)
        .unwrap();
    assert_eq!(p.tenant(), TenantId::from_uuid(Uuid::from_u128(1)));
    assert_eq!(p.channel(), ChannelId::from_uuid(Uuid::from_u128(2)));
    assert_eq!(p.contact(), ContactId::from_uuid(Uuid::from_u128(3)));
    assert_eq!(
        p.conversation(),
        Some(ConversationId::from_uuid(Uuid::from_u128(4)))
    );
    assert_eq!(p.path(), SendPath::Broadcast);
    assert_eq!(p.kind(), MessageKind::Template);
    assert_eq!(p.purpose(), Utility);
    assert_eq!(p.template_name(), Some("order_update"));
    assert_eq!(p.template_language(), Some("en_US"));
    assert_eq!(p.template_category(), Some(TemplateCategory::Utility));
    assert!(p.inside_window());
    assert_eq!(p.decided_at(), NOW + 7);

    let p = w.decide(Content::Reaction).unwrap();
    assert_eq!(p.kind(), MessageKind::Reaction);
    assert_eq!(p.template_name(), None);
    assert_eq!(p.template_language(), None);
    assert_eq!(p.decided_at(), NOW);
}
