//! What the big tenant holds, decided before anything is written (pure, from a seed): who the
//! contacts are, how many conversations each has had and when, how many messages each holds,
//! which are still open, who they are assigned to and which carry notes.
//!
//! The shape follows a support inbox: most contacts wrote once or twice, most conversations are
//! a handful of messages, a few long ones hold thousands; open conversations are recent; about
//! a third of contacts arrived from WhatsApp (BSUID, profile name, sometimes a username), the
//! rest were imported (phone, name, labels, a consent record).

use meta_sim::rng::SimRng;

/// Unix microseconds in a day.
pub const DAY: i64 = 86_400_000_000;
const HOUR: i64 = DAY / 24;
const MINUTE: i64 = HOUR / 60;

const FIRST: &[&str] = &[
    "Ana",
    "Bruno",
    "Carla",
    "Daniel",
    "Elena",
    "Felipe",
    "Gabriela",
    "Hugo",
    "Isabel",
    "João",
    "Karen",
    "Lucas",
    "Marta",
    "Nuno",
    "Olivia",
    "Pedro",
    "Queila",
    "Rafael",
    "Sofia",
    "Tiago",
    "Ursula",
    "Vitor",
    "Wanda",
    "Xavier",
    "Yara",
    "Zeca",
    "Amelia",
    "Benjamin",
    "Chloe",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Henry",
    "Ines",
    "Jack",
    "Leila",
    "Mohammed",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Samuel",
    "Tomás",
    "Uma",
    "Valentina",
    "William",
    "Yusuf",
    "Zoe",
];
const LAST: &[&str] = &[
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Pereira",
    "Costa",
    "Rodrigues",
    "Almeida",
    "Nascimento",
    "Lima",
    "Araújo",
    "Fernandes",
    "Carvalho",
    "Gomes",
    "Martins",
    "Rocha",
    "Ribeiro",
    "Alves",
    "Monteiro",
    "Mendes",
    "Barros",
    "Freitas",
    "Barbosa",
    "Pinto",
    "Moura",
    "Cavalcanti",
    "Dias",
    "Castro",
    "Campos",
    "Cardoso",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
];
/// Labels and the share of imported contacts carrying each.
pub const LABELS: &[(&str, f64)] = &[
    ("customer", 0.35),
    ("newsletter", 0.20),
    ("lead", 0.15),
    ("returning", 0.12),
    ("support", 0.10),
    ("es", 0.08),
    ("pt", 0.08),
    ("wholesale", 0.05),
    ("billing", 0.05),
    ("vip", 0.03),
];

/// Where a contact came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A CSV import row: phone, name, labels, maybe a consent record.
    Import,
    /// A customer who wrote on WhatsApp: BSUID, phone, profile name, maybe a username.
    WhatsApp,
}

#[derive(Debug, Clone)]
pub struct ContactPlan {
    pub source: Source,
    /// E.164.
    pub phone: String,
    pub name: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub labels: Vec<String>,
    /// (purpose, status) recorded by the import.
    pub consent: Option<(&'static str, &'static str)>,
    pub created_at: i64,
    pub conversations: Vec<ConversationPlan>,
}

#[derive(Debug, Clone)]
pub struct ConversationPlan {
    pub start: i64,
    /// Messages end before this time (the next conversation's start, or now).
    pub until: i64,
    pub messages: u32,
    pub open: bool,
    /// Index into the tenant's agents (0 is the owner).
    pub assignee: Option<usize>,
    pub notes: u32,
    pub seed: u64,
}

pub struct Plan {
    pub contacts: Vec<ContactPlan>,
    pub conversations: usize,
    pub messages: u64,
    pub long_conversations: usize,
}

/// Decides the tenant: `contacts` contacts and exactly `messages` messages (at least one per
/// conversation), ending at `now`, spread over the year before.
pub fn plan(seed: u64, contacts: usize, messages: u64, agents: usize, now: i64) -> Plan {
    let mut rng = SimRng::new(seed);
    let mut out = Vec::with_capacity(contacts);
    let mut weights: Vec<f64> = Vec::new();
    for i in 0..contacts {
        let source = if i % 3 == 2 {
            Source::WhatsApp
        } else {
            Source::Import
        };
        let first = FIRST[rng.below(FIRST.len())];
        let last = LAST[rng.below(LAST.len())];
        let phone = match i % 3 {
            // UK mobiles, Brazilian mobiles (with the ninth digit), US numbers; unique by i.
            0 => format!("+447{:09}", 100_000_000 + i),
            1 => format!("+55119{:08}", 10_000_000 + i),
            _ => format!("+1650{:07}", 1_000_000 + i),
        };
        let (name, user_id, username) = match source {
            Source::Import => (format!("{first} {last}"), None, None),
            Source::WhatsApp => {
                let name = if rng.chance(0.4) {
                    first.to_string()
                } else {
                    format!("{first} {last}")
                };
                let cc = if phone.starts_with("+44") {
                    "GB"
                } else if phone.starts_with("+55") {
                    "BR"
                } else {
                    "US"
                };
                let user_id = format!("{cc}.{:019}", 1_000_000_000_000_000_000u64 + i as u64);
                let username = rng
                    .chance(0.2)
                    .then(|| format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i));
                (name, Some(user_id), username)
            }
        };
        let labels = match source {
            Source::Import => LABELS
                .iter()
                .filter(|(_, p)| rng.chance(*p))
                .map(|(l, _)| l.to_string())
                .collect(),
            Source::WhatsApp => Vec::new(),
        };
        let consent = match source {
            Source::Import if rng.chance(0.03) => Some(("marketing", "opted_out")),
            Source::Import if rng.chance(0.7) => Some(("marketing", "opted_in")),
            _ => None,
        };
        // Conversations: 1 (60%), 2 (25%), 3 (10%), 4 to 8 (5%).
        let r = rng.unit();
        let k = if r < 0.60 {
            1
        } else if r < 0.85 {
            2
        } else if r < 0.95 {
            3
        } else {
            rng.between(4, 8)
        };
        let created_at = now - 365 * DAY + rng.below((364 * DAY) as usize) as i64;
        let mut starts: Vec<i64> = (0..k)
            .map(|_| created_at + rng.below((now - 2 * HOUR - created_at) as usize) as i64)
            .collect();
        starts.sort_unstable();
        // The last conversation is still open for a third of contacts, and open ones are recent.
        let open = rng.chance(0.33);
        if open {
            let recent = now - 10 * MINUTE - rng.below((14 * DAY) as usize) as i64;
            let last = starts.len() - 1;
            starts[last] = starts[last].max(recent);
        }
        let mut conversations = Vec::with_capacity(k);
        for j in 0..k {
            let is_open = open && j == k - 1;
            let until = if j + 1 < k {
                starts[j + 1] - MINUTE
            } else {
                now - MINUTE
            };
            let assignee = if rng.chance(if is_open { 0.55 } else { 0.7 }) {
                Some(rng.below(agents))
            } else {
                None
            };
            // Short mostly: 1 + a geometric draw of mean 5; scaled to the total below.
            let w = 1.0 + (-(1.0 - rng.unit()).ln() * 5.0).floor();
            weights.push(w);
            conversations.push(ConversationPlan {
                start: starts[j],
                until: until.max(starts[j] + 1),
                messages: 0,
                open: is_open,
                assignee,
                notes: u32::from(rng.chance(0.04)),
                seed: rng.next_u64(),
            });
        }
        out.push(ContactPlan {
            source,
            phone,
            name,
            user_id,
            username,
            labels,
            consent,
            created_at: created_at.min(starts[0]),
            conversations,
        });
    }
    let n = weights.len();
    // A few long conversations of thousands of messages (one per 20,000 conversations, at
    // least two), the rest shared by weight.
    let long = (n / 20_000).max(2).min(n);
    let mut long_sizes: Vec<u64> = (0..long)
        .map(|_| rng.between(1_500, 6_000) as u64)
        .collect();
    let long_total: u64 = long_sizes.iter().sum();
    let long_total = if long_total + (n - long) as u64 > messages {
        // A small tenant: the long ones get what is left over.
        let spare = messages.saturating_sub((n - long) as u64).max(long as u64);
        long_sizes = vec![spare / long as u64; long];
        long_sizes[0] += spare % long as u64;
        spare
    } else {
        long_total
    };
    let mut long_at: Vec<usize> = Vec::with_capacity(long);
    while long_at.len() < long {
        let c = rng.below(n);
        if !long_at.contains(&c) {
            long_at.push(c);
        }
    }
    let short_target = messages.saturating_sub(long_total) as f64;
    let short_weight: f64 = weights
        .iter()
        .enumerate()
        .filter(|(i, _)| !long_at.contains(i))
        .map(|(_, w)| w)
        .sum();
    let scale = short_target / short_weight.max(1.0);
    let mut counts: Vec<u64> = weights
        .iter()
        .map(|w| ((w * scale).round() as u64).max(1))
        .collect();
    for (c, size) in long_at.iter().zip(&long_sizes) {
        counts[*c] = *size;
    }
    // Rounding leaves a small difference: the long conversations absorb it.
    let total: u64 = counts.iter().sum();
    if total > messages {
        let mut excess = total - messages;
        for c in &long_at {
            let take = excess.min(counts[*c] - 1);
            counts[*c] -= take;
            excess -= take;
        }
    } else {
        counts[long_at[0]] += messages - total;
    }
    let mut i = 0;
    for c in &mut out {
        for conv in &mut c.conversations {
            conv.messages = counts[i] as u32;
            i += 1;
        }
    }
    Plan {
        contacts: out,
        conversations: n,
        messages: counts.iter().sum(),
        long_conversations: long,
    }
}

const FROM_CUSTOMERS: &[&str] = &[
    "Hi, where is my order?",
    "Is the store open on Sunday?",
    "I was charged twice for the same thing.",
    "Thanks, that worked!",
    "Can I change the delivery address?",
    "The parcel arrived damaged, what can I do?",
    "Do you ship to Portugal?",
    "ok",
    "Perfect, thank you very much",
    "What sizes do you have left in blue?",
    "Can I pay by bank transfer?",
    "I'd like to cancel my subscription.",
    "Hello?",
    "Is there a discount for students?",
    "The code you sent does not work.",
];
const FROM_AGENTS: &[&str] = &[
    "Hi! Let me check that for you.",
    "Your order left our warehouse this morning.",
    "I've refunded the duplicate charge; it shows in 3 to 5 days.",
    "Yes, we are open from 10:00 to 16:00 on Sundays.",
    "Could you send me your order number?",
    "Done: the delivery address is updated.",
    "Sorry about that! I've sent a replacement.",
    "We ship to all of the EU, free over €50.",
    "You're welcome, have a great day!",
    "I've cancelled it; you won't be charged again.",
];
pub const NOTES: &[&str] = &[
    "Customer asked for a refund; waiting on billing.",
    "Called back, no answer. Try again tomorrow.",
    "VIP: handle with care, long-time customer.",
    "Shipping label reprinted, tracking sent.",
];

/// One message of a conversation, as the generator writes it.
pub struct PlannedMessage {
    pub inbound: bool,
    pub at: i64,
    pub kind: &'static str,
    pub body: serde_json::Value,
    /// Outbound only: the statuses WhatsApp reported (`sent`, then maybe `delivered`, `read`).
    pub statuses: &'static [&'static str],
}

/// The messages of a conversation, oldest first, between its start and `until`.
pub fn messages(conv: &ConversationPlan) -> Vec<PlannedMessage> {
    let mut rng = SimRng::new(conv.seed);
    let n = conv.messages as usize;
    // Gaps: seconds to minutes within a burst; long conversations come back over days.
    let gaps: Vec<i64> = (0..n)
        .map(|_| {
            if rng.chance(0.08) {
                rng.between(1, 36) as i64 * HOUR
            } else {
                rng.between(5, 600) as i64 * 1_000_000
            }
        })
        .collect();
    let span: i64 = gaps.iter().sum::<i64>().max(1);
    let room = (conv.until - conv.start).max(n as i64);
    let squeeze = if span > room {
        room as f64 / span as f64
    } else {
        1.0
    };
    // One conversation in five the business started, with a template.
    let business_first = rng.chance(0.2);
    let mut at = conv.start;
    let mut inbound = !business_first;
    let mut out = Vec::with_capacity(n);
    for (i, gap) in gaps.iter().enumerate() {
        if i > 0 {
            at += ((*gap as f64 * squeeze) as i64).max(1);
            // A turn changes hands more often than not.
            if rng.chance(0.6) {
                inbound = !inbound;
            }
        }
        let (kind, body) = if inbound {
            (
                "text",
                serde_json::json!({"text": FROM_CUSTOMERS[rng.below(FROM_CUSTOMERS.len())]}),
            )
        } else if i == 0 {
            (
                "template",
                serde_json::json!({"template": "order_update", "language": "en_US", "params": [format!("#{}", 10_000 + rng.below(90_000))]}),
            )
        } else {
            (
                "text",
                serde_json::json!({"text": FROM_AGENTS[rng.below(FROM_AGENTS.len())]}),
            )
        };
        let statuses: &'static [&'static str] = if inbound {
            &[]
        } else if conv.open && i + 3 >= n {
            // The last replies of an open conversation may still be on their way.
            match rng.below(3) {
                0 => &["sent"],
                1 => &["sent", "delivered"],
                _ => &["sent", "delivered", "read"],
            }
        } else if rng.chance(0.85) {
            &["sent", "delivered", "read"]
        } else {
            &["sent", "delivered"]
        };
        out.push(PlannedMessage {
            inbound,
            at: at.min(conv.until),
            kind,
            body,
            statuses,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_has_exactly_the_messages_asked_for_and_a_few_long_conversations() {
        let now = 1_800_000_000_000_000;
        let p = plan(7, 2_000, 20_000, 5, now);
        assert_eq!(p.contacts.len(), 2_000);
        assert_eq!(p.messages, 20_000);
        let counts: Vec<u32> = p
            .contacts
            .iter()
            .flat_map(|c| c.conversations.iter().map(|v| v.messages))
            .collect();
        assert_eq!(counts.iter().map(|c| u64::from(*c)).sum::<u64>(), 20_000);
        assert!(counts.iter().all(|c| *c >= 1));
        assert!(counts.iter().filter(|c| **c >= 1_000).count() >= 1);
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        assert!(
            sorted[sorted.len() / 2] <= 10,
            "most conversations are short"
        );
        for c in &p.contacts {
            // At most the last conversation is open; times move forward.
            let open: Vec<bool> = c.conversations.iter().map(|v| v.open).collect();
            assert!(open.iter().rev().skip(1).all(|o| !o));
            for v in &c.conversations {
                assert!(v.start < v.until && v.until < now);
                let m = messages(v);
                assert_eq!(m.len() as u32, v.messages);
                assert!(m.windows(2).all(|w| w[0].at <= w[1].at));
                assert!(m.iter().all(|x| x.at >= v.start && x.at <= v.until));
            }
        }
    }
}
