//! Starting the simulator and the control handle tests hold.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use confide_core::clock::{SharedClock, to_micros};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{
    NumberConfig, SimConfig, TemplateConfig, TemplateStatus, UserConfig, WindowMode,
};
use crate::inbound::InboundMessage;
use crate::records::{
    DeliveryRecord, InboundRecord, OutboundRecord, ReadReceipt, RejectedRequest, WebhookEvent,
};
use crate::script::Script;
use crate::state::{Shared, State};
use crate::templates::Template;
use crate::wire::{self, InboundWire, Node};
use crate::{SimError, graph, ids, webhooks};

/// The simulator's entry point.
#[derive(Debug)]
pub struct Sim;

/// A customer's marketing preference, set in WhatsApp itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    Stop,
    Resume,
}

impl Preference {
    fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Resume => "resume",
        }
    }
}

/// Stops the tasks when the last handle goes.
#[derive(Debug)]
struct Guard {
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Guard {
    fn stop(&self) {
        self.shutdown.send_replace(true);
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        for t in tasks {
            t.abort();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running simulator. Cheap to clone; the simulator stops when the last clone is dropped or
/// [`SimHandle::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
    /// None for the handles the control API makes for itself: they never stop the simulator.
    guard: Option<Arc<Guard>>,
}

impl Sim {
    /// Binds `config.listen` (or `127.0.0.1:0`) and serves.
    pub async fn start(config: SimConfig, clock: SharedClock) -> Result<SimHandle, SimError> {
        let addr = config
            .listen
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        Self::start_on(config, clock, addr).await
    }

    /// Binds `addr` and serves.
    pub async fn start_on(
        config: SimConfig,
        clock: SharedClock,
        addr: SocketAddr,
    ) -> Result<SimHandle, SimError> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let reachable = match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), local.port())
            }
            _ => local,
        };
        let base_url = config
            .public_base_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{reachable}"));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(StdDuration::from_millis(config.webhooks.request_timeout_ms))
            .build()
            .map_err(|e| SimError::Http(e.to_string()))?;
        let (idle, _) = watch::channel(0usize);
        let state = State::new(&config, to_micros(clock.now()));
        let shared = Arc::new(Shared {
            clock,
            state: Mutex::new(state),
            webhooks: config.webhooks.clone(),
            statuses: config.statuses.clone(),
            base_url,
            addr: reachable,
            http,
            wake: Notify::new(),
            idle,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let app = graph::router(shared.clone()).merge(crate::control::router(shared.clone()));
        let mut server_rx = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_rx.changed().await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "meta-sim server stopped");
            }
        });
        let engine = tokio::spawn(webhooks::run(shared.clone(), shutdown_rx));
        Ok(SimHandle {
            shared,
            guard: Some(Arc::new(Guard {
                shutdown,
                tasks: Mutex::new(vec![server, engine]),
            })),
        })
    }
}

impl SimHandle {
    /// A handle that does not keep the simulator alive (for the control API).
    pub(crate) fn borrowed(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            guard: None,
        }
    }

    /// `http://127.0.0.1:PORT` (or `public_base_url`).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The Graph base a client should use: `{base_url}/v24.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/v24.0", self.shared.base_url)
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The simulator's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.shared.now()
    }

    /// Stops serving and delivering.
    pub async fn shutdown(self) {
        if let Some(g) = &self.guard {
            g.stop();
        }
    }

    // ----- configuration -----

    /// Adds or replaces a phone number.
    pub fn add_number(&self, number: NumberConfig) {
        let now = to_micros(self.shared.now());
        self.shared.lock().upsert_number(number, now);
    }

    /// Changes a number's configuration in place (throughput changes reset its bucket).
    pub fn configure_number(
        &self,
        phone_number_id: &str,
        change: impl FnOnce(&mut NumberConfig),
    ) -> Result<(), SimError> {
        let now = to_micros(self.shared.now());
        let mut st = self.shared.lock();
        let mut cfg = st
            .numbers
            .get(phone_number_id)
            .map(|n| n.config.clone())
            .ok_or_else(|| SimError::UnknownNumber(phone_number_id.to_owned()))?;
        let before = cfg.throughput;
        change(&mut cfg);
        cfg.phone_number_id = phone_number_id.to_owned();
        if cfg.throughput == before {
            if let Some(n) = st.numbers.get_mut(phone_number_id) {
                n.config = cfg;
            }
        } else {
            st.upsert_number(cfg, now);
        }
        Ok(())
    }

    pub fn set_callback_url(
        &self,
        phone_number_id: &str,
        url: Option<&str>,
    ) -> Result<(), SimError> {
        let url = url.map(str::to_owned);
        self.configure_number(phone_number_id, |n| n.callback_url = url)
    }

    pub fn set_window_mode(&self, phone_number_id: &str, mode: WindowMode) -> Result<(), SimError> {
        self.configure_number(phone_number_id, |n| n.window_mode = mode)
    }

    /// 80 (default) or 1000 messages per second, or anything else.
    pub fn set_throughput(&self, phone_number_id: &str, per_second: u32) -> Result<(), SimError> {
        self.configure_number(phone_number_id, |n| n.throughput = per_second)
    }

    pub fn set_access_token(
        &self,
        phone_number_id: &str,
        token: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(), SimError> {
        let token = token.to_owned();
        self.configure_number(phone_number_id, |n| {
            n.access_token = token;
            n.token_expires_at = expires_at;
        })
    }

    pub fn number(&self, phone_number_id: &str) -> Option<NumberConfig> {
        self.shared
            .lock()
            .numbers
            .get(phone_number_id)
            .map(|n| n.config.clone())
    }

    /// Adds or replaces (by BSUID) a user.
    pub fn add_user(&self, user: UserConfig) {
        self.shared.lock().upsert_user(user);
    }

    /// A user by BSUID, phone or username.
    pub fn user(&self, key: &str) -> Option<UserConfig> {
        let st = self.shared.lock();
        st.find_user(key).map(|i| st.users[i].config.clone())
    }

    pub fn users(&self) -> Vec<UserConfig> {
        self.shared
            .lock()
            .users
            .iter()
            .map(|u| u.config.clone())
            .collect()
    }

    /// Adds or replaces a template; returns its id.
    pub fn add_template(&self, template: TemplateConfig) -> String {
        self.shared.lock().add_template(template)
    }

    pub fn templates(&self) -> Vec<Template> {
        self.shared.lock().templates.clone()
    }

    pub fn approve_template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Result<(), SimError> {
        self.set_template_status(waba_id, name, language, TemplateStatus::Approved, "NONE")
    }

    pub fn reject_template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
        reason: &str,
    ) -> Result<(), SimError> {
        self.set_template_status(waba_id, name, language, TemplateStatus::Rejected, reason)
    }

    /// Sets a template's status and sends the `message_template_status_update` webhook.
    pub fn set_template_status(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
        status: TemplateStatus,
        reason: &str,
    ) -> Result<(), SimError> {
        let now = self.shared.now();
        let mut st = self.shared.lock();
        let t = st
            .templates
            .iter_mut()
            .find(|t| {
                t.config.waba_id == waba_id
                    && t.config.name == name
                    && t.config.language == language
            })
            .ok_or_else(|| SimError::UnknownTemplate {
                waba_id: waba_id.to_owned(),
                name: name.to_owned(),
                language: language.to_owned(),
            })?;
        t.config.status = status;
        let change = wire::template_status_change(
            status.as_str(),
            &t.id,
            name,
            language,
            reason,
            t.config.category.as_str(),
        );
        self.shared
            .emit_waba(&mut st, waba_id, &change, now.unix_timestamp());
        Ok(())
    }

    // ----- scripted customers -----

    /// The customer sends a text message.
    pub fn customer_sends(
        &self,
        user: &str,
        phone_number_id: &str,
        text: &str,
    ) -> Result<String, SimError> {
        self.customer_sends_message(user, phone_number_id, InboundMessage::text(text))
    }

    /// The customer sends any kind of message; returns its wamid. Media is stored in the
    /// simulator (7 days) and downloadable through `GET /{media_id}`.
    pub fn customer_sends_message(
        &self,
        user: &str,
        phone_number_id: &str,
        message: InboundMessage,
    ) -> Result<String, SimError> {
        let now = self.shared.now();
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        let meta = st
            .numbers
            .get(phone_number_id)
            .map(crate::state::NumberState::meta)
            .ok_or_else(|| SimError::UnknownNumber(phone_number_id.to_owned()))?;
        let idx = st
            .find_user(user)
            .ok_or_else(|| SimError::UnknownUser(user.to_owned()))?;
        let media_id = message
            .media()
            .map(|m| graph::store_inbound_media(st, phone_number_id, &m.mime_type, &m.data, now));
        let who = st.identity(phone_number_id, idx, now);
        let party = who.phone.clone().unwrap_or_else(|| who.user_id.clone());
        let wamid = ids::wamid(&mut st.rng, &party);
        let (body, context, errors) =
            message.wire_parts(media_id.as_deref(), &meta.display_phone_number);
        let msg = wire::inbound_message(
            &who,
            InboundWire {
                id: wamid.clone(),
                timestamp: now.unix_timestamp(),
                kind: message.kind().to_owned(),
                body,
                context,
                errors,
            },
        );
        let change = wire::message_change(&meta, &who, msg);
        st.windows
            .insert((phone_number_id.to_owned(), who.user_id.clone()), now);
        crate::state::keep_newest(&mut st.inbound, st.log_limit);
        st.inbound.push(InboundRecord {
            wamid: wamid.clone(),
            phone_number_id: phone_number_id.to_owned(),
            user_id: who.user_id.clone(),
            kind: message.kind().to_owned(),
            media_id,
            at: now,
        });
        st.inbound_ids
            .insert(wamid.clone(), phone_number_id.to_owned());
        self.shared.emit(st, phone_number_id, &change, None);
        Ok(wamid)
    }

    /// The user moves to a new phone number: a new BSUID, and a `system` message
    /// (`user_changed_number`, with `previous_user_id`, no `contacts`) to this number.
    /// Returns the new BSUID. Window, consent and rate state move to the new BSUID.
    pub fn user_changes_number(
        &self,
        user: &str,
        phone_number_id: &str,
        new_phone: &str,
    ) -> Result<String, SimError> {
        let now = self.shared.now();
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        let meta = st
            .numbers
            .get(phone_number_id)
            .map(crate::state::NumberState::meta)
            .ok_or_else(|| SimError::UnknownNumber(phone_number_id.to_owned()))?;
        let idx = st
            .find_user(user)
            .ok_or_else(|| SimError::UnknownUser(user.to_owned()))?;
        let before = st.identity(phone_number_id, idx, now);
        let country = before
            .user_id
            .split_once('.')
            .map_or("US", |(cc, _)| cc)
            .to_owned();
        let new_id = ids::bsuid(&mut st.rng, &country);
        let new_phone = crate::config::digits_only(new_phone);
        {
            let u = &mut st.users[idx];
            u.previous_user_ids.push(u.config.user_id.clone());
            u.config.user_id = new_id.clone();
            u.config.phone = Some(new_phone.clone());
        }
        st.rekey_user(&before.user_id, &new_id);
        let after = st.identity(phone_number_id, idx, now);
        let body_text = match (&before.phone, &after.phone) {
            (Some(old), Some(new)) => format!("User {} changed from {old} to {new}", before.name),
            _ => format!("User {} changed their phone number", before.name),
        };
        let party = before
            .phone
            .clone()
            .unwrap_or_else(|| before.user_id.clone());
        let wamid = ids::wamid(&mut st.rng, &party);
        let msg = Node::obj()
            .opt("from", before.phone.as_deref())
            .put("id", wamid.as_str())
            .put("timestamp", now.unix_timestamp().to_string())
            .put("type", "system")
            .put(
                "system",
                Node::obj()
                    .put("body", body_text)
                    .opt("wa_id", after.phone.as_deref())
                    .put("type", "user_changed_number")
                    .put("user_id", new_id.as_str())
                    .put("previous_user_id", before.user_id.as_str()),
            );
        let change = wire::system_change(&meta, msg);
        self.shared.emit(st, phone_number_id, &change, None);
        Ok(new_id)
    }

    /// The customer stops or resumes marketing messages in WhatsApp (`user_preferences`).
    /// While stopped, marketing templates get 200 then a `failed` status with 131050.
    pub fn user_preferences(
        &self,
        user: &str,
        phone_number_id: &str,
        preference: Preference,
    ) -> Result<(), SimError> {
        let now = self.shared.now();
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        let meta = st
            .numbers
            .get(phone_number_id)
            .map(crate::state::NumberState::meta)
            .ok_or_else(|| SimError::UnknownNumber(phone_number_id.to_owned()))?;
        let idx = st
            .find_user(user)
            .ok_or_else(|| SimError::UnknownUser(user.to_owned()))?;
        let who = st.identity(phone_number_id, idx, now);
        let key = (phone_number_id.to_owned(), who.user_id.clone());
        match preference {
            Preference::Stop => {
                st.marketing_stopped.insert(key);
            }
            Preference::Resume => {
                st.marketing_stopped.remove(&key);
            }
        }
        let change =
            wire::user_preferences_change(&meta, &who, preference.as_str(), now.unix_timestamp());
        self.shared.emit(st, phone_number_id, &change, None);
        Ok(())
    }

    /// Emits any change as is (`field` and `value`), e.g. `phone_number_quality_update`,
    /// `account_update` or a field the product does not know.
    pub fn emit_change(
        &self,
        phone_number_id: &str,
        field: &str,
        value: serde_json::Value,
    ) -> Result<(), SimError> {
        let mut st = self.shared.lock();
        if !st.numbers.contains_key(phone_number_id) {
            return Err(SimError::UnknownNumber(phone_number_id.to_owned()));
        }
        let change = Node::obj().put("field", field).put("value", value);
        self.shared.emit(&mut st, phone_number_id, &change, None);
        Ok(())
    }

    /// Stores media as if uploaded through the Graph API (30 days); returns its id.
    pub fn upload_media(
        &self,
        phone_number_id: &str,
        mime_type: &str,
        data: &[u8],
    ) -> Result<String, SimError> {
        let now = self.shared.now();
        let mut st = self.shared.lock();
        if !st.numbers.contains_key(phone_number_id) {
            return Err(SimError::UnknownNumber(phone_number_id.to_owned()));
        }
        let id = graph::store_inbound_media(&mut st, phone_number_id, mime_type, data, now);
        if let Some(m) = st.media.get_mut(&id) {
            m.expires_at = now + time::Duration::days(crate::media::UPLOADED_LIFETIME_DAYS);
        }
        Ok(id)
    }

    /// `(mime type, bytes)` of media the simulator holds.
    pub fn media_bytes(&self, media_id: &str) -> Option<(String, Vec<u8>)> {
        self.shared
            .lock()
            .media
            .get(media_id)
            .map(|m| (m.mime_type.clone(), m.data.as_ref().clone()))
    }

    /// Runs a [`Script`] against a number: adds its customers, then sends every step.
    /// Returns the wamids in order.
    pub fn run_script(
        &self,
        phone_number_id: &str,
        script: &Script,
    ) -> Result<Vec<String>, SimError> {
        for u in script.customers() {
            self.add_user(u);
        }
        let customers = script.customers();
        script
            .steps()
            .into_iter()
            .map(|s| {
                let user = customers
                    .get(s.customer)
                    .map(|u| u.user_id.clone())
                    .unwrap_or_default();
                self.customer_sends_message(&user, phone_number_id, s.message)
            })
            .collect()
    }

    /// Meta's verification handshake against the number's callback, with its verify token.
    pub async fn verify_callback(&self, phone_number_id: &str) -> Result<bool, SimError> {
        let (url, token, challenge) = {
            let mut st = self.shared.lock();
            let n = st
                .numbers
                .get(phone_number_id)
                .ok_or_else(|| SimError::UnknownNumber(phone_number_id.to_owned()))?;
            let url = n
                .config
                .callback_url
                .clone()
                .ok_or_else(|| SimError::NoCallback(phone_number_id.to_owned()))?;
            let token = n.config.verify_token.clone().unwrap_or_default();
            (url, token, st.rng.digits(10))
        };
        webhooks::verify(&self.shared, &url, &token, &challenge)
            .await
            .map_err(|e| SimError::Http(e.to_string()))
    }

    // ----- inspection -----

    /// Sends the Graph API answered 200 (including those that then failed by webhook).
    pub fn sent_messages(&self) -> Vec<OutboundRecord> {
        self.shared.lock().outbound.clone()
    }

    /// Requests the Graph API refused, with their codes.
    pub fn rejected_requests(&self) -> Vec<RejectedRequest> {
        self.shared.lock().rejected.clone()
    }

    pub fn inbound_messages(&self) -> Vec<InboundRecord> {
        self.shared.lock().inbound.clone()
    }

    pub fn read_receipts(&self) -> Vec<ReadReceipt> {
        self.shared.lock().reads.clone()
    }

    /// Every webhook change generated, in order (also for numbers without a callback).
    pub fn webhook_events(&self) -> Vec<WebhookEvent> {
        self.shared.lock().events.clone()
    }

    /// Every delivery (POSTed body) with its attempts and outcome.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.lock().deliveries.clone()
    }

    /// Changes queued plus deliveries not yet acknowledged or dropped.
    pub fn pending_deliveries(&self) -> usize {
        self.shared.lock().outbox.outstanding
    }

    /// Waits until every queued webhook was acknowledged (or dropped).
    pub async fn wait_idle(&self) {
        let mut rx = self.shared.idle.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}
