//! The simulator's state behind one lock, and the shared handle every task holds.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use confide_core::clock::SharedClock;
use time::{Duration, OffsetDateTime};
use tokio::sync::{Notify, watch};

use crate::config::{NumberConfig, SimConfig, StatusConfig, UserConfig, WebhookConfig};
use crate::ids;
use crate::media::{IssuedUrl, StoredMedia};
use crate::ratelimit::TokenBucket;
use crate::records::{
    DeliveryRecord, InboundRecord, OutboundRecord, ReadReceipt, RejectedRequest, WebhookEvent,
};
use crate::rng::SimRng;
use crate::templates::Template;
use crate::wire::{Identity, Node, NumberMeta};

/// The customer service window.
pub const WINDOW: Duration = Duration::hours(24);
/// How long a phone exchange lets the business see a withheld phone.
pub const PHONE_SHARE: Duration = Duration::days(30);

/// `(phone_number_id, user_id)`.
pub type PairKey = (String, String);

#[derive(Debug)]
pub struct NumberState {
    pub config: NumberConfig,
    pub bucket: TokenBucket,
}

impl NumberState {
    pub fn meta(&self) -> NumberMeta {
        NumberMeta {
            display_phone_number: self.config.display_phone_number.clone(),
            phone_number_id: self.config.phone_number_id.clone(),
            waba_id: self.config.waba_id.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserState {
    pub config: UserConfig,
    pub previous_user_ids: Vec<String>,
}

/// One queued change awaiting delivery.
#[derive(Debug)]
pub struct Queued {
    pub json: String,
    /// WABA-level changes (templates) carry `entry.time` and travel in their own batches.
    pub entry_time: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Outbox {
    pub queues: BTreeMap<String, VecDeque<Queued>>,
    pub in_flight: HashMap<String, usize>,
    /// Queued changes plus deliveries in flight.
    pub outstanding: usize,
}

#[derive(Debug)]
pub struct State {
    pub numbers: BTreeMap<String, NumberState>,
    pub users: Vec<UserState>,
    pub templates: Vec<Template>,
    pub media: HashMap<String, StoredMedia>,
    pub media_urls: HashMap<String, IssuedUrl>,
    pub windows: HashMap<PairKey, OffsetDateTime>,
    pub phone_exchanged: HashMap<PairKey, OffsetDateTime>,
    pub marketing_stopped: HashSet<PairKey>,
    pub pair: HashMap<PairKey, TokenBucket>,
    pub inbound: Vec<InboundRecord>,
    /// wamid → phone number id of every inbound message (for mark-as-read).
    pub inbound_ids: HashMap<String, String>,
    pub outbound: Vec<OutboundRecord>,
    /// Media messages accepted with a link, waiting for the fetch.
    pub(crate) pending_links: Vec<crate::graph::messages::PendingLink>,
    /// Every media link fetched, with what it returned.
    pub link_fetches: Vec<crate::records::LinkFetch>,
    pub rejected: Vec<RejectedRequest>,
    pub reads: Vec<ReadReceipt>,
    pub events: Vec<WebhookEvent>,
    pub deliveries: Vec<DeliveryRecord>,
    pub outbox: Outbox,
    /// Ids and scripted content.
    pub rng: SimRng,
    /// Status variations.
    pub status_rng: SimRng,
    /// Batching, duplicates, reordering (timing-dependent, so apart from ids).
    pub delivery_rng: SimRng,
    /// `fbtrace_id`s.
    pub trace_rng: SimRng,
    pub event_seq: u64,
    pub next_delivery_id: u64,
    pub log_limit: usize,
}

/// Default of [`SimConfig::log_limit`].
pub const LOG_LIMIT: usize = 100_000;

/// Trims a log to its newest `limit` entries (in chunks, so pushes stay amortized O(1)).
pub fn keep_newest<T>(log: &mut Vec<T>, limit: usize) {
    let limit = limit.max(1);
    if log.len() > limit + limit / 4 {
        let excess = log.len() - limit;
        log.drain(..excess);
    }
}

/// What every task shares.
#[derive(Debug)]
pub struct Shared {
    pub clock: SharedClock,
    pub state: Mutex<State>,
    pub webhooks: WebhookConfig,
    pub statuses: StatusConfig,
    pub base_url: String,
    /// Where the server listens (loopback when bound to an unspecified address).
    pub addr: std::net::SocketAddr,
    pub http: reqwest::Client,
    pub wake: Notify,
    pub idle: watch::Sender<usize>,
}

impl State {
    pub fn new(config: &SimConfig, now_micros: i64) -> Self {
        let mut root = SimRng::new(config.seed);
        let mut st = State {
            numbers: BTreeMap::new(),
            users: Vec::new(),
            templates: Vec::new(),
            media: HashMap::new(),
            media_urls: HashMap::new(),
            windows: HashMap::new(),
            phone_exchanged: HashMap::new(),
            marketing_stopped: HashSet::new(),
            pair: HashMap::new(),
            inbound: Vec::new(),
            inbound_ids: HashMap::new(),
            outbound: Vec::new(),
            pending_links: Vec::new(),
            link_fetches: Vec::new(),
            rejected: Vec::new(),
            reads: Vec::new(),
            events: Vec::new(),
            deliveries: Vec::new(),
            outbox: Outbox::default(),
            rng: root.fork(),
            status_rng: root.fork(),
            delivery_rng: root.fork(),
            trace_rng: root.fork(),
            event_seq: 0,
            next_delivery_id: 0,
            log_limit: config.log_limit.unwrap_or(LOG_LIMIT),
        };
        for n in &config.numbers {
            st.upsert_number(n.clone(), now_micros);
        }
        for u in &config.users {
            st.upsert_user(u.clone());
        }
        for t in &config.templates {
            st.add_template(t.clone());
        }
        st
    }

    pub fn upsert_number(&mut self, mut config: NumberConfig, now_micros: i64) {
        config.display_phone_number = crate::config::digits_only(&config.display_phone_number);
        let bucket = TokenBucket::throughput(config.throughput, now_micros);
        self.numbers.insert(
            config.phone_number_id.clone(),
            NumberState { config, bucket },
        );
    }

    pub fn upsert_user(&mut self, mut config: UserConfig) {
        config.phone = config.phone.map(|p| crate::config::digits_only(&p));
        if let Some(i) = self.find_user(&config.user_id) {
            self.users[i].config = config;
        } else {
            self.users.push(UserState {
                config,
                previous_user_ids: Vec::new(),
            });
        }
    }

    /// Adds (or replaces, by WABA, name and language) a template; returns its id.
    pub fn add_template(&mut self, mut config: crate::config::TemplateConfig) -> String {
        let id = config
            .id
            .take()
            .unwrap_or_else(|| ids::numeric_id(&mut self.rng));
        let t = Template {
            id: id.clone(),
            config,
        };
        if let Some(existing) = self.templates.iter_mut().find(|x| {
            x.config.waba_id == t.config.waba_id
                && x.config.name == t.config.name
                && x.config.language == t.config.language
        }) {
            *existing = t;
        } else {
            self.templates.push(t);
        }
        id
    }

    /// A user by BSUID, phone (any formatting) or username.
    pub fn find_user(&self, key: &str) -> Option<usize> {
        if let Some(i) = self.users.iter().position(|u| u.config.user_id == key) {
            return Some(i);
        }
        let digits = crate::config::digits_only(key);
        if !digits.is_empty()
            && digits.len() + 3 >= key.len()
            && let Some(i) = self.find_user_by_phone(&digits)
        {
            return Some(i);
        }
        let uname = key.trim_start_matches('@');
        self.users
            .iter()
            .position(|u| u.config.username.as_deref() == Some(uname))
    }

    pub fn find_user_by_phone(&self, digits: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.config.phone.as_deref() == Some(digits))
    }

    pub fn find_user_by_bsuid(&self, bsuid: &str) -> Option<usize> {
        self.users.iter().position(|u| u.config.user_id == bsuid)
    }

    /// May this number see the user's phone now?
    pub fn phone_shared(&self, pnid: &str, user: usize, now: OffsetDateTime) -> bool {
        let u = &self.users[user].config;
        if u.phone.is_none() {
            return false;
        }
        if !u.phone_withheld {
            return true;
        }
        self.phone_exchanged
            .get(&(pnid.to_owned(), u.user_id.clone()))
            .is_some_and(|t| now - *t < PHONE_SHARE)
    }

    /// The user as this number may see them.
    pub fn identity(&self, pnid: &str, user: usize, now: OffsetDateTime) -> Identity {
        let u = &self.users[user].config;
        Identity {
            user_id: u.user_id.clone(),
            name: u.name.clone(),
            username: u.username.clone(),
            phone: if self.phone_shared(pnid, user, now) {
                u.phone.clone()
            } else {
                None
            },
            parent_user_id: u.parent_user_id.clone(),
        }
    }

    pub fn window_open(&self, pnid: &str, user_id: &str, now: OffsetDateTime) -> bool {
        self.windows
            .get(&(pnid.to_owned(), user_id.to_owned()))
            .is_some_and(|t| now - *t < WINDOW)
    }

    /// Moves per-user keys from an old BSUID to a new one.
    pub fn rekey_user(&mut self, old: &str, new: &str) {
        fn rekey<V>(m: &mut HashMap<PairKey, V>, old: &str, new: &str) {
            let keys: Vec<PairKey> = m.keys().filter(|k| k.1 == old).cloned().collect();
            for k in keys {
                if let Some(v) = m.remove(&k) {
                    m.insert((k.0, new.to_owned()), v);
                }
            }
        }
        rekey(&mut self.windows, old, new);
        rekey(&mut self.phone_exchanged, old, new);
        rekey(&mut self.pair, old, new);
        let stopped: Vec<PairKey> = self
            .marketing_stopped
            .iter()
            .filter(|k| k.1 == old)
            .cloned()
            .collect();
        for k in stopped {
            self.marketing_stopped.remove(&k);
            self.marketing_stopped.insert((k.0, new.to_owned()));
        }
    }
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Records a change and queues it for the number's callback (if it has one).
    pub fn emit(&self, st: &mut State, pnid: &str, change: &Node, entry_time: Option<i64>) {
        let json = change.to_json();
        let field = match change {
            Node::Object(f) => f
                .iter()
                .find(|(k, _)| k == "field")
                .and_then(|(_, v)| v.to_value().as_str().map(str::to_owned))
                .unwrap_or_default(),
            _ => String::new(),
        };
        st.event_seq += 1;
        st.events.push(WebhookEvent {
            seq: st.event_seq,
            phone_number_id: pnid.to_owned(),
            field,
            change: change.to_value(),
            at: self.now(),
        });
        keep_newest(&mut st.events, st.log_limit);
        let has_callback = st
            .numbers
            .get(pnid)
            .is_some_and(|n| n.config.callback_url.is_some());
        if has_callback {
            st.outbox
                .queues
                .entry(pnid.to_owned())
                .or_default()
                .push_back(Queued { json, entry_time });
            st.outbox.outstanding += 1;
            self.idle.send_replace(st.outbox.outstanding);
            self.wake.notify_one();
        }
    }

    /// Emits a WABA-level change once per distinct callback among the WABA's numbers.
    pub fn emit_waba(&self, st: &mut State, waba_id: &str, change: &Node, entry_time: i64) {
        let mut seen_urls: Vec<Option<String>> = Vec::new();
        let targets: Vec<String> = st
            .numbers
            .values()
            .filter(|n| n.config.waba_id == waba_id)
            .filter_map(|n| {
                let url = n.config.callback_url.clone();
                if seen_urls.contains(&url) {
                    None
                } else {
                    seen_urls.push(url);
                    Some(n.config.phone_number_id.clone())
                }
            })
            .collect();
        for pnid in targets {
            self.emit(st, &pnid, change, Some(entry_time));
        }
    }
}
