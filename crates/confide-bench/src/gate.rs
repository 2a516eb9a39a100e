//! The send gate benchmark (DESIGN.md §3: a decision in < 20 µs): `confide_core::send_gate::decide`
//! over a realistic mix of contacts (ledgers of about 20 consent events, open and closed windows)
//! and sends (free-form replies, API sends, templates of every status, broadcasts).
//!
//! Two measurements per variant: throughput (decisions timed in batches, so the timer costs
//! nothing) and latency (each decision timed alone, so p99 includes one timer read, printed too).
//! The variants: `decide` with the ledger already folded, and `fold+decide`, which first folds the
//! stored rows into a `ConsentLedger` as a send path that loads the ledger per send would.

use confide_core::clock::{Clock, ManualClock};
use confide_core::entropy::{Entropy, SeededEntropy};
use confide_core::ids::{ChannelId, ContactId, ConversationId, TenantId};
use confide_core::permissions::{BuiltinRole, Permission};
use confide_core::send_gate::{
    ChannelHealth, ChannelStop, ConsentLedger, Content, Permit, Purpose, Refusal, SendFacts,
    SendPath, SendRequest, Template, TemplateCategory, TemplateStatus, decide,
};
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

const HOUR: i64 = 3_600_000_000;
/// DESIGN.md §3.
const BUDGET_NS: f64 = 20_000.0;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds spent on each of the four measurements.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Distinct contacts (each with its own ledger, window and send).
    #[arg(long, default_value_t = 4_096)]
    contacts: usize,
    /// Mean consent events per contact (each ledger has this many ± 3).
    #[arg(long, default_value_t = 20)]
    events: usize,
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

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
        loop {
            if let Some(n) = self.pool.pop() {
                return n;
            }
            let bytes: [u8; 256] = self.entropy.array();
            self.pool = bytes
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    u64::from_le_bytes(b)
                })
                .collect();
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One contact and the send to it.
struct Scenario {
    contact: ContactId,
    conversation: ConversationId,
    path: SendPath,
    permissions: usize,
    /// `None`: free-form; `Some(i)`: template `i` of the catalog.
    template: Option<usize>,
    free_form: Content<'static>,
    params: usize,
    channel: ChannelHealth,
    rows: Vec<(&'static str, &'static str, i64)>,
    ledger: ConsentLedger,
    last_inbound_at: Option<i64>,
}

struct Workload {
    tenant: TenantId,
    channel: ChannelId,
    roles: Vec<BTreeSet<Permission>>,
    catalog: Vec<Template>,
    scenarios: Vec<Scenario>,
    now: i64,
}

fn catalog() -> Vec<Template> {
    use TemplateCategory::*;
    use TemplateStatus::*;
    let t = |name: &str, category, status, param_count| Template {
        name: name.to_string(),
        language: "en_US".to_string(),
        category,
        status,
        param_count,
    };
    vec![
        t("order_shipped", Utility, Approved, 3),
        t("appointment_reminder", Utility, Approved, 2),
        t("payment_due", Utility, Approved, 2),
        t("login_code", Authentication, Approved, 1),
        t("spring_sale", Marketing, Approved, 1),
        t("newsletter_june", Marketing, Approved, 0),
        t("loyalty_points", Marketing, Paused, 2),
        t("survey_invite", Marketing, Pending, 1),
        t("old_promo", Marketing, Rejected, 1),
        t("delivery_window", Utility, Disabled, 2),
    ]
}

fn workload(args: &Args) -> Result<Workload, String> {
    if args.contacts == 0 {
        return Err("--contacts must be at least 1".into());
    }
    let clock = ManualClock::at_epoch_2026();
    let ids = SeededEntropy::new(args.seed);
    let now = clock.now_micros();
    let mut rng = Rng::new(args.seed);
    let catalog = catalog();
    let roles = vec![
        BuiltinRole::Agent.permissions(),
        BuiltinRole::Admin.permissions(),
        BuiltinRole::Viewer.permissions(),
    ];
    let free_forms = [
        Content::Text,
        Content::Text,
        Content::Media,
        Content::Interactive,
        Content::Reaction,
    ];
    let purposes = ["marketing", "utility", "service"];
    let mut scenarios = Vec::with_capacity(args.contacts);
    for _ in 0..args.contacts {
        // ~20 events over the last 90 days, mostly opt-ins, some opt-outs.
        let n = args.events.saturating_sub(3) + rng.below(7) as usize;
        let mut rows: Vec<(&'static str, &'static str, i64)> = (0..n)
            .map(|_| {
                let purpose = purposes
                    .get(rng.below(purposes.len() as u64) as usize)
                    .copied()
                    .unwrap_or("service");
                let status = if rng.chance(80) {
                    "opted_in"
                } else {
                    "opted_out"
                };
                (purpose, status, now - rng.below(90 * 24) as i64 * HOUR)
            })
            .collect();
        rows.sort_by_key(|r| r.2);
        let ledger = ConsentLedger::from_rows(rows.iter().copied()).map_err(|e| e.to_string())?;
        let last_inbound_at = match rng.below(10) {
            0 => None,
            1..=6 => Some(now - rng.below(24 * HOUR as u64) as i64),
            _ => Some(now - 24 * HOUR - rng.below(30 * 24 * HOUR as u64) as i64),
        };
        let (path, template) = match rng.below(10) {
            0..=3 => (SendPath::AgentReply, rng.chance(20)),
            4..=6 => (SendPath::Api, rng.chance(50)),
            7..=8 => (SendPath::Broadcast, true),
            _ => (SendPath::Automation, rng.chance(70)),
        };
        let template = template.then(|| rng.below(catalog.len() as u64) as usize);
        let expected = template
            .and_then(|i| catalog.get(i))
            .map_or(0, |t| t.param_count);
        let params = if rng.chance(95) {
            expected
        } else {
            expected + 1
        };
        let free_form = free_forms
            .get(rng.below(free_forms.len() as u64) as usize)
            .copied()
            .unwrap_or(Content::Text);
        scenarios.push(Scenario {
            contact: ContactId::new(&clock, &ids),
            conversation: ConversationId::new(&clock, &ids),
            path,
            permissions: if rng.chance(97) {
                if path == SendPath::Broadcast { 1 } else { 0 }
            } else {
                2
            },
            template,
            free_form,
            params,
            channel: if rng.chance(1) {
                ChannelHealth::Stopped(ChannelStop::MetaError(190))
            } else {
                ChannelHealth::Active
            },
            rows,
            ledger,
            last_inbound_at,
        });
    }
    Ok(Workload {
        tenant: TenantId::new(&clock, &ids),
        channel: ChannelId::new(&clock, &ids),
        roles,
        catalog,
        scenarios,
        now,
    })
}

impl Workload {
    /// One decision for scenario `s`; `fold` first folds the stored rows into a ledger.
    fn decide(&self, s: &Scenario, fold: bool) -> Result<Permit, Refusal> {
        let template = s.template.and_then(|i| self.catalog.get(i));
        let content = match template {
            Some(t) => Content::Template {
                name: &t.name,
                language: &t.language,
                params: s.params,
            },
            None => s.free_form,
        };
        let request = SendRequest {
            tenant: self.tenant,
            channel: self.channel,
            contact: s.contact,
            conversation: Some(s.conversation),
            path: s.path,
            content,
        };
        let empty = BTreeSet::new();
        let folded;
        let consent = if fold {
            folded = match ConsentLedger::from_rows(black_box(&s.rows).iter().copied()) {
                Ok(l) => l,
                // Unreachable with generated rows; a bad row refuses, as the store would.
                Err(_) => {
                    return Err(Refusal::NoConsent {
                        purpose: Purpose::Service,
                        current: None,
                    });
                }
            };
            &folded
        } else {
            &s.ledger
        };
        let facts = SendFacts {
            permissions: self.roles.get(s.permissions).unwrap_or(&empty),
            channel: s.channel,
            template,
            consent,
            last_inbound_at: s.last_inbound_at,
            reach: confide_core::send_gate::Reach::UNLIMITED,
        };
        decide(&request, &facts, self.now)
    }
}

struct Figures {
    decisions: u64,
    per_second: f64,
    mean_ns: f64,
    p50_ns: u64,
    p99_ns: u64,
    max_ns: u64,
}

fn measure(w: &Workload, fold: bool, seconds: f64) -> Figures {
    let budget = Duration::from_secs_f64(seconds.max(0.01));
    let n = w.scenarios.len();

    // Throughput: batches of 1,024 decisions, one timer read per batch.
    let start = Instant::now();
    let mut decisions = 0u64;
    let mut i = 0usize;
    while start.elapsed() < budget {
        for _ in 0..1024 {
            if let Some(s) = w.scenarios.get(i) {
                black_box(w.decide(black_box(s), fold)).ok();
            }
            i = (i + 1) % n;
        }
        decisions += 1024;
    }
    let wall = start.elapsed().as_secs_f64();

    // Latency: each decision timed alone.
    let mut samples: Vec<u64> = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..256 {
            if let Some(s) = w.scenarios.get(i) {
                let t = Instant::now();
                black_box(w.decide(black_box(s), fold)).ok();
                samples.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
            }
            i = (i + 1) % n;
        }
    }
    samples.sort_unstable();
    let pct = |p: f64| -> u64 {
        let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples.get(idx).copied().unwrap_or(0)
    };
    Figures {
        decisions,
        per_second: decisions as f64 / wall,
        mean_ns: wall * 1e9 / decisions.max(1) as f64,
        p50_ns: pct(0.50),
        p99_ns: pct(0.99),
        max_ns: samples.last().copied().unwrap_or(0),
    }
}

/// Cost of one timer read pair, included in every latency sample.
fn timer_overhead_ns() -> u64 {
    let mut samples: Vec<u64> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            u64::try_from(black_box(t).elapsed().as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or(0)
}

pub fn run(args: Args) -> Result<(), String> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err("--seconds must be positive".into());
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; build with --release for figures that mean anything");
    }
    let w = workload(&args)?;

    // The mix, once through.
    let mut mix: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut templates = 0usize;
    for s in &w.scenarios {
        templates += usize::from(s.template.is_some());
        let key = match w.decide(s, false) {
            Ok(_) => "permit",
            Err(r) => r.code(),
        };
        *mix.entry(key).or_default() += 1;
    }
    let events: usize = w.scenarios.iter().map(|s| s.rows.len()).sum();
    let total = w.scenarios.len();
    println!(
        "workload: {total} contacts, {:.1} consent events each on average, {templates} template and {} free-form sends, {} templates in the catalog",
        events as f64 / total as f64,
        total - templates,
        w.catalog.len()
    );
    let outcomes: Vec<String> = mix
        .iter()
        .map(|(k, v)| format!("{k} {:.1}%", 100.0 * *v as f64 / total as f64))
        .collect();
    println!("outcomes: {}", outcomes.join(", "));
    let overhead = timer_overhead_ns();
    println!("timer read overhead: ~{overhead} ns (included in p50/p99/max)");

    for (label, fold) in [("decide", false), ("fold+decide", true)] {
        let f = measure(&w, fold, args.seconds);
        println!(
            "gate {label:<12} {:>6.2} M decisions/s  mean {:>6.0} ns  p50 {:>5} ns  p99 {:>5} ns  max {:>7} ns  ({} decisions; budget 20 µs: p99 is {:.1}% of it)",
            f.per_second / 1e6,
            f.mean_ns,
            f.p50_ns,
            f.p99_ns,
            f.max_ns,
            f.decisions,
            100.0 * f.p99_ns as f64 / BUDGET_NS,
        );
    }
    Ok(())
}
