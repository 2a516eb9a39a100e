//! Writes a [`Plan`] through the store's own paths, so every row is what the server writes and
//! reads: contacts through the import path (`Scope::import_contact`: sealed fields, phone and
//! label blind indexes, consent records, one `contacts.imported` audit entry per transaction) or
//! the webhook path (`Scope::resolve_wa_contact`: BSUID and phone blind indexes); conversations
//! opened as ingest opens them (`Inbox::open`), assigned and resolved through `Inbox::update`
//! (audited like an agent's change); messages in bulk (`Scope::insert_messages`, bodies sealed),
//! delivery statuses in bulk (`Scope::record_statuses`, statuses only ever move forward),
//! conversation times once per batch (`Scope::touch_conversations`), notes through
//! `Notes::add` (sealed). A clock moved by hand gives every row the time the plan says.

use super::plan::{self, ContactPlan, NOTES, Plan, Source};
use confide_core::audit::{Actor, AuditEvent};
use confide_core::clock::{ManualClock, from_micros};
use confide_core::ids::{ChannelId, ContactId, ConversationId, TenantId, UserId};
use confide_core::phone::Phone;
use confide_store::Store;
use confide_store::conversations::{Direction, NewMessage};
use confide_store::import::{ImportContact, Imported};
use confide_store::inbox::{ConversationChange, ConversationStatus};
use confide_store::ingest::{StatusRow, WaIdentity};
use std::time::Instant;

/// Contacts per transaction.
const BATCH: usize = 500;

pub struct Target<'a> {
    pub store: &'a Store,
    pub clock: &'a ManualClock,
    pub tenant: TenantId,
    pub channel: ChannelId,
    /// The owner first, then the agents.
    pub agents: &'a [UserId],
}

fn rank(status: &str) -> i64 {
    match status {
        "sent" => 1,
        "delivered" => 3,
        "read" => 4,
        _ => 0,
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("writing the tenant: {e}")
}

/// Conversations the benchmarks ask for.
pub struct Written {
    /// Those of 1,000 messages or more.
    pub long: Vec<ConversationId>,
    /// About 500, spread over the tenant.
    pub sample: Vec<ConversationId>,
}

/// Writes the plan; prints progress to stderr.
pub async fn write(t: &Target<'_>, p: &Plan) -> Result<Written, String> {
    let started = Instant::now();
    let mut wamid_seq: u64 = 0;
    let mut written_messages: u64 = 0;
    let mut written_contacts = 0usize;
    let mut long = Vec::new();
    let mut sample = Vec::new();
    let every = (p.conversations / 500).max(1);
    let mut nth = 0usize;
    let mut next_report = 0.0;
    for batch in p.contacts.chunks(BATCH) {
        let mut s = t.store.scope(t.tenant).await.map_err(err)?;
        let mut messages: Vec<(ConversationId, NewMessage)> = Vec::new();
        let mut statuses: Vec<StatusRow> = Vec::new();
        let mut touches: Vec<(ConversationId, i64, Option<i64>)> = Vec::new();
        let mut imported = 0u64;
        for c in batch {
            t.clock.set(from_micros(c.created_at));
            let contact = add_contact(&mut s, c).await?;
            if c.source == Source::Import {
                imported += 1;
            }
            for conv in &c.conversations {
                t.clock.set(from_micros(conv.start));
                let id = s.inbox().open(contact, t.channel).await.map_err(err)?;
                if conv.messages >= 1_000 {
                    long.push(id);
                }
                nth += 1;
                if nth.is_multiple_of(every) {
                    sample.push(id);
                }
                let planned = plan::messages(conv);
                let mut last_at = conv.start;
                let mut last_inbound = None;
                for m in planned {
                    wamid_seq += 1;
                    last_at = last_at.max(m.at);
                    let wamid = format!("wamid.HBgLBIG{wamid_seq:012}");
                    if m.inbound {
                        last_inbound = Some(m.at);
                    }
                    for (k, st) in m.statuses.iter().enumerate() {
                        statuses.push(StatusRow {
                            wamid: wamid.clone(),
                            status: st.to_string(),
                            rank: rank(st),
                            at_micros: m.at + (k as i64 + 1) * 2_000_000,
                            details: None,
                        });
                    }
                    messages.push((
                        id,
                        NewMessage {
                            direction: if m.inbound {
                                Direction::Inbound
                            } else {
                                Direction::Outbound
                            },
                            wamid: Some(wamid),
                            kind: m.kind.to_string(),
                            body: m.body,
                            status: if m.inbound { "received" } else { "accepted" }.to_string(),
                            at_micros: m.at,
                        },
                    ));
                }
                touches.push((id, last_at, last_inbound));
                let agent = conv.assignee.map(|a| t.agents[a % t.agents.len()]);
                let author = agent.unwrap_or(t.agents[0]);
                for k in 0..conv.notes {
                    t.clock
                        .set(from_micros(conv.start + (last_at - conv.start) / 2));
                    let text = NOTES[(conv.seed as usize + k as usize) % NOTES.len()];
                    s.notes()
                        .add(id, &format!("user:{author}"), text)
                        .await
                        .map_err(err)?;
                }
                if agent.is_some() || !conv.open {
                    t.clock.set(from_micros(last_at + 60_000_000));
                    let change = ConversationChange {
                        status: (!conv.open).then_some(ConversationStatus::Resolved),
                        assignee: agent.map(Some),
                    };
                    s.inbox()
                        .update(id, change, Actor::User(author.to_string()))
                        .await
                        .map_err(err)?;
                }
            }
        }
        if imported > 0 {
            s.audit(
                &AuditEvent::new(
                    Actor::Cli,
                    "contacts.imported",
                    format!("tenant:{}", t.tenant),
                )
                .with_details(serde_json::json!({
                    "mode": "partial", "created": imported, "updated": 0, "rejected": 0
                })),
            )
            .await
            .map_err(err)?;
        }
        written_messages += messages.len() as u64;
        s.insert_messages(messages).await.map_err(err)?;
        s.record_statuses(&statuses).await.map_err(err)?;
        s.touch_conversations(&touches).await.map_err(err)?;
        s.commit().await.map_err(err)?;
        written_contacts += batch.len();
        let done = written_messages as f64 / p.messages.max(1) as f64;
        if done >= next_report || written_contacts == p.contacts.len() {
            next_report = done + 0.05;
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "  {written_contacts:>7} contacts, {written_messages:>8} messages ({:>3.0}%) in {secs:>6.1} s ({:.0} messages/s)",
                100.0 * done,
                written_messages as f64 / secs.max(0.001)
            );
        }
    }
    Ok(Written { long, sample })
}

async fn add_contact(
    s: &mut confide_store::Scope<'_>,
    c: &ContactPlan,
) -> Result<ContactId, String> {
    let phone = Phone::parse(&c.phone).map_err(|e| format!("phone {}: {e:?}", c.phone))?;
    match c.source {
        Source::Import => {
            let row = ImportContact {
                phone: Some(phone),
                wa_user_id: None,
                name: Some(c.name.clone()),
                labels: Some(c.labels.clone()),
                attributes: serde_json::Map::new(),
                consent: c.consent.map(|(purpose, status)| {
                    (
                        purpose.to_string(),
                        status.to_string(),
                        "web_form".to_string(),
                        Some("Ticked the box at checkout.".to_string()),
                    )
                }),
            };
            match s.import_contact(row, "cli").await.map_err(err)? {
                Imported::Created(id) | Imported::Updated(id) => Ok(id),
            }
        }
        Source::WhatsApp => s
            .resolve_wa_contact(&WaIdentity {
                user_id: c.user_id.clone(),
                phone: Some(phone),
                username: c.username.clone(),
                name: Some(c.name.clone()),
            })
            .await
            .map_err(err),
    }
}
