//! Turning verified, parsed deliveries into store writes, inside one tenant scope: one path,
//! batched across the deliveries of a round ([`apply_round`]). What a message means (sender,
//! kind, body) is decided in [`super::content`].

use super::directory::ChannelEntry;
use super::outcome::{Outcome, tally};
use super::statuses::store_statuses;

use super::content::{
    IdentityKey, changes_identity, content_json, identity_key, identity_of, phone,
};
pub use super::outcome::Applied;
use crate::events::{Change as InboxChange, InboxEvent};
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::{ChannelId, ContactId, ConversationId, MessageId, TenantId};
use confide_store::consent::NewConsent;
use confide_store::conversations::{Direction, NewMessage, Stored};
use confide_store::ingest::WaIdentity;
use confide_store::media::NewMediaFetch;
use confide_store::{Scope, StoreError};
use confide_whatsapp::WebhookBatch;
use confide_whatsapp::webhook::{
    Change, Message, MessageContent, MessagesValue, PreferenceValue, Status, SystemKind,
    UserPreferencesValue,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// A verified delivery for one channel, split into what may be applied and what was refused.
pub struct Delivery {
    pub channel: Arc<ChannelEntry>,
    pub changes: Vec<Change>,
    pub rejected: Vec<Rejected>,
}

/// A change naming a business number that is not this channel's (C18).
#[derive(Debug, Clone)]
pub struct Rejected {
    pub entry: usize,
    pub change: usize,
    pub field: &'static str,
    pub phone_number_id: Option<String>,
}

/// What one transaction's deliveries share: contacts and conversations already resolved in it,
/// and the conversations to touch once at the end (instead of once per message).
#[derive(Default)]
pub struct Round {
    contacts: HashMap<IdentityKey, ContactId>,
    conversations: HashMap<(ContactId, ChannelId), ConversationId>,
    touched: HashMap<ConversationId, (i64, Option<i64>)>,
    media: Vec<NewMediaFetch>,
    /// What the inbox is told once the round is durable.
    events: Vec<InboxEvent>,
}

impl Round {
    /// Moves every touched conversation's times forward, once each; returns what to tell the
    /// inbox once the round is durable.
    pub async fn finish(self, scope: &mut Scope<'_>) -> Result<Vec<InboxEvent>, StoreError> {
        let touches: Vec<(ConversationId, i64, Option<i64>)> = self
            .touched
            .into_iter()
            .map(|(c, (last, inbound))| (c, last, inbound))
            .collect();
        scope.touch_conversations(&touches).await?;
        scope.enqueue_media_fetches(&self.media).await?;
        Ok(self.events)
    }

    fn created(&mut self, tenant: TenantId, conversation: ConversationId, message: MessageId) {
        self.events.push(InboxEvent {
            tenant,
            change: InboxChange::MessageCreated {
                conversation,
                message,
            },
        });
    }

    fn touch(&mut self, conversation: ConversationId, at: i64) {
        let e = self.touched.entry(conversation).or_insert((at, Some(at)));
        e.0 = e.0.max(at);
        e.1 = Some(e.1.unwrap_or(at).max(at));
    }
}

impl Delivery {
    /// Keeps the changes addressed to this channel's number; the others are rejected.
    pub fn from_batch(channel: Arc<ChannelEntry>, batch: WebhookBatch) -> Delivery {
        if batch.skipped_count() > 0 {
            for s in &batch.skipped {
                tracing::warn!(channel = %channel.channel, entry = s.entry, change = s.change, reason = %s.reason, "webhook change skipped");
            }
            for s in &batch.skipped_entries {
                tracing::warn!(channel = %channel.channel, entry = s.entry, reason = %s.reason, "webhook entry skipped");
            }
        }
        let mut changes = Vec::new();
        let mut rejected = Vec::new();
        for entry in batch.entries {
            for (ci, change) in entry.changes.into_iter().enumerate() {
                let (field, number) = match &change {
                    Change::Messages(v) => ("messages", Some(v.metadata.phone_number_id.clone())),
                    Change::UserPreferences(v) => {
                        ("user_preferences", Some(v.metadata.phone_number_id.clone()))
                    }
                    Change::UserIdUpdate(v) => (
                        "user_id_update",
                        v.metadata.as_ref().map(|m| m.phone_number_id.clone()),
                    ),
                    // Template updates are per WhatsApp Business Account: keep them; they only
                    // touch templates of this channel.
                    Change::TemplateStatus(_) => {
                        changes.push(change);
                        continue;
                    }
                    Change::Other { .. } | Change::Unknown { .. } => continue,
                };
                if number.as_deref() == Some(channel.phone_number_id.as_str()) {
                    changes.push(change);
                } else {
                    rejected.push(Rejected {
                        entry: entry.index,
                        change: ci,
                        field,
                        phone_number_id: number,
                    });
                }
            }
        }
        Delivery {
            channel,
            changes,
            rejected,
        }
    }

    /// True when the delivery moves identities before its messages (a BSUID update), so what was
    /// gathered before it must be stored first.
    fn moves_identities(&self) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(c, Change::UserIdUpdate(_)))
    }

    /// Everything but messages and statuses: refused changes (audited), consent, templates.
    async fn apply_side(
        &self,
        scope: &mut Scope<'_>,
        round: &mut Round,
    ) -> Result<Applied, StoreError> {
        let mut applied = Applied::default();
        for r in &self.rejected {
            tracing::warn!(channel = %self.channel.channel, entry = r.entry, change = r.change, "webhook change for another business number rejected");
            let event = AuditEvent::new(
                Actor::Meta,
                "webhook.change_rejected",
                format!("channel:{}", self.channel.channel),
            )
            .with_details(json!({
                "reason": "phone_number_id does not belong to this channel",
                "field": r.field,
                "phone_number_id": r.phone_number_id,
                "entry": r.entry,
                "change": r.change,
            }));
            scope.audit(&event).await?;
        }
        for change in &self.changes {
            match change {
                Change::Messages(v) => {
                    for e in &v.errors {
                        tracing::warn!(channel = %self.channel.channel, code = ?e.code, title = ?e.title, "webhook carries an error");
                    }
                }
                Change::UserPreferences(v) => applied.add(self.apply_preferences(scope, v).await?),
                Change::TemplateStatus(t) => {
                    if let (Some(name), Some(language)) = (&t.name, &t.language) {
                        scope
                            .set_template_status(
                                self.channel.channel,
                                name,
                                language,
                                t.event.as_str(),
                            )
                            .await?;
                    }
                }
                Change::UserIdUpdate(v) => {
                    round.contacts.clear();
                    round.conversations.clear();
                    for u in &v.updates {
                        let new = WaIdentity {
                            user_id: u.user_id.clone(),
                            phone: phone(u.wa_id.as_deref()),
                            ..Default::default()
                        };
                        scope
                            .move_wa_identity(u.previous_user_id.as_deref(), None, &new)
                            .await?;
                    }
                }
                Change::Other { .. } | Change::Unknown { .. } => {}
            }
        }
        Ok(applied)
    }

    /// A message that moves a contact to a new identity, stored on its own, in order.
    async fn store_identity_change(
        &self,
        scope: &mut Scope<'_>,
        v: &MessagesValue,
        m: &Message,
        round: &mut Round,
    ) -> Result<Applied, StoreError> {
        let mut applied = Applied::default();
        let Some(contact) = self.contact_of(scope, v, m, round).await? else {
            applied.unattributable += 1;
            return Ok(applied);
        };
        let conversation = scope.inbox().open(contact, self.channel.channel).await?;
        round
            .conversations
            .insert((contact, self.channel.channel), conversation);
        let (kind, body) = content_json(m);
        let at = m.timestamp.saturating_mul(1_000_000);
        let message = NewMessage {
            direction: Direction::Inbound,
            wamid: Some(m.id.clone()),
            kind,
            body,
            status: "received".to_string(),
            at_micros: at,
        };
        match scope.insert_message_row(conversation, message).await? {
            Stored::Inserted(id) => {
                applied.messages += 1;
                round.touch(conversation, at);
                round.created(scope.tenant(), conversation, id);
                applied.media += u64::from(queue_media(self.channel.channel, m, id, round));
            }
            Stored::Duplicate => applied.duplicates += 1,
        }
        Ok(applied)
    }

    /// The sender's contact: an identity change moves the known contact to its new identity.
    async fn contact_of(
        &self,
        scope: &mut Scope<'_>,
        v: &MessagesValue,
        m: &Message,
        round: &mut Round,
    ) -> Result<Option<ContactId>, StoreError> {
        if let MessageContent::System(sys) = &m.content {
            let change = match &sys.kind {
                SystemKind::UserChangedNumber {
                    new_wa_id,
                    previous_user_id,
                    user_id,
                } => Some((phone(new_wa_id.as_deref()), previous_user_id, user_id)),
                SystemKind::UserChangedUserId {
                    previous_user_id,
                    user_id,
                } => Some((phone(m.from.as_deref()), previous_user_id, user_id)),
                SystemKind::Other { .. } => None,
            };
            if let Some((new_phone, previous_user_id, user_id)) = change {
                let new = WaIdentity {
                    user_id: user_id.clone(),
                    phone: new_phone,
                    ..Default::default()
                };
                let old_phone = phone(m.from.as_deref());
                // Identities change here: what this round resolved may no longer hold.
                round.contacts.clear();
                round.conversations.clear();
                if let Some(c) = scope
                    .move_wa_identity(previous_user_id.as_deref(), old_phone.as_ref(), &new)
                    .await?
                {
                    return Ok(Some(c));
                }
                if new.user_id.is_some() || new.phone.is_some() {
                    return scope.resolve_wa_contact(&new).await.map(Some);
                }
            }
        }
        let who = identity_of(v, m);
        if who.user_id.is_none() && who.phone.is_none() {
            return Ok(None);
        }
        let key = identity_key(&who);
        if let Some(c) = round.contacts.get(&key) {
            return Ok(Some(*c));
        }
        let c = scope.resolve_wa_contact(&who).await?;
        round.contacts.insert(key, c);
        Ok(Some(c))
    }

    async fn apply_preferences(
        &self,
        scope: &mut Scope<'_>,
        v: &UserPreferencesValue,
    ) -> Result<Applied, StoreError> {
        let mut applied = Applied::default();
        for p in &v.preferences {
            let status = match &p.value {
                PreferenceValue::Stop => "opted_out",
                PreferenceValue::Resume => "opted_in",
                PreferenceValue::Other(other) => {
                    tracing::warn!(value = %other, "unknown user preference value ignored");
                    continue;
                }
            };
            let profile = v
                .contacts
                .iter()
                .find(|c| c.user_id.is_some() && c.user_id == p.user_id);
            let who = WaIdentity {
                user_id: p.user_id.clone(),
                phone: phone(p.wa_id.as_deref()),
                username: profile.and_then(|c| c.username.clone()),
                name: profile.and_then(|c| c.name.clone()),
            };
            if who.user_id.is_none() && who.phone.is_none() {
                applied.unattributable += 1;
                continue;
            }
            let contact = scope.resolve_wa_contact(&who).await?;
            let key = format!(
                "wa-pref|{}|{}|{}|{status}",
                contact,
                p.category.as_deref().unwrap_or(""),
                p.timestamp
            );
            let consent = NewConsent {
                purpose: "marketing".to_string(),
                status: status.to_string(),
                source: "whatsapp_user_preferences".to_string(),
                evidence: p.detail.clone(),
                actor: Actor::Meta.to_string(),
                at_micros: p.timestamp.saturating_mul(1_000_000),
                dedupe_key: Some(scope.blind_index("consent-dedupe", key.as_bytes())),
            };
            if scope.consent().append(contact, consent).await?.is_some() {
                applied.consent_events += 1;
                let event = AuditEvent::new(
                    Actor::Meta,
                    format!("consent.{status}"),
                    format!("contact:{contact}"),
                )
                .with_details(
                    json!({"purpose": "marketing", "source": "whatsapp_user_preferences"}),
                );
                scope.audit(&event).await?;
            }
        }
        Ok(applied)
    }
}

/// A plain inbound message (no identity change) and where it came in.
pub struct Plain<'a> {
    pub channel: ChannelId,
    pub v: &'a MessagesValue,
    pub m: &'a Message,
}

/// Messages and statuses gathered for one batched write.
#[derive(Default)]
struct Batch<'a> {
    plain: Vec<Plain<'a>>,
    plain_of: Vec<usize>,
    statuses: Vec<(&'a MessagesValue, &'a Status)>,
    status_of: Vec<usize>,
}

impl<'a> Batch<'a> {
    /// Stores what was gathered (messages, then statuses) and credits each delivery.
    async fn flush(
        &mut self,
        scope: &mut Scope<'_>,
        round: &mut Round,
        out: &mut [Applied],
    ) -> Result<(), StoreError> {
        let outcomes = store_plain(scope, &self.plain, round).await?;
        for (o, i) in outcomes.into_iter().zip(self.plain_of.drain(..)) {
            out[i].add(tally(&[o]));
        }
        self.plain.clear();
        let outcomes = store_statuses(scope, &self.statuses).await?;
        for ((o, i), (_, s)) in outcomes
            .into_iter()
            .zip(self.status_of.drain(..))
            .zip(&self.statuses)
        {
            if o != Outcome::Duplicate {
                round.events.push(InboxEvent {
                    tenant: scope.tenant(),
                    change: InboxChange::MessageStatus {
                        message: None,
                        wamid: Some(s.id.clone()),
                    },
                });
            }
            out[i].add(tally(&[o]));
        }
        self.statuses.clear();
        Ok(())
    }
}

/// Applies a round of deliveries of one tenant, in one path: messages and statuses are gathered
/// across deliveries and written together (a handful of statements per round instead of per
/// item); an identity change (a number or BSUID change) first stores what was gathered before it
/// and is then applied on its own, so identities move in the order Meta reported them. The
/// writer retries a failed round delivery by delivery.
pub async fn apply_round(
    scope: &mut Scope<'_>,
    deliveries: &[&Delivery],
) -> Result<(Vec<Applied>, Vec<InboxEvent>), StoreError> {
    let mut round = Round::default();
    let mut out = vec![Applied::default(); deliveries.len()];
    let mut batch = Batch::default();
    for (i, d) in deliveries.iter().enumerate() {
        if d.moves_identities() {
            batch.flush(scope, &mut round, &mut out).await?;
        }
        let side = d.apply_side(scope, &mut round).await?;
        out[i].add(side);
        for change in &d.changes {
            let Change::Messages(v) = change else {
                continue;
            };
            for m in &v.messages {
                if changes_identity(m) {
                    batch.flush(scope, &mut round, &mut out).await?;
                    let moved = d.store_identity_change(scope, v, m, &mut round).await?;
                    out[i].add(moved);
                } else {
                    batch.plain.push(Plain {
                        channel: d.channel.channel,
                        v,
                        m,
                    });
                    batch.plain_of.push(i);
                }
            }
            for s in &v.statuses {
                batch.statuses.push((v, s));
                batch.status_of.push(i);
            }
        }
    }
    batch.flush(scope, &mut round, &mut out).await?;
    let events = round.finish(scope).await?;
    Ok((out, events))
}

/// Stores plain inbound messages: contacts, conversations and messages a statement per batch.
async fn store_plain(
    scope: &mut Scope<'_>,
    items: &[Plain<'_>],
    round: &mut Round,
) -> Result<Vec<Outcome>, StoreError> {
    let mut out = vec![Outcome::Unattributable; items.len()];
    if items.is_empty() {
        return Ok(out);
    }
    // Who sent each message, and their open conversation on the channel it came in on.
    let mut senders: Vec<Option<ContactId>> = Vec::with_capacity(items.len());
    let mut unresolved: HashMap<ChannelId, Vec<(usize, IdentityKey, WaIdentity)>> = HashMap::new();
    for (i, p) in items.iter().enumerate() {
        let who = identity_of(p.v, p.m);
        if who.user_id.is_none() && who.phone.is_none() {
            tracing::warn!(channel = %p.channel, wamid = %p.m.id, "inbound message names no sender; not attributable");
            senders.push(None);
            continue;
        }
        let key = identity_key(&who);
        senders.push(round.contacts.get(&key).copied());
        if senders[i].is_none() {
            unresolved.entry(p.channel).or_default().push((i, key, who));
        }
    }
    for (channel, list) in unresolved {
        let who: Vec<WaIdentity> = list.iter().map(|(_, _, w)| w.clone()).collect();
        let resolved = scope.resolve_wa_senders(channel, &who).await?;
        for ((i, key, _), (contact, conversation)) in list.into_iter().zip(resolved) {
            senders[i] = Some(contact);
            round.contacts.insert(key, contact);
            round.conversations.insert((contact, channel), conversation);
        }
    }
    // Conversations of senders this round knew already, on channels not seen with them yet.
    let mut missing: HashMap<ChannelId, Vec<ContactId>> = HashMap::new();
    for (p, sender) in items.iter().zip(&senders) {
        if let Some(c) = sender
            && !round.conversations.contains_key(&(*c, p.channel))
        {
            missing.entry(p.channel).or_default().push(*c);
        }
    }
    for (channel, contacts) in missing {
        for (contact, conv) in scope.open_conversations(channel, &contacts).await? {
            round.conversations.insert((contact, channel), conv);
        }
    }
    // The messages.
    let mut rows = Vec::with_capacity(items.len());
    let mut row_of = Vec::with_capacity(items.len());
    for (i, (p, sender)) in items.iter().zip(&senders).enumerate() {
        let Some(conversation) =
            sender.and_then(|c| round.conversations.get(&(c, p.channel)).copied())
        else {
            continue;
        };
        let (kind, body) = content_json(p.m);
        rows.push((
            conversation,
            NewMessage {
                direction: Direction::Inbound,
                wamid: Some(p.m.id.clone()),
                kind,
                body,
                status: "received".to_string(),
                at_micros: p.m.timestamp.saturating_mul(1_000_000),
            },
        ));
        row_of.push(i);
    }
    let touches: Vec<(ConversationId, i64)> = rows.iter().map(|(c, n)| (*c, n.at_micros)).collect();
    let stored = scope.insert_messages(rows).await?;
    for ((stored, i), (conversation, at)) in stored.into_iter().zip(row_of).zip(touches) {
        out[i] = match stored {
            Stored::Inserted(id) => {
                round.touch(conversation, at);
                round.created(scope.tenant(), conversation, id);
                let consent = match senders[i] {
                    Some(contact) => {
                        super::keywords::opt_out_by_keyword(
                            scope,
                            contact,
                            conversation,
                            items[i].m,
                        )
                        .await?
                    }
                    None => 0,
                };
                Outcome::Message {
                    media: queue_media(items[i].channel, items[i].m, id, round),
                    consent,
                }
            }
            Stored::Duplicate => Outcome::Duplicate,
        };
    }
    Ok(out)
}

/// Queues a stored message's media for the fetcher (written when the round finishes).
fn queue_media(channel: ChannelId, m: &Message, id: MessageId, round: &mut Round) -> bool {
    let Some(media) = m.content.media() else {
        return false;
    };
    let Some(media_id) = &media.id else {
        return false;
    };
    round.media.push(NewMediaFetch {
        message: id,
        channel,
        meta_media_id: media_id.clone(),
        sha256: media.sha256.clone(),
        mime_type: media.mime_type.clone(),
    });
    true
}
