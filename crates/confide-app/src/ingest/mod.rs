//! Meta's webhook deliveries, from the raw bytes to durable rows.
//!
//! A delivery is checked in this order, and nothing is parsed or stored before the signature
//! holds: channel exists → HMAC-SHA256 of the raw bytes with the channel's app secret (or the
//! next one during rotation), in constant time (else `bad_signature`) → parse (one bad change is
//! skipped, not fatal) → every change's `phone_number_id` must be this channel's (else that change
//! is rejected and audited) → the group-commit [`writer`] stores it → success only after the
//! commit.
//!
//! - [`directory`]: channels by id with their secrets, cached briefly and invalidated on change.
//! - [`apply`]: what a delivery does to contacts, conversations, messages, statuses and consent.
//! - [`writer`]: the group-commit writer.

pub mod apply;
pub mod content;
pub mod directory;
mod keywords;
mod outcome;
mod statuses;
pub mod writer;

use crate::error::{AppError, Code};
use crate::runtime::App;
use apply::{Applied, Delivery};
use confide_core::ids::ChannelId;
use confide_whatsapp::signature::verify_signature;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

impl From<writer::WriteError> for AppError {
    fn from(e: writer::WriteError) -> AppError {
        match e {
            writer::WriteError::Busy => {
                AppError::new(Code::Busy, "Too many deliveries at once; retry shortly.")
            }
            writer::WriteError::Unavailable | writer::WriteError::Failed => AppError::unavailable(),
        }
    }
}

impl App {
    /// Meta's subscription handshake: the challenge to echo when the channel exists, the mode is
    /// `subscribe` and the verify token matches (compared in constant time); `None` otherwise.
    pub async fn verify_webhook_subscription(
        &self,
        channel: &str,
        mode: Option<&str>,
        verify_token: Option<&str>,
        challenge: Option<String>,
    ) -> Result<Option<String>, AppError> {
        let Ok(channel) = channel.parse::<ChannelId>() else {
            return Ok(None);
        };
        let Some(entry) = self.channels.get(&self.store, channel).await? else {
            return Ok(None);
        };
        let (Some(mode), Some(challenge), Some(token)) = (mode, challenge, verify_token) else {
            return Ok(None);
        };
        let expected = entry.verify_token.expose_secret().as_bytes();
        let matches: bool = token.as_bytes().ct_eq(expected).into();
        if mode != "subscribe" || !matches || challenge.len() > 256 {
            tracing::warn!(%channel, "webhook verification refused");
            return Ok(None);
        }
        Ok(Some(challenge))
    }

    /// A signed delivery to the channel's webhook URL: verified, parsed and stored; `Ok` only
    /// once it is durable. An unknown channel is `not_found`.
    pub async fn receive_webhook(
        &self,
        channel: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Applied, AppError> {
        let channel: ChannelId = channel.parse().map_err(|_| AppError::not_found())?;
        let entry = self
            .channels
            .get(&self.store, channel)
            .await?
            .ok_or_else(AppError::not_found)?;
        let mut secrets: Vec<&[u8]> = vec![entry.app_secret.expose_secret().as_bytes()];
        if let Some(next) = &entry.app_secret_next {
            secrets.push(next.expose_secret().as_bytes());
        }
        if let Err(e) = verify_signature(signature, body, &secrets) {
            self.metrics.webhook_rejected_signature();
            tracing::warn!(%channel, reason = %e, "webhook signature refused");
            return Err(AppError::new(
                Code::BadSignature,
                "The X-Hub-Signature-256 header does not match the body.",
            ));
        }
        // After an incident, until the owner replaces the app secret: a delivery signed with the
        // old (exposed) secret is still taken, so no customer message is lost, but it is a
        // security event (someone holding the secret could forge one). Signed with the next
        // secret of a rotation in progress, it is not.
        if entry.app_secret_compromised {
            let by_next = entry.app_secret_next.as_ref().is_some_and(|n| {
                verify_signature(signature, body, &[n.expose_secret().as_bytes()]).is_ok()
            });
            if !by_next {
                crate::metrics::security_event(
                    &self.metrics,
                    "webhook_signed_with_secret_due_for_rotation",
                    &entry.tenant.to_string(),
                    &format!("channel:{channel}"),
                );
            }
        }
        let batch = confide_whatsapp::parse_webhook(body).map_err(|e| {
            tracing::warn!(%channel, error = %e, "signed webhook with an unreadable envelope");
            AppError::new(
                Code::BadPayload,
                format!("The webhook body is not a WhatsApp delivery: {e}"),
            )
        })?;
        let applied = self
            .ingest
            .submit(Delivery::from_batch(entry, batch))
            .await?;
        self.metrics
            .webhook_applied(applied.messages, applied.statuses);
        Ok(applied)
    }
}
