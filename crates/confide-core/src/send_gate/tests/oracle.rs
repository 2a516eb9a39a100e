//! The gate against a simple oracle on random ledgers, templates, windows and paths.

use super::*;
use crate::entropy::{Entropy, SeededEntropy};
use std::collections::BTreeMap;

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
    /// The channel's tier (`None`: unlimited), users reached in 24 h, and whether the contact is
    /// one of them.
    limit: Option<u32>,
    reached: u64,
    contact_reached: bool,
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
        limit: rng.chance(80).then_some(250),
        reached: rng.pick(&[0, 249, 250, 251, 9_999]),
        contact_reached: rng.chance(20),
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
    if !inside && !c.contact_reached && c.limit.is_some_and(|n| c.reached >= u64::from(n)) {
        return Err("messaging_limit");
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
        reach: Reach {
            limit: c
                .limit
                .map_or(MessagingLimit::Unlimited, MessagingLimit::Users),
            reached: c.reached,
            contact_reached: c.contact_reached,
        },
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
