use super::*;
use crate::entropy::{Entropy, SeededEntropy};
use crate::permissions::BuiltinRole;
use std::collections::BTreeMap;
use uuid::Uuid;

const HOUR: i64 = 3_600_000_000;
/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000_000;

const ORDER_UPDATE: Content<'static> = Content::Template {
    name: "order_update",
    language: "en_US",
    params: 2,
};

const FREE_FORM: [Content<'static>; 4] = [
    Content::Text,
    Content::Media,
    Content::Interactive,
    Content::Reaction,
];

use ConsentStatus::{OptedIn, OptedOut};
use Purpose::{Marketing, Service, Utility};

fn template(category: TemplateCategory, status: TemplateStatus) -> Template {
    Template {
        name: "order_update".into(),
        language: "en_US".into(),
        category,
        status,
        param_count: 2,
    }
}

fn ledger(events: &[(Purpose, ConsentStatus, i64)]) -> ConsentLedger {
    events
        .iter()
        .map(|&(purpose, status, at)| ConsentEvent {
            purpose,
            status,
            at,
        })
        .collect()
}

/// Everything a send needs, set to "allowed" unless a test changes it.
struct World {
    permissions: BTreeSet<Permission>,
    channel: ChannelHealth,
    template: Option<Template>,
    consent: ConsentLedger,
    last_inbound_at: Option<i64>,
}

impl World {
    /// An owner, an active channel, an approved utility template, opted in to everything, and a
    /// customer who wrote an hour ago.
    fn allowed() -> World {
        World {
            permissions: BuiltinRole::Owner.permissions(),
            channel: ChannelHealth::Active,
            template: Some(template(
                TemplateCategory::Utility,
                TemplateStatus::Approved,
            )),
            consent: ledger(&[
                (Marketing, OptedIn, NOW - 10 * HOUR),
                (Utility, OptedIn, NOW - 10 * HOUR),
                (Service, OptedIn, NOW - 10 * HOUR),
            ]),
            last_inbound_at: Some(NOW - HOUR),
        }
    }

    fn decide_as(&self, path: SendPath, content: Content<'_>, now: i64) -> Result<Permit, Refusal> {
        let request = SendRequest {
            tenant: TenantId::from_uuid(Uuid::from_u128(1)),
            channel: ChannelId::from_uuid(Uuid::from_u128(2)),
            contact: ContactId::from_uuid(Uuid::from_u128(3)),
            conversation: Some(ConversationId::from_uuid(Uuid::from_u128(4))),
            path,
            content,
        };
        let facts = SendFacts {
            permissions: &self.permissions,
            channel: self.channel,
            template: self.template.as_ref(),
            consent: &self.consent,
            last_inbound_at: self.last_inbound_at,
        };
        decide(&request, &facts, now)
    }

    fn decide(&self, content: Content<'_>) -> Result<Permit, Refusal> {
        self.decide_as(SendPath::AgentReply, content, NOW)
    }

    /// The refusal code, or `"permit"`.
    fn code(&self, content: Content<'_>) -> &'static str {
        outcome(&self.decide(content))
    }
}

fn outcome(r: &Result<Permit, Refusal>) -> &'static str {
    match r {
        Ok(_) => "permit",
        Err(refusal) => refusal.code(),
    }
}

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
            "outside_window"
        ]
    );
    for r in &refusals {
        let m = r.message();
        assert!(!m.is_empty() && !m.contains("Refusal"), "{m}");
    }
}

#[test]
fn forbidden_without_the_paths_permission() {
    let mut w = World::allowed();
    w.permissions = BuiltinRole::Viewer.permissions();
    for path in [SendPath::AgentReply, SendPath::Api, SendPath::Automation] {
        let r = w.decide_as(path, Content::Text, NOW).unwrap_err();
        assert_eq!(
            r,
            Refusal::Forbidden {
                needed: Permission::InboxReply
            }
        );
        assert_eq!(r.code(), "forbidden");
    }
    // An agent may reply but not broadcast.
    w.permissions = BuiltinRole::Agent.permissions();
    assert!(w.decide_as(SendPath::AgentReply, ORDER_UPDATE, NOW).is_ok());
    let r = w
        .decide_as(SendPath::Broadcast, ORDER_UPDATE, NOW)
        .unwrap_err();
    assert_eq!(
        r,
        Refusal::Forbidden {
            needed: Permission::BroadcastsSend
        }
    );
    // Broadcasting needs broadcasts.send, not inbox.reply.
    w.permissions = [Permission::BroadcastsSend].into_iter().collect();
    assert!(w.decide_as(SendPath::Broadcast, ORDER_UPDATE, NOW).is_ok());
    assert_eq!(
        outcome(&w.decide_as(SendPath::Api, ORDER_UPDATE, NOW)),
        "forbidden"
    );
}

#[test]
fn a_stopped_channel_sends_nothing() {
    assert!(stops_channel(190) && stops_channel(368) && stops_channel(131031));
    assert!(!stops_channel(130429) && !stops_channel(131047) && !stops_channel(131000));
    for reason in [
        ChannelStop::MetaError(190),
        ChannelStop::MetaError(368),
        ChannelStop::MetaError(131031),
        ChannelStop::Admin,
    ] {
        let mut w = World::allowed();
        w.channel = ChannelHealth::Stopped(reason);
        for content in FREE_FORM.into_iter().chain([ORDER_UPDATE]) {
            let r = w.decide(content).unwrap_err();
            assert_eq!(r, Refusal::ChannelDisabled { reason });
            assert_eq!(r.code(), "channel_disabled");
        }
    }
}

#[test]
fn every_template_status_but_approved_is_refused() {
    for status in TemplateStatus::ALL {
        assert_eq!(status.as_str().parse::<TemplateStatus>(), Ok(status));
        for category in TemplateCategory::ALL {
            let mut w = World::allowed();
            w.template = Some(template(category, status));
            let r = w.decide(ORDER_UPDATE);
            if status == TemplateStatus::Approved {
                assert!(r.is_ok(), "{status} {category}");
            } else {
                assert_eq!(
                    r.unwrap_err(),
                    Refusal::TemplateNotApproved {
                        name: "order_update".into(),
                        language: "en_US".into(),
                        status: Some(status),
                    }
                );
            }
        }
    }
    assert!("approved".parse::<TemplateStatus>().is_err());
    assert!("FLAGGED".parse::<TemplateStatus>().is_err());
}

#[test]
fn a_missing_template_or_another_language_is_not_approved() {
    let mut w = World::allowed();
    w.template = None;
    let r = w.decide(ORDER_UPDATE).unwrap_err();
    assert_eq!(r.code(), "template_not_approved");
    assert!(r.message().contains("no template"), "{r}");

    let w = World::allowed();
    for (name, language) in [("order_update", "pt_BR"), ("order_updates", "en_US")] {
        let content = Content::Template {
            name,
            language,
            params: 2,
        };
        assert_eq!(w.code(content), "template_not_approved");
    }
}

#[test]
fn template_parameter_count_must_match() {
    let w = World::allowed();
    for params in [0, 1, 3, 10] {
        let r = w
            .decide(Content::Template {
                name: "order_update",
                language: "en_US",
                params,
            })
            .unwrap_err();
        assert_eq!(
            r,
            Refusal::TemplateParams {
                name: "order_update".into(),
                expected: 2,
                got: params,
            }
        );
        assert_eq!(r.code(), "template_params");
        let m = r.message();
        assert!(
            m.contains("takes 2") && m.contains(&format!("{params} were given")),
            "{m}"
        );
    }
}

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

// ---------------------------------------------------------------------------------------------
// Property test: the gate against a deliberately simple oracle, over random ledgers and sends.
// ---------------------------------------------------------------------------------------------

/// Deterministic numbers from `SeededEntropy`.
struct Rng {
    entropy: SeededEntropy,
    pool: Vec<u64>,
}

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng {
            entropy: SeededEntropy::new(seed),
            pool: Vec::new(),
        }
    }

    fn next(&mut self) -> u64 {
        if self.pool.is_empty() {
            let bytes: [u8; 256] = self.entropy.array();
            self.pool = bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .collect();
        }
        self.pool.pop().unwrap()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// One random case, as plain strings and numbers (the oracle reads only this).
#[derive(Debug)]
struct Case {
    permissions: Vec<&'static str>,
    path: &'static str,
    channel_ok: bool,
    /// `Some(kind)` for a free-form send; `None` for a template send.
    free_form: Option<&'static str>,
    requested_language: &'static str,
    given_params: usize,
    /// The channel's template named "t": (language, status, category, parameter count).
    stored_template: Option<(&'static str, &'static str, &'static str, usize)>,
    /// (purpose, status, at) in ledger order.
    ledger: Vec<(&'static str, &'static str, i64)>,
    last_inbound: Option<i64>,
    now: i64,
}

const STATUSES: [&str; 9] = [
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "ARCHIVED",
    "LIMIT_EXCEEDED",
];

fn random_case(rng: &mut Rng) -> Case {
    let mut permissions = vec!["inbox.read", "contacts.read"];
    if rng.chance(85) {
        permissions.push("inbox.reply");
    }
    if rng.chance(85) {
        permissions.push("broadcasts.send");
    }
    let now = NOW + rng.below(30 * 24) as i64 * HOUR + rng.below(HOUR as u64) as i64;
    // Few distinct times, so ties are common; some events are dated after `now`.
    let ledger = (0..rng.below(31))
        .map(|_| {
            (
                rng.pick(&["marketing", "utility", "service"]),
                rng.pick(&["opted_in", "opted_out"]),
                now + (rng.below(8) as i64 - 6) * HOUR,
            )
        })
        .collect();
    let last_inbound = if rng.chance(15) {
        None
    } else {
        let ago = match rng.below(6) {
            0 => 24 * HOUR - 1,
            1 => 24 * HOUR,
            2 => 24 * HOUR + 1,
            3 => 0,
            4 => -(rng.below(HOUR as u64) as i64),
            _ => rng.below(48 * HOUR as u64) as i64,
        };
        Some(now - ago)
    };
    let free_form = rng
        .chance(45)
        .then(|| rng.pick(&["text", "media", "interactive", "reaction"]));
    let stored_params = rng.below(4) as usize;
    let stored_template = rng.chance(85).then(|| {
        (
            if rng.chance(90) { "en_US" } else { "pt_BR" },
            if rng.chance(70) {
                "APPROVED"
            } else {
                rng.pick(&STATUSES)
            },
            rng.pick(&["MARKETING", "UTILITY", "AUTHENTICATION"]),
            stored_params,
        )
    });
    let given_params = if rng.chance(80) {
        stored_params
    } else {
        rng.below(4) as usize
    };
    Case {
        permissions,
        path: rng.pick(&["agent_reply", "api", "broadcast", "automation"]),
        channel_ok: rng.chance(85),
        free_form,
        requested_language: "en_US",
        given_params,
        stored_template,
        ledger,
        last_inbound,
        now,
    }
}

/// The rules, written as plainly as possible: `Ok(purpose)` or `Err(code)`.
fn oracle(c: &Case) -> Result<&'static str, &'static str> {
    let needed = if c.path == "broadcast" {
        "broadcasts.send"
    } else {
        "inbox.reply"
    };
    if !c.permissions.contains(&needed) {
        return Err("forbidden");
    }
    if !c.channel_ok {
        return Err("channel_disabled");
    }
    let purpose = if c.free_form.is_some() {
        "service"
    } else {
        match c.stored_template {
            Some((language, status, category, params)) if language == c.requested_language => {
                if status != "APPROVED" {
                    return Err("template_not_approved");
                }
                if params != c.given_params {
                    return Err("template_params");
                }
                if category == "MARKETING" {
                    "marketing"
                } else {
                    "utility"
                }
            }
            _ => return Err("template_not_approved"),
        }
    };
    let inside = match c.last_inbound {
        Some(t) => c.now - t < 24 * HOUR,
        None => false,
    };
    let latest = oracle_latest(&c.ledger, purpose);
    if latest == Some("opted_out") {
        return Err("no_consent");
    }
    if purpose == "marketing" && latest != Some("opted_in") {
        return Err("no_consent");
    }
    if purpose == "utility" && !inside && latest != Some("opted_in") {
        return Err("no_consent");
    }
    if c.free_form.is_some() && !inside {
        return Err("outside_window");
    }
    Ok(purpose)
}

/// Sort by time (stable, so ledger order survives among equal times) and take the last match.
fn oracle_latest(
    ledger: &[(&'static str, &'static str, i64)],
    purpose: &str,
) -> Option<&'static str> {
    let mut by_time = ledger.to_vec();
    by_time.sort_by_key(|e| e.2);
    by_time.iter().rev().find(|e| e.0 == purpose).map(|e| e.1)
}

/// A second, different reading of "latest": the greatest (time, position).
fn latest_by_max(
    ledger: &[(&'static str, &'static str, i64)],
    purpose: &str,
) -> Option<&'static str> {
    ledger
        .iter()
        .enumerate()
        .filter(|(_, e)| e.0 == purpose)
        .max_by_key(|(i, e)| (e.2, *i))
        .map(|(_, e)| e.1)
}

fn run_gate(c: &Case) -> Result<Permit, Refusal> {
    let permissions: BTreeSet<Permission> =
        c.permissions.iter().map(|p| p.parse().unwrap()).collect();
    let path = SendPath::ALL
        .into_iter()
        .find(|p| p.as_str() == c.path)
        .unwrap();
    let content = match c.free_form {
        Some("text") => Content::Text,
        Some("media") => Content::Media,
        Some("interactive") => Content::Interactive,
        Some("reaction") => Content::Reaction,
        Some(other) => unreachable!("{other}"),
        None => Content::Template {
            name: "t",
            language: c.requested_language,
            params: c.given_params,
        },
    };
    let template = c
        .stored_template
        .map(|(language, status, category, params)| Template {
            name: "t".into(),
            language: language.into(),
            category: category.parse().unwrap(),
            status: status.parse().unwrap(),
            param_count: params,
        });
    let consent = ConsentLedger::from_rows(c.ledger.iter().copied()).unwrap();
    let channel = if c.channel_ok {
        ChannelHealth::Active
    } else {
        ChannelHealth::Stopped(ChannelStop::MetaError(131031))
    };
    let request = SendRequest {
        tenant: TenantId::from_uuid(Uuid::from_u128(1)),
        channel: ChannelId::from_uuid(Uuid::from_u128(2)),
        contact: ContactId::from_uuid(Uuid::from_u128(3)),
        conversation: None,
        path,
        content,
    };
    let facts = SendFacts {
        permissions: &permissions,
        channel,
        template: template.as_ref(),
        consent: &consent,
        last_inbound_at: c.last_inbound,
    };
    // The ledger view agrees with both readings of "latest".
    for p in Purpose::ALL {
        let got = consent.status(p).map(ConsentStatus::as_str);
        assert_eq!(got, oracle_latest(&c.ledger, p.as_str()), "{c:?}");
        assert_eq!(got, latest_by_max(&c.ledger, p.as_str()), "{c:?}");
    }
    decide(&request, &facts, c.now)
}

#[test]
fn the_gate_agrees_with_a_simple_oracle_on_random_ledgers() {
    const CASES: u64 = 20_000;
    let mut rng = Rng::new(0x5e4d_9a7e);
    let mut seen: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut opted_out_sends = 0u64;
    for _ in 0..CASES {
        let c = random_case(&mut rng);
        let gate = run_gate(&c);
        let expected = oracle(&c);
        match (&gate, expected) {
            (Ok(permit), Ok(purpose)) => {
                assert_eq!(permit.purpose().as_str(), purpose, "{c:?}");
                assert_eq!(permit.decided_at(), c.now);
                assert_eq!(permit.kind().is_free_form(), c.free_form.is_some());
            }
            (Err(refusal), Err(code)) => assert_eq!(refusal.code(), code, "{c:?}"),
            _ => panic!("gate {gate:?} but oracle {expected:?} for {c:?}"),
        }
        *seen.entry(outcome(&gate)).or_default() += 1;

        // No send whose purpose's latest event is an opt-out ever gets a permit.
        if let Ok(permit) = &gate {
            assert_ne!(
                latest_by_max(&c.ledger, permit.purpose().as_str()),
                Some("opted_out"),
                "{c:?}"
            );
        }
        let send_purpose = match (c.free_form, c.stored_template) {
            (Some(_), _) => Some("service"),
            (None, Some((_, _, "MARKETING", _))) => Some("marketing"),
            (None, Some(_)) => Some("utility"),
            (None, None) => None,
        };
        if let Some(p) = send_purpose
            && latest_by_max(&c.ledger, p) == Some("opted_out")
        {
            opted_out_sends += 1;
            assert!(gate.is_err(), "{c:?}");
        }
    }
    // Every outcome was reached often enough for the comparison to mean something.
    for code in Refusal::CODES.into_iter().chain(["permit"]) {
        let n = seen.get(code).copied().unwrap_or(0);
        assert!(n >= 200, "{code} reached only {n} times: {seen:?}");
    }
    assert!(opted_out_sends >= 1_000, "{opted_out_sends}");
}
