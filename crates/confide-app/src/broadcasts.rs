//! Broadcasts: one approved template to an audience (a label, or a list of contacts) on a
//! channel. Every recipient passes the send gate on its own: those it refuses for consent are
//! counted `refused_no_consent` (and audited) and never sent; the others are queued in the
//! outbox behind conversation replies. A broadcast can be paused, resumed and cancelled, and
//! survives a restart (its state is the outbox's).

pub mod audience;

use crate::error::{AppError, Code};
use crate::outbound::send::{SendInput, audit_refusal, enqueue, gate};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::ids::{BroadcastId, ChannelId, ContactId};
use confide_core::permissions::Permission;
use confide_core::send_gate::{Refusal, SendPath};
use confide_store::broadcasts::NewBroadcast;
use confide_store::{Scope, StoreError};
use serde_json::{Value, json};

pub use confide_store::broadcasts::Broadcast;

/// The most recipients one broadcast takes.
pub const MAX_RECIPIENTS: usize = 100_000;

/// Who a broadcast goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    Label(String),
    Contacts(Vec<ContactId>),
}

fn invalid(code: Code, message: impl Into<std::borrow::Cow<'static, str>>) -> AppError {
    AppError::new(code, message)
}

fn text_field(body: &Value, key: &str) -> Option<String> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn audience_of(body: &Value) -> Result<Audience, AppError> {
    let a = body.get("audience").ok_or_else(|| {
        invalid(
            Code::InvalidBroadcast,
            "A broadcast needs an \"audience\": {\"label\": ...} or {\"contact_ids\": [...]}.",
        )
    })?;
    if let Some(label) = text_field(a, "label") {
        return Ok(Audience::Label(label));
    }
    if let Some(ids) = a.get("contact_ids").and_then(Value::as_array) {
        let ids = ids
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| invalid(Code::InvalidContact, "A contact id is not valid."))
            })
            .collect::<Result<Vec<ContactId>, _>>()?;
        if ids.is_empty() || ids.len() > MAX_RECIPIENTS {
            return Err(invalid(
                Code::InvalidBroadcast,
                "contact_ids lists 1 to 100,000 contacts.",
            ));
        }
        return Ok(Audience::Contacts(ids));
    }
    Err(invalid(
        Code::InvalidBroadcast,
        "The audience is {\"label\": ...} or {\"contact_ids\": [...]}.",
    ))
}

/// A broadcast as its body asks for it.
pub(crate) struct Request {
    pub channel: ChannelId,
    pub input: SendInput,
    pub purpose: String,
    pub audience: Audience,
}

/// Reads `{"channel_id","template","language","params","audience","purpose"}`.
pub(crate) fn request_of(body: &Value) -> Result<Request, AppError> {
    let channel: ChannelId = text_field(body, "channel_id")
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            invalid(
                Code::InvalidChannel,
                "channel_id names no channel of this account.",
            )
        })?;
    let input = SendInput::from_json(&json!({
        "type": "template",
        "template": body.get("template"),
        "language": body.get("language"),
        "params": body.get("params"),
        "header": body.get("header"),
        "buttons": body.get("buttons"),
    }))?;
    let purpose = text_field(body, "purpose").unwrap_or_else(|| "marketing".into());
    if !["marketing", "utility"].contains(&purpose.as_str()) {
        return Err(invalid(
            Code::InvalidPurpose,
            "A broadcast's purpose is marketing or utility.",
        ));
    }
    let audience = audience_of(body)?;
    Ok(Request {
        channel,
        input,
        purpose,
        audience,
    })
}

/// The tenant's channel `channel` (422 `invalid_channel` for any other id).
pub(crate) async fn known_channel(
    s: &mut Scope<'_>,
    channel: ChannelId,
) -> Result<confide_store::channels::Channel, AppError> {
    match s.get_channel(channel).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound) => Err(invalid(
            Code::InvalidChannel,
            "channel_id names no channel of this account.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// The contacts an audience names (all of the tenant's; at most [`MAX_RECIPIENTS`]).
pub(crate) async fn recipients_of(
    s: &mut Scope<'_>,
    audience: &Audience,
) -> Result<Vec<ContactId>, AppError> {
    Ok(match audience {
        Audience::Contacts(ids) => {
            for id in ids {
                match s.contacts().get(*id).await {
                    Ok(_) => {}
                    Err(StoreError::NotFound) => {
                        return Err(invalid(
                            Code::InvalidContact,
                            "A contact id names no contact of this account.",
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            ids.clone()
        }
        Audience::Label(label) => {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = s.contacts().list(Some(label), after, 200).await?;
                all.extend(page.items.iter().map(|c| c.id));
                if all.len() > MAX_RECIPIENTS {
                    return Err(invalid(
                        Code::InvalidBroadcast,
                        "The label has more than 100,000 contacts.",
                    ));
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            all
        }
    })
}

fn broadcast_id(id: &str) -> Result<BroadcastId, AppError> {
    id.parse().map_err(|_| AppError::not_found())
}

impl App {
    /// Creates and queues a broadcast: `{"channel_id","template","language","params",
    /// "audience":{"label"|"contact_ids"},"purpose"}`. A template, parameter or channel problem
    /// refuses the whole broadcast (nothing is queued); consent is decided per recipient.
    pub async fn create_broadcast(
        &self,
        p: &Principal,
        body: &Value,
    ) -> Result<Broadcast, AppError> {
        p.require(Permission::BroadcastsSend)?;
        let Request {
            channel,
            input,
            purpose,
            audience,
        } = request_of(body)?;
        let SendInput::Template {
            name,
            language,
            args,
        } = &input
        else {
            return Err(AppError::internal());
        };
        // The record keeps the body's values (positional, or named in the order given).
        let params: Vec<String> = if args.named.is_empty() {
            args.positional.clone()
        } else {
            args.named.iter().map(|(_, v)| v.clone()).collect()
        };
        let now = self.clock.now_micros();
        let mut s = self.store.scope(p.tenant).await?;
        known_channel(&mut s, channel).await?;
        // The parameters' names, header and buttons against the synced template (the count is
        // the gate's, per recipient).
        crate::outbound::send::check_template_args(&mut s, channel, &input).await??;
        let recipients = recipients_of(&mut s, &audience).await?;
        let id = s.broadcasts().new_id();
        let (mut refused_no_consent, mut refused_other) = (0i64, 0i64);
        for contact in &recipients {
            let (conversation, _) = s.inbox().start(*contact, channel, p.actor()).await?;
            let decision = gate(
                &mut s,
                &conversation,
                SendPath::Broadcast,
                input.content(),
                &p.permissions,
                self.config.outbound.default_messaging_limit(),
                now,
            )
            .await?;
            match decision {
                Ok(permit) => {
                    enqueue(&mut s, &permit, &input, None, None, Some(id)).await?;
                }
                Err(refusal) => {
                    match refusal {
                        Refusal::NoConsent { .. } => refused_no_consent += 1,
                        Refusal::OutsideWindow { .. } | Refusal::MessagingLimit { .. } => {
                            refused_other += 1
                        }
                        // The same for every recipient: the broadcast as a whole is refused.
                        other => {
                            return Err(crate::outbound::send::refusal_error(&other));
                        }
                    }
                    audit_refusal(
                        &mut s,
                        p.actor(),
                        conversation.id,
                        SendPath::Broadcast,
                        &refusal,
                        None,
                    )
                    .await?;
                }
            }
        }
        let recipients_n = i64::try_from(recipients.len()).unwrap_or(i64::MAX);
        let audience_json = match &audience {
            Audience::Label(l) => json!({"label": l}),
            Audience::Contacts(ids) => {
                json!({"contact_ids": ids.iter().map(|c| c.to_string()).collect::<Vec<_>>()})
            }
        };
        s.broadcasts()
            .create(
                id,
                &NewBroadcast {
                    channel,
                    template: name.clone(),
                    language: language.clone(),
                    params: params.clone(),
                    purpose: purpose.clone(),
                    audience: audience_json,
                    recipients: recipients_n,
                    refused_no_consent,
                    refused_other,
                    created_by: p.actor().to_string(),
                },
            )
            .await?;
        s.audit(
            &AuditEvent::new(p.actor(), "broadcast.created", format!("broadcast:{id}"))
                .with_details(json!({
                    "channel": channel.to_string(),
                    "template": name,
                    "language": language,
                    "purpose": purpose,
                    "recipients": recipients_n,
                    "refused_no_consent": refused_no_consent,
                    "refused_other": refused_other,
                })),
        )
        .await?;
        let created = s.broadcasts().get(id).await?;
        s.commit().await?;
        self.outbox_wake.notify_one();
        Ok(created)
    }

    /// The tenant's broadcasts, newest first, with their counts.
    pub async fn list_broadcasts(&self, p: &Principal) -> Result<Vec<Broadcast>, AppError> {
        p.require(Permission::InboxRead)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let list = s.broadcasts().list().await?;
        s.commit().await?;
        Ok(list)
    }

    /// One broadcast with its counts.
    pub async fn get_broadcast(&self, p: &Principal, id: &str) -> Result<Broadcast, AppError> {
        p.require(Permission::InboxRead)?;
        let id = broadcast_id(id)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let b = s.broadcasts().get(id).await?;
        s.commit().await?;
        Ok(b)
    }

    /// `pause`, `resume` or `cancel` a broadcast; 409 when its state does not allow it (a
    /// cancelled broadcast stays cancelled). Audited.
    pub async fn change_broadcast(
        &self,
        p: &Principal,
        id: &str,
        action: &str,
    ) -> Result<Broadcast, AppError> {
        p.require(Permission::BroadcastsSend)?;
        let id = broadcast_id(id)?;
        let state = match action {
            "pause" => "paused",
            "resume" => "running",
            "cancel" => "cancelled",
            _ => return Err(AppError::not_found()),
        };
        let mut s = self.store.scope(p.tenant).await?;
        let moved = s
            .broadcasts()
            .set_state(
                id,
                state,
                "The broadcast was cancelled before this message was sent.",
            )
            .await?;
        if !moved {
            return Err(AppError::new(
                Code::Conflict,
                format!("The broadcast cannot be {state} from its current state."),
            ));
        }
        s.audit(&AuditEvent::new(
            p.actor(),
            format!("broadcast.{action}"),
            format!("broadcast:{id}"),
        ))
        .await?;
        let b = s.broadcasts().get(id).await?;
        s.commit().await?;
        if state == "running" {
            self.outbox_wake.notify_one();
        }
        Ok(b)
    }
}
