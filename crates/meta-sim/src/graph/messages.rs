//! `POST /{phone_number_id}/messages`: mark-as-read, throughput, the window, pair rate and
//! template checks, the success shape, and the status webhooks that follow.

use axum::response::Response;
use serde_json::Value;
use time::OffsetDateTime;

use confide_core::clock::to_micros;

use super::auth::authorize_number;
use super::error::GraphError;
use super::request::{Req, ok_json};
use super::validate::{Recipient, SendReq, required, str_field, validate};
use crate::config::{TemplateCategory, TemplateStatus, WindowMode};
use crate::ids;
use crate::ratelimit::TokenBucket;
use crate::records::{OutboundRecord, ReadReceipt, SendOutcome};
use crate::state::{Shared, State, keep_newest};
use crate::wire::{self, Node, NumberMeta, Pricing, StatusWire};

/// `(code, title, details)` of an asynchronous failure.
type Failure = (i64, &'static str, &'static str);

const FAIL_WINDOW: Failure = (
    131047,
    "Re-engagement message",
    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
);
const FAIL_UNDELIVERABLE: Failure = (
    131026,
    "Message undeliverable",
    "Unable to deliver message. Reasons can include: the recipient is not a WhatsApp user, has not accepted the latest terms, or uses an old WhatsApp version.",
);
const FAIL_MARKETING_STOPPED: Failure = (
    131050,
    "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business",
    "The recipient stopped marketing messages.",
);
const FAIL_MEDIA: Failure = (
    131053,
    "Media upload error",
    "Unable to retrieve the media: the media id does not exist or has expired.",
);

pub(super) fn post(shared: &Shared, pnid: &str, req: &Req<'_>) -> Result<Response, GraphError> {
    let now = shared.now();
    let mut guard = shared.lock();
    let st = &mut *guard;
    authorize_number(st, req.token.as_deref(), pnid, now)?;
    let v: Value = serde_json::from_slice(req.body).map_err(|e| {
        GraphError::wa(
            400,
            100,
            "Invalid parameter",
            format!("Request body is not valid JSON: {e}"),
        )
    })?;
    if !v.is_object() {
        return Err(GraphError::param(
            "The parameter messaging_product is required.",
        ));
    }
    if v.get("status").is_some() || v.get("message_id").is_some() && v.get("to").is_none() {
        return mark_read(st, pnid, &v, now);
    }
    let send = validate(&v)?;
    send_message(shared, st, pnid, send, v, now)
}

fn mark_read(
    st: &mut State,
    pnid: &str,
    v: &Value,
    now: OffsetDateTime,
) -> Result<Response, GraphError> {
    if str_field(v, "messaging_product") != Some("whatsapp") {
        return Err(GraphError::param(
            "The parameter messaging_product is required.",
        ));
    }
    if str_field(v, "status") != Some("read") {
        return Err(GraphError::param(
            "Param status must be one of {READ} - got a different value.",
        ));
    }
    let message_id = required(v, "message_id", "message_id")?;
    let known = st.inbound_ids.get(&message_id).is_some_and(|p| p == pnid);
    if !known {
        return Err(GraphError::wa(
            400,
            100,
            "Invalid parameter",
            format!("Message {message_id} was not found for this phone number"),
        ));
    }
    keep_newest(&mut st.reads, st.log_limit);
    st.reads.push(ReadReceipt {
        phone_number_id: pnid.to_owned(),
        message_id,
        typing_indicator: v.get("typing_indicator").is_some(),
        at: now,
    });
    Ok(ok_json(&serde_json::json!({"success": true})))
}

fn send_message(
    shared: &Shared,
    st: &mut State,
    pnid: &str,
    send: SendReq,
    body: Value,
    now: OffsetDateTime,
) -> Result<Response, GraphError> {
    let now_us = to_micros(now);
    let Some(number) = st.numbers.get_mut(pnid) else {
        return Err(GraphError::no_object(pnid, "post"));
    };
    if !number.bucket.try_take(now_us) {
        return Err(GraphError::wa(
            429,
            130429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        )
        .with_subcode(2494055));
    }
    let meta = number.meta();
    let window_mode = number.config.window_mode;

    // Templates: existence in the language, status, parameter counts.
    let mut category = None;
    if let Some(t) = &send.template {
        let by_name: Vec<_> = st
            .templates
            .iter()
            .filter(|x| x.config.waba_id == meta.waba_id && x.config.name == t.name)
            .collect();
        let missing = || {
            GraphError::wa(
                400,
                132001,
                "Template name does not exist in the translation",
                format!(
                    "template name ({}) does not exist in {}",
                    t.name, t.language
                ),
            )
        };
        let tpl = by_name
            .iter()
            .find(|x| x.config.language == t.language)
            .ok_or_else(missing)?;
        match tpl.config.status {
            TemplateStatus::Approved => {}
            TemplateStatus::Paused => {
                return Err(GraphError::wa(
                    400,
                    132015,
                    "Template is Paused",
                    format!(
                        "Template {} is paused due to low quality so it cannot be sent in a template message.",
                        t.name
                    ),
                ));
            }
            TemplateStatus::Disabled => {
                return Err(GraphError::wa(
                    400,
                    132016,
                    "Template is disabled",
                    format!("Template {} has been disabled due to low quality.", t.name),
                ));
            }
            _ => return Err(missing()),
        }
        for (part, got, want) in [
            ("header", t.header_params, tpl.header_params()),
            ("body", t.body_params, tpl.body_params()),
        ] {
            if got != want {
                return Err(GraphError::wa(
                    400,
                    132000,
                    "Number of parameters does not match the expected number of params",
                    format!(
                        "{part}: number of localizable_params ({got}) does not match the expected number of params ({want})"
                    ),
                ));
            }
        }
        // A template with named placeholders ({{first_name}}) takes each body parameter by its
        // `parameter_name`, exactly those names.
        let mut wanted = named_placeholders(&tpl.config.body);
        if !wanted.is_empty() {
            let mut given: Vec<String> = t.body_names.iter().flatten().cloned().collect();
            given.sort();
            wanted.sort();
            if t.body_names.iter().any(Option::is_none) || given != wanted {
                return Err(GraphError::wa(
                    400,
                    132000,
                    "Number of parameters does not match the expected number of params",
                    format!(
                        "body: parameter names ({}) do not match the template's ({})",
                        given.join(", "),
                        wanted.join(", ")
                    ),
                ));
            }
        }
        if tpl.config.category == TemplateCategory::Authentication
            && matches!(send.recipient, Recipient::Bsuid { .. })
        {
            return Err(GraphError::wa(
                400,
                131062,
                "Business-scoped user ID recipients are not supported",
                "Authentication templates cannot be sent to a business-scoped user id; send to the phone number.",
            ));
        }
        category = Some(tpl.config.category);
    }

    let user = match &send.recipient {
        Recipient::Phone { digits, .. } => st.find_user_by_phone(digits),
        Recipient::Bsuid { input } => st.find_user_by_bsuid(input),
    };
    let user_id = user.map(|i| st.users[i].config.user_id.clone());
    let window_open = user_id
        .as_deref()
        .is_some_and(|u| st.window_open(pnid, u, now));

    let mut failure: Option<Failure> = None;
    if send.template.is_none() && !window_open {
        match window_mode {
            WindowMode::Sync400 => {
                return Err(GraphError::wa(
                    400,
                    FAIL_WINDOW.0,
                    FAIL_WINDOW.1,
                    FAIL_WINDOW.2,
                ));
            }
            WindowMode::FailedWebhook => failure = Some(FAIL_WINDOW),
        }
    }
    if failure.is_none() {
        let key = (
            pnid.to_owned(),
            user_id.clone().unwrap_or_else(|| match &send.recipient {
                Recipient::Phone { digits, .. } => digits.clone(),
                Recipient::Bsuid { input } => input.clone(),
            }),
        );
        let bucket = st
            .pair
            .entry(key)
            .or_insert_with(|| TokenBucket::pair(now_us));
        if !bucket.try_take(now_us) {
            return Err(GraphError::wa(
                429,
                131056,
                "(Business Account, Consumer Account) pair rate limit hit",
                "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
            ));
        }
    }
    if failure.is_none() && user.is_none() {
        failure = Some(FAIL_UNDELIVERABLE);
    }
    if failure.is_none()
        && category == Some(TemplateCategory::Marketing)
        && user_id
            .as_ref()
            .is_some_and(|u| st.marketing_stopped.contains(&(pnid.to_owned(), u.clone())))
    {
        failure = Some(FAIL_MARKETING_STOPPED);
    }
    if failure.is_none()
        && let Some(mid) = &send.media_id
        && st.media.get(mid).is_none_or(|m| m.expires_at <= now)
    {
        failure = Some(FAIL_MEDIA);
    }
    if let (Recipient::Phone { .. }, Some(u)) = (&send.recipient, &user_id) {
        st.phone_exchanged.insert((pnid.to_owned(), u.clone()), now);
    }

    let party = match &send.recipient {
        Recipient::Phone { digits, .. } => digits.clone(),
        Recipient::Bsuid { input } => input.clone(),
    };
    let wamid = ids::wamid(&mut st.rng, &party);
    let pricing = category.map(|c| {
        let free = c == TemplateCategory::Utility && window_open;
        Pricing {
            billable: !free,
            kind: if free {
                "free_customer_service"
            } else {
                "regular"
            },
            category: c.pricing_name(),
        }
    });
    keep_newest(&mut st.outbound, st.log_limit);
    st.outbound.push(OutboundRecord {
        wamid: wamid.clone(),
        phone_number_id: pnid.to_owned(),
        input: match &send.recipient {
            Recipient::Phone { input, .. } | Recipient::Bsuid { input } => input.clone(),
        },
        user_id: user_id.clone(),
        wa_id: match &send.recipient {
            Recipient::Phone { digits, .. } => Some(digits.clone()),
            Recipient::Bsuid { .. } => None,
        },
        kind: send.kind.clone(),
        template: send
            .template
            .as_ref()
            .map(|t| (t.name.clone(), t.language.clone())),
        body,
        at: now,
        outcome: match failure {
            Some((code, ..)) => SendOutcome::FailedAsync { code },
            None => SendOutcome::Accepted,
        },
    });

    let out = Outcome {
        meta: meta.clone(),
        wamid: wamid.clone(),
        user,
        recipient: send.recipient.clone(),
        failure,
        pricing,
        biz_opaque: send.biz_opaque.clone(),
        reaction: send.kind == "reaction",
    };
    match (&send.media_link, failure) {
        // Meta fetches a media link before it can deliver: the statuses follow the fetch
        // ([`fetch_pending_links`]).
        (Some(url), None) => st.pending_links.push(PendingLink {
            url: url.clone(),
            outcome: out,
        }),
        _ => emit_statuses(shared, st, &out, now),
    }

    let contact = match &send.recipient {
        Recipient::Phone { input, digits } => Node::obj()
            .put("input", input.as_str())
            .put("wa_id", digits.as_str()),
        Recipient::Bsuid { input } => Node::obj()
            .put("input", input.as_str())
            .put("user_id", input.as_str()),
    };
    let message = Node::obj()
        .put("id", wamid.as_str())
        .opt("message_status", send.template.as_ref().map(|_| "accepted"));
    let resp = Node::obj()
        .put("messaging_product", "whatsapp")
        .put("contacts", vec![contact])
        .put("messages", vec![message]);
    Ok(ok_json(&resp))
}

/// A media message accepted with a `link`, waiting for its fetch.
#[derive(Debug)]
pub(crate) struct PendingLink {
    url: String,
    outcome: Outcome,
}

/// Fetches the links of media messages just accepted, as Meta does (once, without credentials),
/// records each fetch, then sends the message's statuses: `sent`... when the bytes came, one
/// `failed` (131053) when they did not.
pub(crate) fn fetch_pending_links(shared: &std::sync::Arc<Shared>) {
    let pending: Vec<PendingLink> = std::mem::take(&mut shared.lock().pending_links);
    for p in pending {
        let shared = shared.clone();
        tokio::spawn(async move {
            let fetched = async {
                let r = shared.http.get(&p.url).send().await?;
                let status = r.status().as_u16();
                let bytes = r.bytes().await?;
                Ok::<_, reqwest::Error>((status, bytes.to_vec()))
            }
            .await;
            let (http_status, bytes) = fetched.unwrap_or((0, Vec::new()));
            let now = shared.now();
            let mut guard = shared.lock();
            let st = &mut *guard;
            let limit = st.log_limit;
            crate::state::keep_newest(&mut st.link_fetches, limit);
            let ok = http_status == 200;
            st.link_fetches.push(crate::records::LinkFetch {
                url: p.url.clone(),
                wamid: p.outcome.wamid.clone(),
                http_status,
                bytes,
                at: now,
            });
            let mut outcome = p.outcome;
            if !ok {
                outcome.failure = Some(FAIL_MEDIA);
            }
            emit_statuses(&shared, st, &outcome, now);
        });
    }
}

#[derive(Debug)]
struct Outcome {
    meta: NumberMeta,
    wamid: String,
    user: Option<usize>,
    recipient: Recipient,
    failure: Option<Failure>,
    pricing: Option<Pricing>,
    biz_opaque: Option<String>,
    reaction: bool,
}

/// `sent`, then `delivered`/`read` (seeded variations), or one `failed`.
fn emit_statuses(shared: &Shared, st: &mut State, o: &Outcome, now: OffsetDateTime) {
    let ts = now.unix_timestamp();
    let pnid = o.meta.phone_number_id.as_str();
    let (Some(user), None) = (o.user, o.failure) else {
        let (code, title, details) = o.failure.unwrap_or(FAIL_UNDELIVERABLE);
        let (recipient_id, recipient_user_id) = match &o.recipient {
            Recipient::Phone { digits, .. } => (Some(digits.clone()), None),
            Recipient::Bsuid { input } => (None, Some(input.clone())),
        };
        let s = StatusWire {
            id: o.wamid.to_owned(),
            status: "failed",
            timestamp: ts,
            recipient_id,
            recipient_user_id,
            recipient_parent_user_id: None,
            biz_opaque_callback_data: o.biz_opaque.clone(),
            pricing: None,
            error: Some((code, title.to_owned(), details.to_owned())),
        };
        let change = wire::status_change(&o.meta, &s, None);
        shared.emit(st, pnid, &change, None);
        return;
    };
    let who = st.identity(pnid, user, now);
    let cfg = &shared.statuses;
    let mut seq: Vec<(&'static str, i64)> = vec![("sent", ts)];
    if !o.reaction {
        let skip = st.status_rng.chance(cfg.skip_delivered);
        let read = st.status_rng.chance(cfg.read);
        let swap = st.status_rng.chance(cfg.swap_delivered_read);
        if !skip {
            seq.push(("delivered", ts + 1));
        }
        if read {
            seq.push(("read", ts + 2));
        }
        if swap && seq.len() == 3 {
            seq.swap(1, 2);
        }
    }
    let priced_followup = if seq.iter().any(|(s, _)| *s == "delivered") {
        "delivered"
    } else {
        "read"
    };
    for (status, at) in seq {
        let priced = status == "sent" || status == priced_followup;
        let s = StatusWire {
            id: o.wamid.to_owned(),
            status,
            timestamp: at,
            recipient_id: who.phone.clone(),
            recipient_user_id: Some(who.user_id.clone()),
            recipient_parent_user_id: who.parent_user_id.clone(),
            biz_opaque_callback_data: o.biz_opaque.clone(),
            pricing: if priced { o.pricing.clone() } else { None },
            error: None,
        };
        let change = wire::status_change(&o.meta, &s, Some(&who));
        shared.emit(st, pnid, &change, None);
    }
}

/// The distinct named (not numbered) placeholders of a template text.
fn named_placeholders(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty()
            && !name.chars().all(|c| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !seen.iter().any(|s| s == name)
        {
            seen.push(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    seen
}
