//! Answering a customer: the one send use case every entry point calls (JSON API, pages, and
//! later broadcasts and automations). The send gate decides first ([`gate`]); what it lets in is
//! queued in the outbox with the message (`queued`), and the [`super::dispatcher`] hands it to
//! Graph. Every refusal is audited with its code; nothing refused is stored as a message.

use super::template_args::TemplateArgs;
use crate::error::{AppError, Code};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::{ConversationId, MessageId};
use confide_core::permissions::Permission;
use confide_core::send_gate::{
    ConsentLedger, Content, MessagingLimit, Permit, Reach, Refusal, SendFacts, SendPath,
    SendRequest, WINDOW_MICROS, decide, window_open,
};
use confide_store::conversations::Message;
use confide_store::inbox::InboxConversation;
use confide_store::outbox::{Enqueued, NewOutbound, PRIORITY_BROADCAST, PRIORITY_REPLY};
use confide_store::{Scope, StoreError};
use serde_json::json;
use std::collections::BTreeSet;

/// WhatsApp's limit on a text message body.
pub const TEXT_MAX: usize = 4096;
/// The longest `Idempotency-Key` accepted.
pub const IDEMPOTENCY_KEY_MAX: usize = 200;

/// What to send, as the API's body gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendInput {
    Text {
        text: String,
    },
    /// An approved template by name and language, with its parameters (body positional or
    /// named, header, buttons).
    Template {
        name: String,
        language: String,
        args: TemplateArgs,
    },
    /// An uploaded file (`POST /api/v1/media`), with a caption for images, videos and documents.
    Media {
        media_id: String,
        caption: Option<String>,
    },
    /// Text with up to three reply buttons (`(id, title)`).
    Interactive {
        text: String,
        buttons: Vec<(String, String)>,
    },
    /// A reaction to a message of the conversation (an empty emoji removes ours). `target_wamid`
    /// is filled in from the target message before the send is queued.
    Reaction {
        message_id: String,
        emoji: String,
        target_wamid: Option<String>,
    },
}

/// A quoted reply: the message of the conversation it answers, and that message's wamid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub message_id: String,
    pub wamid: String,
}

/// How long after a message WhatsApp still takes a reaction to it.
const REACTION_MAX_AGE_MICROS: i64 = 30 * 24 * 3_600 * 1_000_000;

/// WhatsApp's limit on a media caption.
pub const CAPTION_MAX: usize = 1024;

impl SendInput {
    /// The `{"type": ...}` body of `POST /api/v1/conversations/{id}/messages`.
    pub fn from_json(body: &serde_json::Value) -> Result<SendInput, AppError> {
        let kind = body.get("type").and_then(|t| t.as_str()).unwrap_or("text");
        match kind {
            "text" => {
                let text = body
                    .get("text")
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| invalid("A text message needs \"text\"."))?;
                if text.trim().is_empty() {
                    return Err(invalid("The text is empty."));
                }
                if text.chars().count() > TEXT_MAX {
                    return Err(invalid(format!(
                        "The text is longer than WhatsApp's {TEXT_MAX} characters."
                    )));
                }
                Ok(SendInput::Text {
                    text: text.to_string(),
                })
            }
            "template" => {
                let field = |k: &str| {
                    body.get(k)
                        .and_then(|v| v.as_str())
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                };
                let name = field("template")
                    .ok_or_else(|| invalid("A template message needs \"template\" (its name)."))?;
                let language = field("language").ok_or_else(|| {
                    invalid("A template message needs \"language\" (e.g. en_US).")
                })?;
                Ok(SendInput::Template {
                    name,
                    language,
                    args: TemplateArgs::from_json(body)?,
                })
            }
            "media" => {
                let media_id = body
                    .get("media_id")
                    .and_then(|v| v.as_str())
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        invalid("A media message needs \"media_id\" (from POST /api/v1/media).")
                    })?;
                let caption = match body.get("caption") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(c)) if c.trim().is_empty() => None,
                    Some(serde_json::Value::String(c)) => {
                        if c.chars().count() > CAPTION_MAX {
                            return Err(invalid(format!(
                                "The caption is longer than WhatsApp's {CAPTION_MAX} characters."
                            )));
                        }
                        Some(c.clone())
                    }
                    Some(_) => return Err(invalid("\"caption\" is text.")),
                };
                Ok(SendInput::Media {
                    media_id: media_id.to_string(),
                    caption,
                })
            }
            "interactive" => {
                let text = body
                    .get("text")
                    .and_then(|t| t.as_str())
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| invalid("An interactive message needs \"text\"."))?;
                if text.chars().count() > 1024 {
                    return Err(invalid(
                        "An interactive message's text is at most 1,024 characters.",
                    ));
                }
                let buttons = body
                    .get("buttons")
                    .and_then(|b| b.as_array())
                    .ok_or_else(|| invalid("An interactive message needs \"buttons\": 1 to 3 of {\"id\",\"title\"}."))?
                    .iter()
                    .map(|b| {
                        let id = b.get("id").and_then(|v| v.as_str()).map(str::trim).unwrap_or_default();
                        let title = b.get("title").and_then(|v| v.as_str()).map(str::trim).unwrap_or_default();
                        if id.is_empty() || id.len() > 256 || title.is_empty() || title.chars().count() > 20 {
                            return Err(invalid("A button has an id (at most 256 characters) and a title (at most 20)."));
                        }
                        Ok((id.to_string(), title.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let distinct: BTreeSet<&str> = buttons.iter().map(|(id, _)| id.as_str()).collect();
                if buttons.is_empty() || buttons.len() > 3 || distinct.len() != buttons.len() {
                    return Err(invalid(
                        "An interactive message has 1 to 3 buttons with different ids.",
                    ));
                }
                Ok(SendInput::Interactive {
                    text: text.to_string(),
                    buttons,
                })
            }
            "reaction" => {
                let message_id = body
                    .get("message_id")
                    .and_then(|v| v.as_str())
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        invalid("A reaction needs \"message_id\" (the message reacted to).")
                    })?;
                let emoji = match body.get("emoji") {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(e)) if e.chars().count() <= 8 => e.clone(),
                    Some(_) => {
                        return Err(invalid(
                            "\"emoji\" is one emoji (empty removes the reaction).",
                        ));
                    }
                };
                Ok(SendInput::Reaction {
                    message_id: message_id.to_string(),
                    emoji,
                    target_wamid: None,
                })
            }
            other => Err(invalid(format!(
                "{other:?} is not a message type (text, template, media)."
            ))),
        }
    }

    pub(crate) fn content(&self) -> Content<'_> {
        match self {
            SendInput::Text { .. } => Content::Text,
            SendInput::Media { .. } => Content::Media,
            SendInput::Interactive { .. } => Content::Interactive,
            SendInput::Reaction { .. } => Content::Reaction,
            SendInput::Template {
                name,
                language,
                args,
            } => Content::Template {
                name,
                language,
                params: args.body_count(),
            },
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            SendInput::Text { .. } => "text",
            SendInput::Template { .. } => "template",
            SendInput::Media { .. } => "media",
            SendInput::Interactive { .. } => "interactive",
            SendInput::Reaction { .. } => "reaction",
        }
    }

    fn body(&self) -> serde_json::Value {
        match self {
            SendInput::Text { text } => json!({ "text": text }),
            SendInput::Media { media_id, caption } => {
                json!({ "media_id": media_id, "caption": caption })
            }
            SendInput::Interactive { text, buttons } => json!({
                "text": text,
                "buttons": buttons.iter().map(|(id, title)| json!({"id": id, "title": title})).collect::<Vec<_>>(),
            }),
            SendInput::Reaction {
                message_id,
                emoji,
                target_wamid,
            } => json!({ "message_id": message_id, "emoji": emoji, "target_wamid": target_wamid }),
            SendInput::Template {
                name,
                language,
                args,
            } => {
                let mut body = json!({ "template": name, "language": language });
                args.to_stored(&mut body);
                body
            }
        }
    }

    /// The queued message's content, as the dispatcher reads it back.
    pub(crate) fn from_stored(kind: &str, body: &serde_json::Value) -> Option<SendInput> {
        match kind {
            "text" => Some(SendInput::Text {
                text: body["text"].as_str()?.to_string(),
            }),
            "interactive" => Some(SendInput::Interactive {
                text: body["text"].as_str()?.to_string(),
                buttons: body["buttons"]
                    .as_array()?
                    .iter()
                    .map(|b| {
                        Some((
                            b["id"].as_str()?.to_string(),
                            b["title"].as_str()?.to_string(),
                        ))
                    })
                    .collect::<Option<_>>()?,
            }),
            "reaction" => Some(SendInput::Reaction {
                message_id: body["message_id"].as_str()?.to_string(),
                emoji: body["emoji"].as_str()?.to_string(),
                target_wamid: body["target_wamid"].as_str().map(str::to_string),
            }),
            "media" => Some(SendInput::Media {
                media_id: body["media_id"].as_str()?.to_string(),
                caption: body["caption"].as_str().map(str::to_string),
            }),
            "template" => Some(SendInput::Template {
                name: body["template"].as_str()?.to_string(),
                language: body["language"].as_str()?.to_string(),
                args: TemplateArgs::from_stored(body)?,
            }),
            _ => None,
        }
    }
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> AppError {
    AppError::new(Code::InvalidMessage, message)
}

/// The API's answer to a refusal: 403 for a missing permission, else 422 with the gate's code.
pub fn refusal_error(r: &Refusal) -> AppError {
    let code = match r {
        Refusal::Forbidden { .. } => Code::Forbidden,
        Refusal::ChannelDisabled { .. } => Code::ChannelDisabled,
        Refusal::TemplateNotApproved { .. } => Code::TemplateNotApproved,
        Refusal::TemplateParams { .. } => Code::TemplateParams,
        Refusal::NoConsent { .. } => Code::NoConsent,
        Refusal::OutsideWindow { .. } => Code::OutsideWindow,
        Refusal::MessagingLimit { .. } => Code::MessagingLimit,
    };
    AppError::new(code, refusal_sentence(r))
}

/// The gate's reason as a sentence: capitalised, with its full stop.
pub(crate) fn refusal_sentence(r: &Refusal) -> String {
    let mut message = r.message();
    if let Some(first) = message.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!("{message}.")
}

/// The path a stored outbox entry was queued on.
pub(crate) fn parse_path(s: &str) -> Option<SendPath> {
    SendPath::ALL.into_iter().find(|p| p.as_str() == s)
}

/// Loads the facts of a send in conversation `c` and asks the gate. `permissions` are the sender's
/// (at dispatch, the path's own permission: the role was checked when the send was queued);
/// `default_limit` is the messaging-limit tier of a channel that has none set.
pub(crate) async fn gate(
    s: &mut Scope<'_>,
    c: &InboxConversation,
    path: SendPath,
    content: Content<'_>,
    permissions: &BTreeSet<Permission>,
    default_limit: MessagingLimit,
    now: i64,
) -> Result<Result<Permit, Refusal>, StoreError> {
    let channel = s.get_channel(c.channel_id).await?;
    // The messaging limit only matters for a business-initiated send (the window is closed),
    // so only then is the channel's reach counted.
    let limit = channel
        .messaging_limit
        .as_deref()
        .and_then(MessagingLimit::parse)
        .unwrap_or(default_limit);
    let reach = if limit == MessagingLimit::Unlimited || window_open(c.last_inbound_at, now) {
        Reach {
            limit,
            reached: 0,
            contact_reached: false,
        }
    } else {
        let count = s
            .reach_since(
                c.channel_id,
                c.contact_id,
                now.saturating_sub(WINDOW_MICROS),
            )
            .await?;
        Reach {
            limit,
            reached: count.reached,
            contact_reached: count.contact_reached,
        }
    };
    let template = match content {
        Content::Template { name, language, .. } => s
            .templates()
            .find(c.channel_id, name, language)
            .await?
            .as_ref()
            .and_then(crate::templates::gate_template),
        _ => None,
    };
    // The contact's ledger, after the opt-outs an erased contact with the same number left.
    let rows = s.consent_rows(c.contact_id).await?;
    let ledger = ConsentLedger::from_rows(
        rows.iter()
            .map(|(purpose, status, at)| (purpose.as_str(), status.as_str(), *at)),
    )
    .map_err(|e| StoreError::Corrupt(format!("consent ledger: {e}")))?;
    let request = SendRequest {
        tenant: s.tenant(),
        channel: c.channel_id,
        contact: c.contact_id,
        conversation: Some(c.id),
        path,
        content,
    };
    let facts = SendFacts {
        permissions,
        channel: channel.gate_health(),
        template: template.as_ref(),
        consent: &ledger,
        last_inbound_at: c.last_inbound_at,
        reach,
    };
    Ok(decide(&request, &facts, now))
}

/// Audits a refusal with its code (ids and codes only).
pub(crate) async fn audit_refusal(
    s: &mut Scope<'_>,
    actor: Actor,
    conversation: ConversationId,
    path: SendPath,
    refusal: &Refusal,
    message: Option<MessageId>,
) -> Result<(), StoreError> {
    audit_code(s, actor, conversation, path, refusal.code(), message).await
}

/// Audits a refused send with its code (`message.send_refused`; ids and codes only).
pub(crate) async fn audit_code(
    s: &mut Scope<'_>,
    actor: Actor,
    conversation: ConversationId,
    path: SendPath,
    code: &str,
    message: Option<MessageId>,
) -> Result<(), StoreError> {
    let event = AuditEvent::new(
        actor,
        "message.send_refused",
        format!("conversation:{conversation}"),
    )
    .with_details(json!({
        "code": code,
        "path": path.as_str(),
        "message": message.map(|m| m.to_string()),
    }));
    s.audit(&event).await?;
    Ok(())
}

/// For a template send, its parameters against the channel's synced template (see
/// [`TemplateArgs::check`]); `Ok(Ok(()))` for everything else.
pub(crate) async fn check_template_args(
    s: &mut Scope<'_>,
    channel: confide_core::ids::ChannelId,
    input: &SendInput,
) -> Result<Result<(), AppError>, StoreError> {
    let SendInput::Template {
        name,
        language,
        args,
    } = input
    else {
        return Ok(Ok(()));
    };
    Ok(match s.templates().find(channel, name, language).await? {
        Some(t) => args.check(&t),
        // The gate refuses a missing template before this is asked.
        None => Ok(()),
    })
}

impl App {
    /// Sends a message in a conversation: decided by the send gate, then queued (`queued`) for
    /// the dispatcher. The same `Idempotency-Key` returns the message its first request queued
    /// (`Enqueued::Replayed`) and sends nothing more. A refusal is audited and answered with the
    /// gate's code; another tenant's conversation is not found.
    pub async fn send_message(
        &self,
        p: &Principal,
        conversation: &str,
        body: &serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> Result<Enqueued, AppError> {
        p.require(Permission::InboxReply)?;
        let conversation: ConversationId =
            conversation.parse().map_err(|_| AppError::not_found())?;
        let mut s = self.store.scope(p.tenant).await?;
        // Not the tenant's conversation: not found, before the body is looked at.
        let c = s.inbox().conversation(conversation).await?;
        let mut input = SendInput::from_json(body)?;
        let now = self.clock.now_micros();
        // A reaction names a message of this conversation that reached WhatsApp, at most 30
        // days old; a quoted reply, any message of it that did.
        if let SendInput::Reaction {
            message_id,
            target_wamid,
            ..
        } = &mut input
        {
            let target = referenced(&mut s, conversation, message_id, "reacted to").await?;
            if target.created_at < now - REACTION_MAX_AGE_MICROS {
                return Err(invalid(
                    "WhatsApp takes reactions to messages up to 30 days old.",
                ));
            }
            *target_wamid = target.wamid;
        }
        let quote = match body.get("reply_to") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(id)) if !matches!(input, SendInput::Reaction { .. }) => {
                let target = referenced(&mut s, conversation, id, "quoted").await?;
                Some(Quote {
                    message_id: id.clone(),
                    wamid: target.wamid.unwrap_or_default(),
                })
            }
            Some(_) => {
                return Err(invalid(
                    "\"reply_to\" is the id of a message of this conversation (not for reactions).",
                ));
            }
        };
        // A media message (or a template's media header) names one of the tenant's uploaded
        // files.
        let uploaded = match &input {
            SendInput::Media { media_id, .. } => Some(media_id.as_str()),
            SendInput::Template { args, .. } => args.header_media_id(),
            _ => None,
        };
        if let Some(media_id) = uploaded {
            let known = match media_id.parse() {
                Ok(id) => match s.media_objects().get(id).await {
                    Ok(_) => true,
                    Err(StoreError::NotFound) => false,
                    Err(e) => return Err(e.into()),
                },
                Err(_) => false,
            };
            if !known {
                return Err(invalid(
                    "media_id names no uploaded file of this account (upload it with POST /api/v1/media).",
                ));
            }
        }
        if let Some(k) = idempotency_key
            && (k.is_empty() || k.len() > IDEMPOTENCY_KEY_MAX)
        {
            return Err(AppError::new(
                Code::BadRequest,
                format!("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters."),
            ));
        }
        let path = match p.kind {
            crate::principal::PrincipalKind::ApiKey { .. } => SendPath::Api,
            _ => SendPath::AgentReply,
        };
        let decision = gate(
            &mut s,
            &c,
            path,
            input.content(),
            &p.permissions,
            self.config.outbound.default_messaging_limit(),
            now,
        )
        .await?;
        let permit = match decision {
            Ok(permit) => permit,
            Err(refusal) => {
                audit_refusal(&mut s, p.actor(), conversation, path, &refusal, None).await?;
                s.commit().await?;
                tracing::info!(%conversation, code = refusal.code(), "send refused by the gate");
                return Err(refusal_error(&refusal));
            }
        };
        // The gate counted the body's parameters; their names, the header and the buttons are
        // checked against the synced template here, refused (and audited) the same way.
        if let Err(e) = check_template_args(&mut s, c.channel_id, &input).await? {
            audit_code(
                &mut s,
                p.actor(),
                conversation,
                path,
                "template_params",
                None,
            )
            .await?;
            s.commit().await?;
            return Err(e);
        }
        let queued = enqueue(
            &mut s,
            &permit,
            &input,
            quote.as_ref(),
            idempotency_key,
            None,
        )
        .await?;
        if let Enqueued::New(m) = &queued {
            let event = AuditEvent::new(p.actor(), "message.queued", format!("message:{}", m.id))
                .with_details(json!({
                    "conversation": conversation.to_string(),
                    "path": path.as_str(),
                    "kind": m.kind,
                    "purpose": permit.purpose().as_str(),
                }));
            s.audit(&event).await?;
        }
        s.commit().await?;
        if let Enqueued::New(m) = &queued {
            self.events.publish(crate::events::InboxEvent {
                tenant: p.tenant,
                change: crate::events::Change::MessageCreated {
                    conversation,
                    message: m.id,
                },
            });
        }
        self.outbox_wake.notify_one();
        Ok(queued)
    }
}

/// Queues what `permit` allows; the content must be what the permit was decided for.
pub(crate) async fn enqueue(
    s: &mut Scope<'_>,
    permit: &Permit,
    input: &SendInput,
    quote: Option<&Quote>,
    idempotency_key: Option<&str>,
    broadcast: Option<confide_core::ids::BroadcastId>,
) -> Result<Enqueued, AppError> {
    if permit.kind() != input.content().kind() {
        return Err(AppError::internal());
    }
    let conversation = permit.conversation().ok_or_else(AppError::internal)?;
    let new = NewOutbound {
        conversation,
        channel: permit.channel(),
        contact: permit.contact(),
        path: permit.path().as_str().to_string(),
        priority: match permit.path() {
            SendPath::Broadcast => PRIORITY_BROADCAST,
            _ => PRIORITY_REPLY,
        },
        kind: input.kind().to_string(),
        body: {
            let mut body = input.body();
            if let Some(q) = quote {
                body["context"] = json!({ "message_id": q.message_id, "wamid": q.wamid });
            }
            body
        },
        broadcast,
    };
    match s.outbox().enqueue(new, idempotency_key).await {
        Ok(q) => {
            // A business-initiated send reaches the contact for the messaging limit.
            if matches!(q, Enqueued::New(_)) && !permit.inside_window() {
                s.record_reach(permit.channel(), permit.contact(), permit.decided_at())
                    .await?;
            }
            Ok(q)
        }
        // Two requests with one key at once: the second finds the first's message.
        Err(StoreError::Conflict(_)) => Err(AppError::new(
            Code::Conflict,
            "A send with this Idempotency-Key is being queued; retry to get its message.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// A message of the conversation that a send refers to, which must have reached WhatsApp.
async fn referenced(
    s: &mut Scope<'_>,
    conversation: ConversationId,
    id: &str,
    what: &str,
) -> Result<Message, AppError> {
    let not_there = || {
        invalid(format!(
            "The message {what} is not a message of this conversation that reached WhatsApp."
        ))
    };
    let id: MessageId = id.parse().map_err(|_| not_there())?;
    match s.inbox().message(conversation, id).await {
        Ok(m) if m.wamid.is_some() => Ok(m),
        Ok(_) | Err(StoreError::NotFound) => Err(not_there()),
        Err(e) => Err(e.into()),
    }
}

/// The message a send queued (or replayed).
pub fn queued_message(q: &Enqueued) -> &Message {
    match q {
        Enqueued::New(m) | Enqueued::Replayed(m) => m,
    }
}
