//! A broadcast's audience size after consent, before it is started: how many of the contacts
//! the audience names the send gate would let through now, and how many it would refuse for
//! consent (or for the 24-hour window). The same request as `create_broadcast`, read the same
//! way, and the same decision ([`confide_core::send_gate::decide`]) with the same facts per
//! recipient (the channel's health, the template, the contact's consent ledger, the open
//! conversation's last inbound message); nothing is written (no conversation is opened).

use super::{Request, known_channel, recipients_of, request_of};
use crate::error::AppError;
use crate::outbound::send::{SendInput, refusal_error};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::permissions::Permission;
use confide_core::send_gate::{ConsentLedger, Refusal, SendFacts, SendPath, SendRequest, decide};
use confide_store::StoreError;
use confide_store::inbox::{ConversationFilter, ConversationStatus};
use serde_json::Value;

/// What starting a broadcast now would do with its audience.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudienceSize {
    /// Contacts the audience names.
    pub recipients: u64,
    /// Those the gate lets through: the messages that would be queued.
    pub permitted: u64,
    /// Refused for consent (opted out, or no opt-in for the template's category).
    pub refused_no_consent: u64,
    /// Refused for another reason of their own (a utility template outside the window without
    /// an opt-in).
    pub refused_other: u64,
}

impl App {
    /// The audience size after consent of the broadcast `body` describes (the body of
    /// `create_broadcast`), decided now; a problem that would refuse the whole broadcast (the
    /// channel, the template, its parameters) is the same error as starting it would give.
    pub async fn broadcast_audience(
        &self,
        p: &Principal,
        body: &Value,
    ) -> Result<AudienceSize, AppError> {
        p.require(Permission::BroadcastsSend)?;
        let Request {
            channel,
            input,
            audience,
            ..
        } = request_of(body)?;
        let SendInput::Template { name, language, .. } = &input else {
            return Err(AppError::internal());
        };
        let now = self.clock.now_micros();
        let mut s = self.store.read_scope(p.tenant).await?;
        let health = known_channel(&mut s, channel).await?.gate_health();
        let template = s
            .templates()
            .find(channel, name, language)
            .await?
            .as_ref()
            .and_then(crate::templates::gate_template);
        let recipients = recipients_of(&mut s, &audience).await?;
        let mut size = AudienceSize {
            recipients: recipients.len() as u64,
            ..AudienceSize::default()
        };
        for contact in recipients {
            // The conversation the broadcast would use: the open one on this channel, if any.
            let open = s
                .inbox()
                .conversations(
                    ConversationFilter {
                        status: Some(ConversationStatus::Open),
                        contact: Some(contact),
                        ..ConversationFilter::default()
                    },
                    None,
                    50,
                )
                .await?
                .items
                .into_iter()
                .find(|c| c.channel_id == channel);
            let rows = s.consent_rows(contact).await?;
            let ledger = ConsentLedger::from_rows(
                rows.iter()
                    .map(|(purpose, status, at)| (purpose.as_str(), status.as_str(), *at)),
            )
            .map_err(|e| StoreError::Corrupt(format!("consent ledger: {e}")))?;
            let request = SendRequest {
                tenant: p.tenant,
                channel,
                contact,
                conversation: open.as_ref().map(|c| c.id),
                path: SendPath::Broadcast,
                content: input.content(),
            };
            let facts = SendFacts {
                permissions: &p.permissions,
                channel: health,
                template: template.as_ref(),
                consent: &ledger,
                last_inbound_at: open.as_ref().and_then(|c| c.last_inbound_at),
                // The audience is sized by consent; the messaging-limit tier is applied per send
                // (a broadcast counts those refusals `refused_other`), as it depends on the order
                // in which recipients are reached.
                reach: confide_core::send_gate::Reach::UNLIMITED,
            };
            match decide(&request, &facts, now) {
                Ok(_) => size.permitted += 1,
                Err(Refusal::NoConsent { .. }) => size.refused_no_consent += 1,
                Err(Refusal::OutsideWindow { .. }) => size.refused_other += 1,
                // The same for every recipient: starting it would refuse the whole broadcast.
                Err(other) => return Err(refusal_error(&other)),
            }
        }
        s.commit().await?;
        Ok(size)
    }
}
