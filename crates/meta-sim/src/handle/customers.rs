//! Scripted customers: inbound messages of any kind, number changes, marketing preferences,
//! arbitrary changes, uploaded media, whole [`Script`]s, and Meta's verification handshake.

use super::SimHandle;
use crate::error::SimError;
use crate::inbound::InboundMessage;
use crate::records::InboundRecord;
use crate::script::Script;
use crate::wire::{self, InboundWire, Node};
use crate::{graph, ids, webhooks};

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

impl SimHandle {
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
}
