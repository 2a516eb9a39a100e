//! Configuring the simulator while it runs: phone numbers (callback, window mode, throughput,
//! token), users, and templates with their status webhooks.

use confide_core::clock::to_micros;
use time::OffsetDateTime;

use super::SimHandle;
use crate::config::{NumberConfig, TemplateConfig, TemplateStatus, UserConfig, WindowMode};
use crate::error::SimError;
use crate::templates::Template;
use crate::wire;

impl SimHandle {
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
}
