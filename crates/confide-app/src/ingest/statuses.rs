//! Delivery statuses of outbound messages, recorded together; a failure with Meta's 131050 ("the
//! user stopped marketing messages") is itself an opt-out, recorded in the consent ledger and
//! audited.

use super::content::{phone, status_details};
use super::outcome::Outcome;
use confide_core::audit::{Actor, AuditEvent};
use confide_store::charges::NewCharge;
use confide_store::consent::NewConsent;
use confide_store::ingest::StatusRow;
use confide_store::ingest::WaIdentity;
use confide_store::{Scope, StoreError};
use confide_whatsapp::errors::records_marketing_opt_out;
use confide_whatsapp::webhook::{MessagesValue, Status, StatusKind};
use serde_json::json;

/// Records statuses together; a failed one with 131050 records a marketing opt-out.
pub(super) async fn store_statuses(
    scope: &mut Scope<'_>,
    items: &[(&MessagesValue, &Status)],
) -> Result<Vec<Outcome>, StoreError> {
    let rows: Vec<StatusRow> = items
        .iter()
        .map(|(_, s)| StatusRow {
            wamid: s.id.clone(),
            status: s.status.as_str().to_string(),
            rank: i64::from(s.status.rank()),
            at_micros: s.timestamp.saturating_mul(1_000_000),
            details: Some(status_details(s).to_string()),
        })
        .collect();
    let recorded = scope.record_statuses(&rows).await?;
    record_charges(scope, items, &recorded).await?;
    let mut out = Vec::with_capacity(items.len());
    for ((v, s), fresh) in items.iter().zip(recorded) {
        if !fresh {
            out.push(Outcome::Duplicate);
            continue;
        }
        if s.status == StatusKind::Failed {
            // The reason the inbox shows: Meta's first error code, in plain words.
            let code = s.errors.iter().find_map(|e| e.code);
            let reason = match code {
                Some(c) => crate::outbound::reasons::meta_error(c),
                None => "WhatsApp reported the message as failed without a reason.".to_string(),
            };
            scope.outbox().failure_reason(&s.id, code, &reason).await?;
        }
        let consent = if s.status == StatusKind::Failed
            && s.errors
                .iter()
                .any(|e| e.code.is_some_and(records_marketing_opt_out))
        {
            marketing_stopped_by_error(scope, v, s).await?
        } else {
            0
        };
        out.push(Outcome::Status { consent });
    }
    Ok(out)
}

/// Error 131050 ("user stopped marketing messages") is an opt-out recorded by Meta.
async fn marketing_stopped_by_error(
    scope: &mut Scope<'_>,
    v: &MessagesValue,
    s: &Status,
) -> Result<u64, StoreError> {
    let profile = v
        .contacts
        .iter()
        .find(|c| c.user_id.is_some() && c.user_id == s.recipient_user_id);
    let who = WaIdentity {
        user_id: s.recipient_user_id.clone(),
        phone: phone(s.recipient_id.as_deref()),
        username: profile.and_then(|c| c.username.clone()),
        name: None,
    };
    if who.user_id.is_none() && who.phone.is_none() {
        return Ok(0);
    }
    let contact = scope.resolve_wa_contact(&who).await?;
    let key = format!("wa-131050|{}", s.id);
    let consent = NewConsent {
        purpose: "marketing".to_string(),
        status: "opted_out".to_string(),
        source: "whatsapp_delivery_error".to_string(),
        evidence: Some("131050: the user stopped marketing messages".to_string()),
        actor: Actor::Meta.to_string(),
        at_micros: s.timestamp.saturating_mul(1_000_000),
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
    .with_details(
        json!({"purpose": "marketing", "source": "whatsapp_delivery_error", "code": 131050}),
    );
    scope.audit(&event).await?;
    Ok(1)
}

/// The pricing of fresh statuses, once per message; the billable ones are listed in a
/// `charges.recorded` entry of the audit chain (ids, category and model only).
async fn record_charges(
    scope: &mut Scope<'_>,
    items: &[(&MessagesValue, &Status)],
    fresh: &[bool],
) -> Result<(), StoreError> {
    let charges: Vec<NewCharge> = items
        .iter()
        .zip(fresh)
        .filter(|(_, f)| **f)
        .filter_map(|((v, s), _)| {
            let p = s.pricing.as_ref()?;
            Some(NewCharge {
                wamid: s.id.clone(),
                phone_number_id: v.metadata.phone_number_id.clone(),
                category: p.category.clone().unwrap_or_else(|| "unknown".into()),
                pricing_model: p.pricing_model.clone(),
                pricing_type: p.pricing_type.clone(),
                billable: p.billable.unwrap_or(false),
                at_micros: s.timestamp.saturating_mul(1_000_000),
            })
        })
        .collect();
    if charges.is_empty() {
        return Ok(());
    }
    let new = scope.record_charges(&charges).await?;
    // One audit entry for the round's new billable charges, each listed (a chained entry per
    // charge would cost the ingest writer a statement per status).
    let charged: Vec<serde_json::Value> = charges
        .iter()
        .zip(new)
        .filter(|(c, n)| *n && c.billable)
        .map(|(c, _)| {
            json!({
                "wamid": c.wamid,
                "phone_number_id": c.phone_number_id,
                "category": c.category,
                "pricing_model": c.pricing_model,
                "type": c.pricing_type,
            })
        })
        .collect();
    if !charged.is_empty() {
        let event = AuditEvent::new(
            Actor::Meta,
            "charges.recorded",
            format!("tenant:{}", scope.tenant()),
        )
        .with_details(json!({ "charges": charged }));
        scope.audit(&event).await?;
    }
    Ok(())
}
