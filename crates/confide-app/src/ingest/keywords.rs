//! Consent from what customers write: a text that is only an opt-out word (the built-in ones of
//! `confide_core::send_gate::keywords`, or the tenant's own per language, `crate::optout`) opts
//! the sender out of marketing, with the message as evidence, and — when that is a change —
//! queues at most one confirmation. Meta's own signals (`user_preferences`, error 131050) are
//! recorded in `apply.rs` and `statuses.rs`.
//!
//! The confirmation is an ordinary send: decided by the send gate (path `automation`, a
//! free-form `service` message inside the window the keyword itself opened — the opt-out is of
//! marketing, so the gate allows it) and queued in the outbox with an idempotency key of the
//! keyword's wamid, so a redelivered webhook queues nothing more. A contact who was already opted
//! out of marketing gets none: a second STOP is recorded as evidence and answered with silence.

use crate::outbound::send::{SendInput, audit_refusal, enqueue, gate};
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::{ContactId, ConversationId};
use confide_core::permissions::Permission;
use confide_core::send_gate::{
    ConsentLedger, ConsentStatus, Content, MessagingLimit, Purpose, SendPath,
};
use confide_store::consent::NewConsent;
use confide_store::outbox::Enqueued;
use confide_store::{Scope, StoreError};
use confide_whatsapp::webhook::{Message, MessageContent};
use serde_json::json;
use std::collections::BTreeSet;

/// A text that is only an opt-out word ("STOP", "BAJA", a tenant's own…) opts the sender out of
/// marketing, with the message as evidence (sealed), once per message; audited. Returns how many
/// consent events it recorded.
pub(super) async fn opt_out_by_keyword(
    scope: &mut Scope<'_>,
    contact: ContactId,
    conversation: ConversationId,
    m: &Message,
) -> Result<u64, StoreError> {
    let MessageContent::Text { body, .. } = &m.content else {
        return Ok(0);
    };
    // Keywords are short: longer texts are not looked at (nor the settings read for them).
    if body.len() > 64 {
        return Ok(0);
    }
    let settings = crate::optout::cached(scope).await?;
    let Some((word, language)) = settings.matches(body) else {
        return Ok(0);
    };
    let already_out = {
        let rows = scope.consent_rows(contact).await?;
        ConsentLedger::from_rows(
            rows.iter()
                .map(|(purpose, status, at)| (purpose.as_str(), status.as_str(), *at)),
        )
        .map(|l| l.status(Purpose::Marketing) == Some(ConsentStatus::OptedOut))
        .unwrap_or(false)
    };
    let key = format!("wa-keyword|{}", m.id);
    let at = m.timestamp.saturating_mul(1_000_000);
    let consent = NewConsent {
        purpose: "marketing".to_string(),
        status: "opted_out".to_string(),
        source: "whatsapp_keyword".to_string(),
        evidence: Some(format!("The customer wrote {body:?} ({word}).")),
        actor: Actor::Meta.to_string(),
        at_micros: at,
        dedupe_key: Some(scope.blind_index("consent-dedupe", key.as_bytes())),
    };
    if scope.consent().append(contact, consent).await?.is_none() {
        return Ok(0);
    }
    let event = AuditEvent::new(
        Actor::Meta,
        "consent.opted_out",
        format!("contact:{contact}"),
    )
    .with_details(json!({"purpose": "marketing", "source": "whatsapp_keyword"}));
    scope.audit(&event).await?;
    if settings.confirm && !already_out {
        confirm(
            scope,
            conversation,
            &m.id,
            at,
            settings.confirmation(&language),
        )
        .await?;
    }
    Ok(1)
}

/// Queues the one confirmation of an opt-out, through the gate and the outbox.
async fn confirm(
    scope: &mut Scope<'_>,
    conversation: ConversationId,
    wamid: &str,
    wrote_at: i64,
    text: String,
) -> Result<(), StoreError> {
    let mut c = scope.inbox().conversation(conversation).await?;
    // The keyword opened the window (the round moves the conversation's times after this).
    c.last_inbound_at = Some(c.last_inbound_at.unwrap_or(wrote_at).max(wrote_at));
    let input = SendInput::Text { text };
    let permissions = BTreeSet::from([Permission::InboxReply]);
    let now = scope.now();
    let path = SendPath::Automation;
    let decision = gate(
        scope,
        &c,
        path,
        Content::Text,
        &permissions,
        MessagingLimit::Unlimited,
        now,
    )
    .await?;
    let permit = match decision {
        Ok(p) => p,
        Err(refusal) => {
            audit_refusal(scope, Actor::System, conversation, path, &refusal, None).await?;
            return Ok(());
        }
    };
    let key = format!("opt-out-confirmation|{wamid}");
    match enqueue(scope, &permit, &input, None, Some(&key), None).await {
        Ok(Enqueued::New(message)) => {
            let event = AuditEvent::new(
                Actor::System,
                "message.queued",
                format!("message:{}", message.id),
            )
            .with_details(json!({
                "conversation": conversation.to_string(),
                "path": path.as_str(),
                "kind": message.kind,
                "purpose": permit.purpose().as_str(),
                "reason": "opt_out_confirmation",
            }));
            scope.audit(&event).await?;
        }
        Ok(Enqueued::Replayed(_)) => {}
        Err(e) => {
            tracing::error!(error = %e.message, "the opt-out confirmation could not be queued");
        }
    }
    Ok(())
}
