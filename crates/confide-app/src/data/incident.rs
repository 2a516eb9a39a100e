//! Incident response (GDPR Art. 33/34, claim C31), the local operator's commands:
//! `confide incident revoke` ends every session and API key of a tenant at once and marks its
//! channels' secrets for rotation; `confide incident report` lists what the audit log says was
//! read, exported, sent or changed in a time range, by whom, and which contacts it touched, for a
//! notification within 72 hours. See `docs/runbook/incident.md`.

use crate::error::AppError;
use confide_core::audit::Actor;
use confide_core::ids::TenantId;
use confide_store::Store;
use confide_store::incident::Revoked;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Ends every way into the tenant (sessions, support sessions and grants, API keys) and marks
/// every channel's secrets for rotation, audited as `incident.revoked`.
pub async fn revoke(store: &Store, tenant: TenantId) -> Result<Revoked, AppError> {
    Ok(store.revoke_tenant_access(tenant, Actor::Cli).await?)
}

/// One audit entry as the report shows it (ids, actions and codes: never personal data).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportEvent {
    pub seq: i64,
    /// RFC 3339.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
}

/// What the audit log says happened in `[since, until)`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IncidentReport {
    pub tenant_id: String,
    pub since: String,
    pub until: String,
    /// Actions and how often each was taken.
    pub actions: BTreeMap<String, u64>,
    /// Per actor (`user:…`, `api_key:…`, `cli`, `meta`, `system`), their actions and counts.
    pub actors: BTreeMap<String, BTreeMap<String, u64>>,
    /// Contacts an entry names, directly or through one of their conversations (ids).
    pub contacts_affected: Vec<String>,
    /// Whether the whole contact book left (a contact book or full tenant export): then every
    /// contact is affected.
    pub contact_book_exported: bool,
    pub events: Vec<ReportEvent>,
}

fn rfc3339(micros: i64) -> String {
    confide_core::clock::from_micros(micros)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The report of `[since, until)` (Unix micros) from the tenant's audit log.
pub async fn report(
    store: &Store,
    tenant: TenantId,
    since: i64,
    until: i64,
) -> Result<IncidentReport, AppError> {
    let entries = store.audit_range(tenant, since, until).await?;
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let mut actors: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut contacts = BTreeSet::new();
    let mut conversations = BTreeSet::new();
    let mut events = Vec::with_capacity(entries.len());
    // A full export of the tenant (`export.requested` with scope `tenant`) takes the whole
    // contact book too.
    let mut book_exported = false;
    for e in &entries {
        if e.action == "contacts.exported"
            || (e.action == "export.requested"
                && serde_json::from_str::<serde_json::Value>(&e.details)
                    .is_ok_and(|d| d["scope"] == "tenant"))
        {
            book_exported = true;
        }
        *actions.entry(e.action.clone()).or_default() += 1;
        *actors
            .entry(e.actor.clone())
            .or_default()
            .entry(e.action.clone())
            .or_default() += 1;
        if let Some(c) = e.target.strip_prefix("contact:") {
            contacts.insert(c.to_string());
        }
        if let Some(c) = e.target.strip_prefix("conversation:") {
            conversations.insert(c.to_string());
        }
        events.push(ReportEvent {
            seq: e.seq,
            at: rfc3339(e.at_micros),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            request_id: e.request_id.clone(),
            details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
        });
    }
    let conversations: Vec<String> = conversations.into_iter().collect();
    for contact in store
        .conversation_contacts(tenant, &conversations)
        .await?
        .into_values()
    {
        contacts.insert(contact);
    }
    Ok(IncidentReport {
        tenant_id: tenant.to_string(),
        since: rfc3339(since),
        until: rfc3339(until),
        contact_book_exported: book_exported,
        actions,
        actors,
        contacts_affected: contacts.into_iter().collect(),
        events,
    })
}
