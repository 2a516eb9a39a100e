//! The dispatcher: the only code that hands messages to Graph.
//!
//! For each due outbox entry (replies before broadcast traffic, oldest first) it asks the send
//! gate again at its own time — a contact who opted out while the message waited is not sent
//! to — claims the entry (`in_flight`, committed before the call), and sends it with a
//! [`confide_core::send_gate::Dispatch`] made from that permit. Then, by Graph's answer:
//! - accepted: the message is `sent` with its wamid (or further on, when status webhooks came
//!   first);
//! - retryable (transient, rate limits, the pair rate): back in the queue with backoff, up to
//!   [`MAX_ATTEMPTS`];
//! - the channel cannot send (190, 10, 200–299, 368, 131031): the channel's health is set (which
//!   stops its queue: the gate refuses it from then on and raises a security event), and the
//!   message fails with a plain reason;
//! - anything else: the message fails with Meta's code and a plain reason.
//!
//! Each channel is paced at `outbound.throughput_per_second` (default [`DEFAULT_THROUGHPUT`]),
//! with several sends in flight at once at high rates (never two for the same contact, so a
//! conversation's messages leave in order), in small batches so a reply queued during a
//! broadcast goes next. Each channel's queue is dispatched by one instance at a time: the one
//! holding its lease ([`super::lease`]); a claim records the holder and succeeds only while its
//! lease is current. An entry left `in_flight` by a holder whose lease is gone (its process died
//! mid-send; the lease expired and was taken over) was interrupted between the hand-over to
//! Graph and its record: it is held for review (`needs_review`), never sent twice (checked before
//! every batch; also for sends claimed more than [`INTERRUPTED_AFTER`] ago).
//!
//! Each recipient is also paced at Meta's pair rate ([`PairPacer`]: a burst, then one per 6 s): a
//! message whose recipient has no room yet waits in the queue until it has (no attempt counted),
//! so 131056 is not provoked.

use super::graph::graph_client;
use super::health::ChannelHealthMonitor;
use super::lease::Leases;
use super::recipient_for;
use super::send::{SendInput, audit_refusal, gate, parse_path, refusal_sentence};
use crate::events::{Change, Events, InboxEvent};
use crate::ingest::directory::ChannelDirectory;
use crate::media::links::MediaLinks;
use crate::media::store::MediaStore;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::clock::SharedClock;
use confide_core::entropy::SharedEntropy;
use confide_core::ids::{ChannelId, ContactId};
use confide_core::send_gate::{MessagingLimit, PairPacer, Refusal};
use confide_store::media_objects::MediaObject;
use confide_store::outbox::DueSend;
use confide_store::{Scope, Store, StoreError};
use confide_whatsapp::ErrorClass;
use confide_whatsapp::client::GraphError;
use confide_whatsapp::egress::EgressPolicy;
use confide_whatsapp::send::{
    Interactive, MediaKind, MediaSource, OutboundMessage, Recipient, ReplyButton,
};
use confide_whatsapp::webhook::StatusKind;
use serde_json::json;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// Attempts before a retryable failure is final.
pub const MAX_ATTEMPTS: i64 = 6;
/// Messages per second per channel (Meta's default throughput).
pub const DEFAULT_THROUGHPUT: u32 = 80;
/// Entries read at most per batch.
const BATCH: i64 = 256;
/// A batch holds about this much of a channel's sending time, so a reply queued meanwhile waits
/// at most about this long for its turn.
const BATCH_TIME: Duration = Duration::from_millis(200);
/// How far behind its pace a channel may catch up in a burst (a pause between batches is made
/// up, so the rate holds over a long broadcast): never more than a quarter of a second's worth,
/// well within the second's worth Meta's throughput allows in a burst.
const CATCH_UP: Duration = Duration::from_millis(250);
/// How long a claimed send may stay unrecorded before it counts as interrupted: four times the
/// Graph client's whole-request timeout.
pub const INTERRUPTED_AFTER: Duration = Duration::from_secs(120);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchPass {
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    pub refused: u64,
}

/// See the module documentation.
#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    channels: Arc<ChannelDirectory>,
    clock: SharedClock,
    entropy: SharedEntropy,
    egress: Arc<EgressPolicy>,
    health: ChannelHealthMonitor,
    wake: Arc<Notify>,
    throughput: u32,
    events: Events,
    /// The media store and link signer, for media messages.
    media: Option<(MediaStore, MediaLinks)>,
    /// This process's channel leases.
    leases: Leases,
    /// The messaging-limit tier of a channel that has none set.
    messaging_limit: MessagingLimit,
    /// Each recipient's pair-rate bucket (one dispatcher sends a channel's queue at a time).
    pairs: Arc<std::sync::Mutex<HashMap<(ChannelId, ContactId), PairPacer>>>,
}

/// What became of one entry.
enum Outcome {
    Sent,
    Retried,
    Failed,
    Refused,
    Skipped,
}

impl Dispatcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        channels: Arc<ChannelDirectory>,
        clock: SharedClock,
        entropy: SharedEntropy,
        egress: Arc<EgressPolicy>,
        health: ChannelHealthMonitor,
        wake: Arc<Notify>,
    ) -> Dispatcher {
        let leases = Leases::new(store.clone(), clock.clone(), &entropy);
        Dispatcher {
            leases,
            store,
            channels,
            clock,
            entropy,
            egress,
            health,
            wake,
            throughput: DEFAULT_THROUGHPUT,
            events: Events::default(),
            media: None,
            messaging_limit: MessagingLimit::Unlimited,
            pairs: Arc::default(),
        }
    }

    /// The messaging-limit tier of channels that have none set (`outbound.messaging_limit`).
    pub fn with_messaging_limit(mut self, limit: MessagingLimit) -> Dispatcher {
        self.messaging_limit = limit;
        self
    }

    /// Takes room for one message to `contact` on `channel` at `now`, or tells when there is.
    fn take_pair(&self, channel: ChannelId, contact: ContactId, now: i64) -> Result<(), i64> {
        let mut pairs = self
            .pairs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pairs.len() > 100_000 {
            pairs.retain(|_, p| !p.is_full(now));
        }
        pairs.entry((channel, contact)).or_default().take(now)
    }

    /// Tells the inbox (`GET /api/v1/events`) when a message moves on.
    pub fn with_events(mut self, events: Events) -> Dispatcher {
        self.events = events;
        self
    }

    /// Media messages: where their bytes are, and how links to them are signed.
    pub fn with_media(mut self, store: MediaStore, links: MediaLinks) -> Dispatcher {
        self.media = Some((store, links));
        self
    }

    fn status_changed(&self, d: &DueSend) {
        self.events.publish(InboxEvent {
            tenant: d.tenant,
            change: Change::MessageStatus {
                message: Some(d.message),
                wamid: None,
            },
        });
    }

    /// Dispatches under a fixed lease holder id (dispatchers built one after another that stand
    /// for the same process, as in tests).
    pub fn with_holder(mut self, holder: &str) -> Dispatcher {
        self.leases = self.leases.with_holder(holder);
        self
    }

    /// Paces each channel at `per_second` messages per second (at least 1).
    pub fn with_throughput(mut self, per_second: u32) -> Dispatcher {
        self.throughput = per_second.max(1);
        self
    }

    /// Runs until `stop`: dispatches what is due (holding interrupted sends for review first);
    /// woken when a send is queued, and every second (retries coming due). Renews its channel
    /// leases meanwhile and releases them when it stops.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        if let Err(e) = self.store.clear_stale_dispatch_leases().await {
            tracing::error!(error = %e, "could not clear the leases of an earlier process");
        }
        let keeper = tokio::spawn(self.leases.clone().keep(stop.clone()));
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %e, "dispatch pass failed; retrying shortly");
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        let _ = keeper.await;
    }

    /// This dispatcher's lease holder id.
    pub fn holder(&self) -> &str {
        self.leases.holder()
    }

    /// Sends left in flight by a dispatcher that lost its lease (its process stopped mid-send),
    /// or claimed more than [`INTERRUPTED_AFTER`] ago: held for review (`needs_review`), never
    /// sent again automatically. A live holder's send in progress is left alone (its lease is
    /// current); should a holder whose lease lapsed still record Graph's answer, that answer
    /// wins.
    pub async fn hold_interrupted(&self) -> Result<u64, StoreError> {
        let mut held = 0;
        let now = self.clock.now_micros();
        let cutoff =
            now.saturating_sub(i64::try_from(INTERRUPTED_AFTER.as_micros()).unwrap_or(i64::MAX));
        for d in self.store.interrupted_sends(cutoff, now, 10_000).await? {
            let mut s = self.store.scope(d.tenant).await?;
            if s.outbox().hold_for_review(d.message).await? {
                held += 1;
                let event = AuditEvent::new(
                    Actor::System,
                    "message.held_for_review",
                    format!("message:{}", d.message),
                )
                .with_details(json!({"channel": d.channel.to_string()}));
                s.audit(&event).await?;
                s.commit().await?;
                self.status_changed(&d);
            } else {
                s.commit().await?;
            }
        }
        if held > 0 {
            tracing::warn!(
                held,
                "sends interrupted mid-way (a dispatcher stopped) are held for review, not sent again"
            );
        }
        Ok(held)
    }

    /// Dispatches every entry due now, each channel at its pace, in batches of about
    /// [`BATCH_TIME`] of sending (replies first in each), holding interrupted sends for review
    /// before each batch.
    pub async fn run_once(&self) -> Result<DispatchPass, StoreError> {
        let mut pass = DispatchPass::default();
        let mut next_slot: HashMap<ChannelId, Instant> = HashMap::new();
        let spacing = Duration::from_secs(1) / self.throughput.max(1);
        let batch = (i64::from(self.throughput)
            * i64::try_from(BATCH_TIME.as_millis()).unwrap_or(200)
            / 1000)
            .clamp(8, BATCH);
        // Sends in flight at once: enough for the pace with Graph answering in tens of ms.
        let parallel = usize::try_from(self.throughput / 20)
            .unwrap_or(1)
            .clamp(1, 64);
        loop {
            if let Err(e) = self.hold_interrupted().await {
                tracing::error!(error = %e, "could not check for interrupted sends");
            }
            let due = self
                .store
                .due_sends(self.clock.now_micros(), batch, self.leases.holder())
                .await?;
            if due.is_empty() {
                return Ok(pass);
            }
            let mut progressed = false;
            let mut busy: HashSet<ContactId> = HashSet::new();
            let mut refused_channels: HashSet<ChannelId> = HashSet::new();
            let mut tasks: JoinSet<(DueSend, Result<Outcome, StoreError>)> = JoinSet::new();
            for d in due {
                if refused_channels.contains(&d.channel) || !busy.insert(d.contact) {
                    // Another instance has the channel, or this contact's previous message is
                    // still on its way (the next batch takes it, in order).
                    continue;
                }
                match self.leases.ensure(d.channel).await {
                    Ok(true) => {}
                    Ok(false) => {
                        refused_channels.insert(d.channel);
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not take a channel's dispatch lease");
                        refused_channels.insert(d.channel);
                        continue;
                    }
                }
                while tasks.len() >= parallel {
                    if let Some(done) = tasks.join_next().await {
                        progressed |= tally(&mut pass, done);
                    }
                }
                let slot = next_slot.entry(d.channel).or_insert_with(Instant::now);
                tokio::time::sleep_until((*slot).into()).await;
                let now = Instant::now();
                *slot = (*slot).max(now.checked_sub(CATCH_UP).unwrap_or(now)) + spacing;
                let this = self.clone();
                tasks.spawn(async move {
                    let r = this.dispatch(&d).await;
                    (d, r)
                });
            }
            while let Some(done) = tasks.join_next().await {
                progressed |= tally(&mut pass, done);
            }
            if !progressed {
                return Ok(pass);
            }
        }
    }

    async fn dispatch(&self, d: &DueSend) -> Result<Outcome, StoreError> {
        let now = self.clock.now_micros();
        let mut s = self.store.scope(d.tenant).await?;
        let entry = s.outbox().entry(d.message).await?;
        if entry.state != "pending" {
            return Ok(Outcome::Skipped);
        }
        // Meta's pair rate: the recipient's next message waits for room instead of provoking
        // 131056 (no attempt is counted).
        if let Err(at) = self.take_pair(entry.channel, entry.contact, now) {
            s.outbox().retry_at(d.message, at).await?;
            s.commit().await?;
            return Ok(Outcome::Skipped);
        }
        let Some(path) = parse_path(&entry.path) else {
            let reason = "This message was queued in a way this version cannot send.";
            return self.fail_in(s, d, None, reason).await;
        };
        let Some(input) = SendInput::from_stored(&entry.kind, &entry.body) else {
            let reason = "This kind of message cannot be sent yet.";
            return self.fail_in(s, d, None, reason).await;
        };
        // The role was checked when the send was queued; the rest is decided again now.
        let permissions = BTreeSet::from([path.required_permission()]);
        let conversation = s.inbox().conversation(entry.conversation).await?;
        let permit = match gate(
            &mut s,
            &conversation,
            path,
            input.content(),
            &permissions,
            self.messaging_limit,
            now,
        )
        .await?
        {
            Ok(p) => p,
            Err(refusal) => {
                s.outbox()
                    .fail(d.message, None, &refused_reason(&refusal))
                    .await?;
                audit_refusal(
                    &mut s,
                    Actor::System,
                    entry.conversation,
                    path,
                    &refusal,
                    Some(d.message),
                )
                .await?;
                s.commit().await?;
                self.status_changed(d);
                return Ok(Outcome::Refused);
            }
        };
        if !permit.inside_window() {
            s.record_reach(entry.channel, entry.contact, now).await?;
        }
        let contact = s.contacts().get(entry.contact).await?;
        let Some(channel) = self.channels.get(&self.store, entry.channel).await? else {
            return self
                .fail_in(s, d, None, "The WhatsApp number was removed.")
                .await;
        };
        // A media message (or a template's media header from an upload): its object, and how
        // Meta gets the bytes (recorded on the entry).
        let uploaded = match &input {
            SendInput::Media { media_id, .. } => Some(media_id.as_str()),
            SendInput::Template { args, .. } => args.header_media_id(),
            _ => None,
        };
        let media = match uploaded {
            Some(media_id) => {
                let object = match media_id.parse() {
                    Ok(id) => match s.media_objects().get(id).await {
                        Ok(o) => o,
                        Err(StoreError::NotFound) => {
                            let reason = "The file to send was deleted before it could be sent.";
                            return self.fail_in(s, d, None, reason).await;
                        }
                        Err(e) => return Err(e),
                    },
                    Err(_) => {
                        return self
                            .fail_in(s, d, None, "The file to send is unknown.")
                            .await;
                    }
                };
                let delivery = s.get_channel(entry.channel).await?.media_delivery;
                s.outbox().set_media_delivery(d.message, &delivery).await?;
                Some((object, delivery))
            }
            None => None,
        };
        let to = match recipient_for(&contact, false) {
            Ok(to) => to,
            Err(e) => return self.fail_in(s, d, None, &e.to_string()).await,
        };
        // In flight, durably, before Graph sees it: a crash from here on holds it for review.
        if !s.outbox().claim(d.message, self.leases.holder()).await? {
            return Ok(Outcome::Skipped);
        }
        s.commit().await?;

        let client = match graph_client(
            &self.egress,
            &channel.graph_base_url,
            channel.access_token.clone(),
        ) {
            Ok(c) => c,
            Err(e) => {
                return self
                    .finish_failed(
                        d,
                        None,
                        &format!("The channel's Graph address is not usable: {e}"),
                    )
                    .await;
            }
        };
        let source = match &media {
            None => None,
            Some((object, delivery)) => match self
                .media_source(d, object, delivery, &client, &channel.phone_number_id)
                .await
            {
                Ok(src) => Some(src),
                Err(MediaSourceError::Graph(e)) => {
                    return self.finish_error(d, entry.attempts + 1, &e).await;
                }
                Err(MediaSourceError::Other(reason)) => {
                    return self.finish_failed(d, None, &reason).await;
                }
            },
        };
        let quoted = entry.body["context"]["wamid"]
            .as_str()
            .filter(|w| !w.is_empty());
        let message =
            match build(&input, to, source, media.as_ref().map(|(o, _)| o)).and_then(|m| {
                match quoted {
                    Some(w) => m.in_reply_to(w).map_err(|e| e.to_string()),
                    None => Ok(m),
                }
            }) {
                Ok(m) => m,
                Err(reason) => return self.finish_failed(d, None, &reason).await,
            };
        let answer = client
            .send(
                &permit.dispatch(d.message),
                &channel.phone_number_id,
                &message,
            )
            .await;
        match answer {
            Ok(resp) => {
                let wamid = resp.wamid().unwrap_or_default().to_string();
                self.finish_sent(d, &wamid).await?;
                if let Err(e) = self
                    .health
                    .observe_success(d.tenant, d.channel, channel.health)
                    .await
                {
                    tracing::warn!(error = %e, "could not record the channel's recovery");
                }
                Ok(Outcome::Sent)
            }
            Err(e) => self.finish_error(d, entry.attempts + 1, &e).await,
        }
    }

    async fn finish_sent(&self, d: &DueSend, wamid: &str) -> Result<(), StoreError> {
        let mut s = self.store.scope(d.tenant).await?;
        // Status webhooks may have come in before this record: the furthest one counts.
        let mut status = StatusKind::Sent;
        for recorded in s.outbox().recorded_statuses(wamid).await? {
            let k = StatusKind::parse(&recorded);
            if k.supersedes(&status) {
                status = k;
            }
        }
        s.outbox()
            .sent(d.message, wamid, status.as_str(), i64::from(status.rank()))
            .await?;
        let event = AuditEvent::new(
            Actor::System,
            "message.sent",
            format!("message:{}", d.message),
        )
        .with_details(json!({"channel": d.channel.to_string(), "wamid": wamid}));
        s.audit(&event).await?;
        s.commit().await?;
        self.status_changed(d);
        Ok(())
    }

    async fn finish_error(
        &self,
        d: &DueSend,
        attempts: i64,
        e: &GraphError,
    ) -> Result<Outcome, StoreError> {
        let class = e.class();
        if class == ErrorClass::StopChannel {
            // Sets the channel's health (the gate refuses it from now on) and raises the alarm.
            if let Err(err) = self.health.observe(d.tenant, d.channel, e).await {
                tracing::error!(error = %err, "could not record the channel's stop");
            }
        }
        if class.is_retryable() && attempts < MAX_ATTEMPTS {
            let jitter = f64::from(self.entropy_u16()) / 65_536.0;
            let wait = e
                .retry_after(u32::try_from(attempts - 1).unwrap_or(0), jitter)
                .unwrap_or(Duration::from_secs(30));
            let at = self
                .clock
                .now_micros()
                .saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX));
            let mut s = self.store.scope(d.tenant).await?;
            s.outbox().retry_at(d.message, at).await?;
            s.commit().await?;
            tracing::info!(message = %d.message, attempts, error = %e, "send will be retried");
            return Ok(Outcome::Retried);
        }
        self.finish_failed(d, e.code(), &plain_reason(e)).await
    }

    async fn finish_failed(
        &self,
        d: &DueSend,
        code: Option<i64>,
        reason: &str,
    ) -> Result<Outcome, StoreError> {
        let s = self.store.scope(d.tenant).await?;
        self.fail_in(s, d, code, reason).await
    }

    /// Fails the message for good in `s` (with Meta's code, if any, and a plain reason),
    /// audited, committed, and told to the inbox.
    async fn fail_in(
        &self,
        mut s: Scope<'_>,
        d: &DueSend,
        code: Option<i64>,
        reason: &str,
    ) -> Result<Outcome, StoreError> {
        s.outbox().fail(d.message, code, reason).await?;
        let event = AuditEvent::new(
            Actor::System,
            "message.failed",
            format!("message:{}", d.message),
        )
        .with_details(json!({"channel": d.channel.to_string(), "code": code}));
        s.audit(&event).await?;
        s.commit().await?;
        self.status_changed(d);
        tracing::warn!(message = %d.message, ?code, "send failed");
        Ok(Outcome::Failed)
    }

    fn entropy_u16(&self) -> u16 {
        let mut b = [0u8; 2];
        self.entropy.fill(&mut b);
        u16::from_le_bytes(b)
    }
}

/// Why the bytes of a media message could not be made available to Meta.
enum MediaSourceError {
    /// Graph refused the upload (classified like a send error).
    Graph(GraphError),
    /// Anything else, in plain words.
    Other(String),
}

impl Dispatcher {
    /// Where Meta gets a media message's bytes: a single-use signed link it fetches once, or an
    /// upload to Graph's media endpoint (the channel's `media_delivery`).
    async fn media_source(
        &self,
        d: &DueSend,
        object: &MediaObject,
        delivery: &str,
        client: &confide_whatsapp::client::GraphClient,
        phone_number_id: &str,
    ) -> Result<MediaSource, MediaSourceError> {
        let Some((store, links)) = &self.media else {
            return Err(MediaSourceError::Other(
                "Media cannot be sent by this server (no media store).".into(),
            ));
        };
        if delivery == "upload" {
            let keys =
                self.store.media_keys(d.tenant).await.map_err(|e| {
                    MediaSourceError::Other(format!("The file could not be read: {e}"))
                })?;
            let bytes = store
                .read_all(
                    &object.storage_key,
                    &keys,
                    object.id,
                    u64::try_from(object.byte_size).unwrap_or(0),
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "media could not be read for a Graph upload");
                    MediaSourceError::Other(
                        "The file to send could not be read from storage.".into(),
                    )
                })?;
            let name = object.file_name.clone().unwrap_or_else(|| {
                format!(
                    "{}.{}",
                    object.kind,
                    crate::media::sniff::extension_for(&object.content_type)
                )
            });
            let id = client
                .upload_media(phone_number_id, bytes, &object.content_type, &name)
                .await
                .map_err(MediaSourceError::Graph)?;
            return Ok(MediaSource::Id(id));
        }
        let link = links
            .sign(d.tenant, object.id, true, false)
            .map_err(|e| MediaSourceError::Other(e.message.into_owned()))?;
        Ok(MediaSource::Link(link.url))
    }
}

/// The Graph request for a queued message (`source` and `object`: a media message's bytes).
fn build(
    input: &SendInput,
    to: Recipient,
    source: Option<MediaSource>,
    object: Option<&MediaObject>,
) -> Result<OutboundMessage, String> {
    match input {
        SendInput::Interactive { text, buttons } => {
            let buttons = buttons
                .iter()
                .map(|(id, title)| ReplyButton::new(id, title))
                .collect();
            let i = Interactive::buttons(text, buttons).map_err(|e| e.to_string())?;
            OutboundMessage::interactive(to, i).map_err(|e| e.to_string())
        }
        SendInput::Reaction {
            emoji,
            target_wamid,
            ..
        } => {
            let target = target_wamid
                .as_deref()
                .ok_or("The message reacted to never reached WhatsApp.")?;
            let emoji = (!emoji.is_empty()).then_some(emoji.as_str());
            OutboundMessage::reaction(to, target, emoji).map_err(|e| e.to_string())
        }
        SendInput::Media { caption, .. } => {
            let (Some(source), Some(object)) = (source, object) else {
                return Err("The file to send is unknown.".into());
            };
            let kind = match object.kind.as_str() {
                "image" => MediaKind::Image,
                "audio" => MediaKind::Audio,
                "video" => MediaKind::Video,
                "sticker" => MediaKind::Sticker,
                _ => MediaKind::Document,
            };
            let filename = (kind == MediaKind::Document)
                .then(|| object.file_name.clone())
                .flatten();
            let caption = caption.clone().filter(|_| kind.allows_caption());
            OutboundMessage::media(to, kind, source, caption, filename).map_err(|e| e.to_string())
        }
        SendInput::Text { text } => {
            OutboundMessage::text(to, text, false).map_err(|e| e.to_string())
        }
        SendInput::Template {
            name,
            language,
            args,
        } => {
            let t = args.build(name, language, source)?;
            OutboundMessage::template(to, t).map_err(|e| e.to_string())
        }
    }
}

/// Counts one finished dispatch into `pass`; whether it moved anything.
fn tally(
    pass: &mut DispatchPass,
    done: Result<(DueSend, Result<Outcome, StoreError>), tokio::task::JoinError>,
) -> bool {
    let (d, outcome) = match done {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "a dispatch task failed");
            return false;
        }
    };
    match outcome {
        Ok(Outcome::Sent) => pass.sent += 1,
        Ok(Outcome::Retried) => pass.retried += 1,
        Ok(Outcome::Failed) => pass.failed += 1,
        Ok(Outcome::Refused) => pass.refused += 1,
        Ok(Outcome::Skipped) => return false,
        Err(e) => {
            tracing::error!(error = %e, message = %d.message, "dispatch failed; the send stays queued");
            return false;
        }
    }
    true
}

/// Why a queued message was refused at dispatch, for the message itself.
fn refused_reason(r: &Refusal) -> String {
    format!("Not sent: {}", refusal_sentence(r))
}

/// A Graph failure in plain words.
fn plain_reason(e: &GraphError) -> String {
    match e.code() {
        Some(code) => super::reasons::meta_error(code),
        None => format!("The message could not be handed to WhatsApp: {e}."),
    }
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("throughput", &self.throughput)
            .finish_non_exhaustive()
    }
}
