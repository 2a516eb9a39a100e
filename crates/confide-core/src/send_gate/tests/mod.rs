//! Tests of the send gate, by topic. This module holds what they share: the clock (`NOW`,
//! `HOUR`), a template and a consent ledger to start from, and [`World`], every fact a send needs
//! set to "allowed" unless a test changes it.

mod consent;
mod decision;
mod limits;
mod oracle;
mod permission_and_channel;
mod templates;
mod window;

use super::*;
use crate::permissions::BuiltinRole;
use uuid::Uuid;

const HOUR: i64 = 3_600_000_000;
/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000_000;

const ORDER_UPDATE: Content<'static> = Content::Template {
    name: "order_update",
    language: "en_US",
    params: 2,
};

const FREE_FORM: [Content<'static>; 4] = [
    Content::Text,
    Content::Media,
    Content::Interactive,
    Content::Reaction,
];

use ConsentStatus::{OptedIn, OptedOut};
use Purpose::{Marketing, Service, Utility};

fn template(category: TemplateCategory, status: TemplateStatus) -> Template {
    Template {
        name: "order_update".into(),
        language: "en_US".into(),
        category,
        status,
        param_count: 2,
    }
}

fn ledger(events: &[(Purpose, ConsentStatus, i64)]) -> ConsentLedger {
    events
        .iter()
        .map(|&(purpose, status, at)| ConsentEvent {
            purpose,
            status,
            at,
        })
        .collect()
}

/// Everything a send needs, set to "allowed" unless a test changes it.
struct World {
    permissions: BTreeSet<Permission>,
    channel: ChannelHealth,
    template: Option<Template>,
    consent: ConsentLedger,
    last_inbound_at: Option<i64>,
    reach: Reach,
}

impl World {
    /// An owner, an active channel, an approved utility template, opted in to everything, and a
    /// customer who wrote an hour ago.
    fn allowed() -> World {
        World {
            permissions: BuiltinRole::Owner.permissions(),
            channel: ChannelHealth::Active,
            template: Some(template(
                TemplateCategory::Utility,
                TemplateStatus::Approved,
            )),
            consent: ledger(&[
                (Marketing, OptedIn, NOW - 10 * HOUR),
                (Utility, OptedIn, NOW - 10 * HOUR),
                (Service, OptedIn, NOW - 10 * HOUR),
            ]),
            last_inbound_at: Some(NOW - HOUR),
            reach: Reach::UNLIMITED,
        }
    }

    fn decide_as(&self, path: SendPath, content: Content<'_>, now: i64) -> Result<Permit, Refusal> {
        let request = SendRequest {
            tenant: TenantId::from_uuid(Uuid::from_u128(1)),
            channel: ChannelId::from_uuid(Uuid::from_u128(2)),
            contact: ContactId::from_uuid(Uuid::from_u128(3)),
            conversation: Some(ConversationId::from_uuid(Uuid::from_u128(4))),
            path,
            content,
        };
        let facts = SendFacts {
            permissions: &self.permissions,
            channel: self.channel,
            template: self.template.as_ref(),
            consent: &self.consent,
            last_inbound_at: self.last_inbound_at,
            reach: self.reach,
        };
        decide(&request, &facts, now)
    }

    fn decide(&self, content: Content<'_>) -> Result<Permit, Refusal> {
        self.decide_as(SendPath::AgentReply, content, NOW)
    }

    /// The refusal code, or `"permit"`.
    fn code(&self, content: Content<'_>) -> &'static str {
        outcome(&self.decide(content))
    }
}

fn outcome(r: &Result<Permit, Refusal>) -> &'static str {
    match r {
        Ok(_) => "permit",
        Err(refusal) => refusal.code(),
    }
}
