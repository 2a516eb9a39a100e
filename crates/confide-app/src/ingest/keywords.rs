//! Consent from what customers write: a text that is only an opt-out word (see
//! `confide_core::send_gate::keywords`) opts the sender out of marketing. Meta's own signals
//! (`user_preferences`, error 131050) are recorded in `apply.rs` and `statuses.rs`.

use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::ContactId;
use confide_store::consent::NewConsent;
use confide_store::{Scope, StoreError};
use confide_whatsapp::webhook::{Message, MessageContent};
use serde_json::json;

/// A text that is only an opt-out word ("STOP", "BAJA", ...) opts the sender out of marketing,
/// with the message as evidence (sealed), once per message; audited.
pub(super) async fn opt_out_by_keyword(
    scope: &mut Scope<'_>,
    contact: ContactId,
    m: &Message,
) -> Result<u64, StoreError> {
    let MessageContent::Text { body, .. } = &m.content else {
        return Ok(0);
    };
    let Some(word) = confide_core::send_gate::keywords::opt_out_keyword(body, &[]) else {
        return Ok(0);
    };
    let key = format!("wa-keyword|{}", m.id);
    let consent = NewConsent {
        purpose: "marketing".to_string(),
        status: "opted_out".to_string(),
        source: "whatsapp_keyword".to_string(),
        evidence: Some(format!("The customer wrote {body:?} ({word}).")),
        actor: Actor::Meta.to_string(),
        at_micros: m.timestamp.saturating_mul(1_000_000),
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
    Ok(1)
}
