//! Turning a verified, parsed delivery into store writes, inside one tenant scope.

use super::directory::ChannelEntry;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::{ChannelId, ContactId, ConversationId, MessageId};
use confide_core::phone::Phone;
use confide_store::bulk::{NewMediaFetch, StatusRow};
use confide_store::consent::NewConsent;
use confide_store::conversations::{Direction, NewMessage, Stored};
use confide_store::ingest::WaIdentity;
use confide_store::{Scope, StoreError};
use confide_whatsapp::WebhookBatch;
use confide_whatsapp::errors::records_marketing_opt_out;
use confide_whatsapp::webhook::{
    Change, Contact, InteractiveReply, Message, MessageContent, MessagesValue, PreferenceValue,
    Status, StatusKind, SystemKind, UserPreferencesValue,
};
use serde_json::{Value, json};
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
}

impl Round {
    /// Moves every touched conversation's times forward, once each.
    pub async fn finish(self, scope: &mut Scope<'_>) -> Result<(), StoreError> {
        let touches: Vec<(ConversationId, i64, Option<i64>)> = self
            .touched
            .into_iter()
            .map(|(c, (last, inbound))| (c, last, inbound))
            .collect();
        scope.touch_conversations(&touches).await?;
        scope.enqueue_media_fetches(&self.media).await
    }

    fn touch(&mut self, conversation: ConversationId, at: i64) {
        let e = self.touched.entry(conversation).or_insert((at, Some(at)));
        e.0 = e.0.max(at);
        e.1 = Some(e.1.unwrap_or(at).max(at));
    }
}

/// What a delivery changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub messages: u64,
    pub statuses: u64,
    pub duplicates: u64,
    pub consent_events: u64,
    pub unattributable: u64,
    /// Media objects queued for fetching.
    pub media: u64,
}

impl Applied {
    pub fn add(&mut self, o: Applied) {
        self.messages += o.messages;
        self.statuses += o.statuses;
        self.duplicates += o.duplicates;
        self.consent_events += o.consent_events;
        self.unattributable += o.unattributable;
        self.media += o.media;
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

    /// True when the delivery changes identities, so its items must be applied in order.
    fn needs_order(&self) -> bool {
        self.changes.iter().any(|c| match c {
            Change::UserIdUpdate(_) => true,
            Change::Messages(v) => v.messages.iter().any(changes_identity),
            _ => false,
        })
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

    /// Writes the delivery in `scope`, item by item in order (for deliveries that change
    /// identities); the caller finishes the round and commits.
    pub async fn apply(
        &self,
        scope: &mut Scope<'_>,
        round: &mut Round,
    ) -> Result<Applied, StoreError> {
        let mut applied = self.apply_side(scope, round).await?;
        for change in &self.changes {
            let Change::Messages(v) = change else {
                continue;
            };
            let mut plain: Vec<Plain<'_>> = Vec::new();
            for m in &v.messages {
                if changes_identity(m) {
                    applied.add(tally(&store_plain(scope, &plain, round).await?));
                    plain.clear();
                    applied.add(self.store_identity_change(scope, v, m, round).await?);
                } else {
                    plain.push(Plain {
                        channel: self.channel.channel,
                        v,
                        m,
                    });
                }
            }
            applied.add(tally(&store_plain(scope, &plain, round).await?));
            let statuses: Vec<(&MessagesValue, &Status)> =
                v.statuses.iter().map(|s| (v, s)).collect();
            applied.add(tally(&store_statuses(scope, &statuses).await?));
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
        let conversation = scope
            .open_conversation(contact, self.channel.channel)
            .await?;
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
            if scope.append_consent(contact, consent).await?.is_some() {
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

/// The sender of a message as the webhook names it: BSUID first, then phone.
fn identity_of(v: &MessagesValue, m: &Message) -> WaIdentity {
    let profile: Option<&Contact> = v.contact_for(m);
    WaIdentity {
        user_id: m
            .from_user_id
            .clone()
            .or_else(|| profile.and_then(|c| c.user_id.clone())),
        phone: phone(m.from.as_deref()).or_else(|| phone(profile.and_then(|c| c.wa_id.as_deref()))),
        username: profile.and_then(|c| c.username.clone()),
        name: profile.and_then(|c| c.name.clone()),
    }
}

type IdentityKey = (Option<String>, Option<String>);

fn identity_key(who: &WaIdentity) -> IdentityKey {
    (
        who.user_id.clone(),
        who.phone.as_ref().map(|p| p.as_str().to_string()),
    )
}

/// A system message that moves a contact to a new identity.
fn changes_identity(m: &Message) -> bool {
    matches!(
        &m.content,
        MessageContent::System(s) if matches!(s.kind, SystemKind::UserChangedNumber { .. } | SystemKind::UserChangedUserId { .. })
    )
}

/// A plain inbound message (no identity change) and where it came in.
pub struct Plain<'a> {
    pub channel: ChannelId,
    pub v: &'a MessagesValue,
    pub m: &'a Message,
}

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Message { media: bool },
    Status { consent: u64 },
    Duplicate,
    Unattributable,
}

fn tally(outcomes: &[Outcome]) -> Applied {
    let mut a = Applied::default();
    for o in outcomes {
        match o {
            Outcome::Message { media } => {
                a.messages += 1;
                a.media += u64::from(*media);
            }
            Outcome::Status { consent } => {
                a.statuses += 1;
                a.consent_events += consent;
            }
            Outcome::Duplicate => a.duplicates += 1,
            Outcome::Unattributable => a.unattributable += 1,
        }
    }
    a
}

/// Applies a round of deliveries of one tenant. Unless one of them changes identities (then they
/// go one by one, in order), all their messages and statuses are written together: a handful of
/// statements per round instead of per item.
pub async fn apply_round(
    scope: &mut Scope<'_>,
    deliveries: &[&Delivery],
) -> Result<Vec<Applied>, StoreError> {
    let mut round = Round::default();
    let mut out = Vec::with_capacity(deliveries.len());
    if deliveries.iter().any(|d| d.needs_order()) {
        for d in deliveries {
            out.push(d.apply(scope, &mut round).await?);
        }
    } else {
        let mut plain: Vec<Plain<'_>> = Vec::new();
        let mut plain_of: Vec<usize> = Vec::new();
        let mut statuses: Vec<(&MessagesValue, &Status)> = Vec::new();
        let mut status_of: Vec<usize> = Vec::new();
        for (i, d) in deliveries.iter().enumerate() {
            out.push(d.apply_side(scope, &mut round).await?);
            for change in &d.changes {
                let Change::Messages(v) = change else {
                    continue;
                };
                for m in &v.messages {
                    plain.push(Plain {
                        channel: d.channel.channel,
                        v,
                        m,
                    });
                    plain_of.push(i);
                }
                for s in &v.statuses {
                    statuses.push((v, s));
                    status_of.push(i);
                }
            }
        }
        for (o, i) in store_plain(scope, &plain, &mut round)
            .await?
            .into_iter()
            .zip(plain_of)
        {
            out[i].add(tally(&[o]));
        }
        for (o, i) in store_statuses(scope, &statuses)
            .await?
            .into_iter()
            .zip(status_of)
        {
            out[i].add(tally(&[o]));
        }
    }
    round.finish(scope).await?;
    Ok(out)
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
                Outcome::Message {
                    media: queue_media(items[i].channel, items[i].m, id, round),
                }
            }
            Stored::Duplicate => Outcome::Duplicate,
        };
    }
    Ok(out)
}

/// Records statuses together; a failed one with 131050 records a marketing opt-out.
async fn store_statuses(
    scope: &mut Scope<'_>,
    items: &[(&MessagesValue, &Status)],
) -> Result<Vec<Outcome>, StoreError> {
    let rows: Vec<StatusRow> = items
        .iter()
        .map(|(_, s)| StatusRow {
            wamid: s.id.clone(),
            status: s.status.as_str().to_string(),
            rank: i64::from(s.status.rank()),
            at_micros: s.timestamp.saturating_mul(1_000_000),
            details: Some(status_details(s).to_string()),
        })
        .collect();
    let recorded = scope.record_statuses(&rows).await?;
    let mut out = Vec::with_capacity(items.len());
    for ((v, s), fresh) in items.iter().zip(recorded) {
        if !fresh {
            out.push(Outcome::Duplicate);
            continue;
        }
        let consent = if s.status == StatusKind::Failed
            && s.errors
                .iter()
                .any(|e| e.code.is_some_and(records_marketing_opt_out))
        {
            marketing_stopped_by_error(scope, v, s).await?
        } else {
            0
        };
        out.push(Outcome::Status { consent });
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

/// Error 131050 ("user stopped marketing messages") is an opt-out recorded by Meta.
async fn marketing_stopped_by_error(
    scope: &mut Scope<'_>,
    v: &MessagesValue,
    s: &Status,
) -> Result<u64, StoreError> {
    let profile = v
        .contacts
        .iter()
        .find(|c| c.user_id.is_some() && c.user_id == s.recipient_user_id);
    let who = WaIdentity {
        user_id: s.recipient_user_id.clone(),
        phone: phone(s.recipient_id.as_deref()),
        username: profile.and_then(|c| c.username.clone()),
        name: None,
    };
    if who.user_id.is_none() && who.phone.is_none() {
        return Ok(0);
    }
    let contact = scope.resolve_wa_contact(&who).await?;
    let key = format!("wa-131050|{}", s.id);
    let consent = NewConsent {
        purpose: "marketing".to_string(),
        status: "opted_out".to_string(),
        source: "whatsapp_delivery_error".to_string(),
        evidence: Some("131050: the user stopped marketing messages".to_string()),
        actor: Actor::Meta.to_string(),
        at_micros: s.timestamp.saturating_mul(1_000_000),
        dedupe_key: Some(scope.blind_index("consent-dedupe", key.as_bytes())),
    };
    if scope.append_consent(contact, consent).await?.is_none() {
        return Ok(0);
    }
    let event = AuditEvent::new(
        Actor::Meta,
        "consent.opted_out",
        format!("contact:{contact}"),
    )
    .with_details(
        json!({"purpose": "marketing", "source": "whatsapp_delivery_error", "code": 131050}),
    );
    scope.audit(&event).await?;
    Ok(1)
}

/// WhatsApp's phone digits (`16505551234`) as E.164; `None` when absent or not a number.
fn phone(digits: Option<&str>) -> Option<Phone> {
    digits.and_then(|d| Phone::parse(&format!("+{d}")).ok())
}

/// Delivery facts worth keeping with a status (no personal data).
fn status_details(s: &Status) -> Value {
    let mut d = serde_json::Map::new();
    if let Some(p) = &s.pricing {
        d.insert(
            "pricing".into(),
            json!({"billable": p.billable, "pricing_model": p.pricing_model, "type": p.pricing_type, "category": p.category}),
        );
    }
    if !s.errors.is_empty() {
        d.insert(
            "errors".into(),
            Value::Array(
                s.errors
                    .iter()
                    .map(|e| json!({"code": e.code, "title": e.title}))
                    .collect(),
            ),
        );
    }
    Value::Object(d)
}

/// A message's kind and content as stored (sealed) JSON.
pub fn content_json(m: &Message) -> (String, Value) {
    let mut body = match &m.content {
        MessageContent::Text { body } => json!({"text": body}),
        MessageContent::Image(media)
        | MessageContent::Video(media)
        | MessageContent::Audio(media)
        | MessageContent::Document(media)
        | MessageContent::Sticker(media) => json!({"media": media}),
        MessageContent::Location(l) => json!({"location": l}),
        MessageContent::Contacts(cards) => {
            json!({"contacts": cards.iter().map(|c| c.raw.clone()).collect::<Vec<_>>()})
        }
        MessageContent::Interactive(InteractiveReply::ButtonReply { id, title }) => {
            json!({"reply": {"type": "button_reply", "id": id, "title": title}})
        }
        MessageContent::Interactive(InteractiveReply::ListReply {
            id,
            title,
            description,
        }) => {
            json!({"reply": {"type": "list_reply", "id": id, "title": title, "description": description}})
        }
        MessageContent::Interactive(other) => json!({"reply": {"type": format!("{other:?}")}}),
        MessageContent::Button { payload, text } => {
            json!({"button": {"payload": payload, "text": text}})
        }
        MessageContent::Reaction { message_id, emoji } => {
            json!({"reaction": {"message_id": message_id, "emoji": emoji}})
        }
        MessageContent::System(sys) => {
            json!({"system": {"body": sys.body, "kind": system_kind(&sys.kind)}})
        }
        MessageContent::Unsupported { type_name } => json!({"unsupported": type_name}),
        MessageContent::Unknown { type_name } => json!({"unknown": type_name}),
        MessageContent::Malformed { type_name, reason } => {
            json!({"malformed": {"type": type_name, "reason": reason}})
        }
    };
    if let Some(ctx) = &m.context {
        body["context"] = json!({"id": ctx.id, "forwarded": ctx.forwarded});
    }
    if !m.errors.is_empty() {
        body["errors"] = Value::Array(
            m.errors
                .iter()
                .map(|e| json!({"code": e.code, "title": e.title}))
                .collect(),
        );
    }
    (kind_name(&m.content).to_string(), body)
}

fn system_kind(k: &SystemKind) -> &'static str {
    match k {
        SystemKind::UserChangedNumber { .. } => "user_changed_number",
        SystemKind::UserChangedUserId { .. } => "user_changed_user_id",
        SystemKind::Other { .. } => "other",
    }
}

fn kind_name(c: &MessageContent) -> &'static str {
    match c {
        MessageContent::Text { .. } => "text",
        MessageContent::Image(_) => "image",
        MessageContent::Video(_) => "video",
        MessageContent::Audio(_) => "audio",
        MessageContent::Document(_) => "document",
        MessageContent::Sticker(_) => "sticker",
        MessageContent::Location(_) => "location",
        MessageContent::Contacts(_) => "contacts",
        MessageContent::Interactive(_) => "interactive",
        MessageContent::Button { .. } => "button",
        MessageContent::Reaction { .. } => "reaction",
        MessageContent::System(_) => "system",
        MessageContent::Unsupported { .. } => "unsupported",
        MessageContent::Unknown { .. } => "unknown",
        MessageContent::Malformed { .. } => "malformed",
    }
}
