//! What Meta checks in a send body before anything else: `messaging_product`, the recipient
//! (`to` wins over `recipient`), the type and its object, lengths, interactive limits, and the
//! template's parameter counts.

use serde_json::Value;

use super::error::GraphError;
use crate::config::digits_only;

const TEXT_MAX: usize = 4096;
const CAPTION_MAX: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Recipient {
    Phone { input: String, digits: String },
    Bsuid { input: String },
}

#[derive(Debug, Clone)]
pub(super) struct TemplateReq {
    pub(super) name: String,
    pub(super) language: String,
    pub(super) body_params: usize,
    pub(super) header_params: usize,
    /// The `parameter_name` of each body text parameter, in order (named templates need one).
    pub(super) body_names: Vec<Option<String>>,
}

#[derive(Debug, Clone)]
pub(super) struct SendReq {
    pub(super) recipient: Recipient,
    pub(super) kind: String,
    pub(super) template: Option<TemplateReq>,
    pub(super) media_id: Option<String>,
    /// A media `link` Meta fetches (once) before it delivers the message.
    pub(super) media_link: Option<String>,
    pub(super) biz_opaque: Option<String>,
}

/// `CC.<alnum>` or `CC.ENT.<alnum>`, up to 128 characters after the prefix.
pub fn is_bsuid(s: &str) -> bool {
    let Some((cc, rest)) = s.split_once('.') else {
        return false;
    };
    let rest = rest.strip_prefix("ENT.").unwrap_or(rest);
    cc.len() == 2
        && cc.chars().all(|c| c.is_ascii_uppercase())
        && !rest.is_empty()
        && rest.len() <= 128
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

pub(super) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(super) fn required(obj: &Value, key: &str, label: &str) -> Result<String, GraphError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(GraphError::param(format!(
            "The parameter {label} is required."
        ))),
        Some(_) => Err(GraphError::param(format!(
            "Param {label} must be a string."
        ))),
    }
}

fn recipient(v: &Value) -> Result<Recipient, GraphError> {
    if let Some(to) = v.get("to").filter(|t| !t.is_null()) {
        let Some(input) = to.as_str() else {
            return Err(GraphError::param("Param to must be a string."));
        };
        let allowed = input
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
        let digits = digits_only(input);
        if !allowed || !(7..=15).contains(&digits.len()) {
            return Err(GraphError::wa(
                400,
                100,
                "Invalid parameter",
                format!("Param to ({input}) is not a valid phone number"),
            ));
        }
        return Ok(Recipient::Phone {
            input: input.to_owned(),
            digits,
        });
    }
    match v.get("recipient") {
        Some(Value::String(r)) if is_bsuid(r) => Ok(Recipient::Bsuid { input: r.clone() }),
        Some(Value::String(r)) => Err(GraphError::wa(
            400,
            100,
            "Invalid parameter",
            format!("Param recipient ({r}) is not a valid business-scoped user id"),
        )),
        _ => Err(GraphError::param("The parameter to is required.")),
    }
}

/// The media id, or the link, a media message names.
fn check_media(kind: &str, obj: &Value) -> Result<(Option<String>, Option<String>), GraphError> {
    let id = str_field(obj, "id");
    let link = str_field(obj, "link");
    let media_id = match (id, link) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(GraphError::wa(
                400,
                131008,
                "Required parameter is missing",
                format!("Exactly one of {kind}['id'] or {kind}['link'] is required"),
            ));
        }
        (Some(id), None) => Some(id.to_owned()),
        (None, Some(link)) => {
            if !(link.starts_with("https://") || link.starts_with("http://")) {
                return Err(GraphError::param(format!(
                    "Param {kind}['link'] must be a valid URL"
                )));
            }
            None
        }
    };
    if let Some(c) = str_field(obj, "caption") {
        if matches!(kind, "audio" | "sticker") {
            return Err(GraphError::param(format!(
                "Param {kind}['caption'] is not supported for {kind} messages"
            )));
        }
        if c.chars().count() > CAPTION_MAX {
            return Err(GraphError::param(format!(
                "Param {kind}['caption'] must be at most {CAPTION_MAX} characters long."
            )));
        }
    }
    Ok((media_id, link.map(str::to_owned)))
}

fn invalid_interactive(details: impl Into<String>) -> GraphError {
    GraphError::wa(400, 131009, "Parameter value is not valid", details)
}

fn check_interactive(obj: &Value) -> Result<(), GraphError> {
    let itype = required(obj, "type", "interactive['type']")?;
    let needs_body = matches!(itype.as_str(), "button" | "list" | "cta_url" | "flow");
    match itype.as_str() {
        "button"
        | "list"
        | "cta_url"
        | "product"
        | "product_list"
        | "flow"
        | "catalog_message"
        | "location_request_message"
        | "address_message" => {}
        other => {
            return Err(invalid_interactive(format!(
                "Interactive type '{other}' is not supported"
            )));
        }
    }
    if needs_body {
        let text = obj
            .get("body")
            .and_then(|b| b.get("text"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if text.is_empty() {
            return Err(GraphError::wa(
                400,
                131008,
                "Required parameter is missing",
                "interactive['body']['text'] is required",
            ));
        }
        if text.chars().count() > 1024 {
            return Err(invalid_interactive(
                "Body text must be at most 1024 characters",
            ));
        }
    }
    let action = obj.get("action").unwrap_or(&Value::Null);
    if itype == "button" {
        let buttons = action
            .get("buttons")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid_interactive("action['buttons'] is required"))?;
        if buttons.is_empty() || buttons.len() > 3 {
            return Err(invalid_interactive(
                "Between 1 and 3 reply buttons are allowed",
            ));
        }
        let mut ids: Vec<&str> = Vec::new();
        for b in buttons {
            let reply = b.get("reply").unwrap_or(&Value::Null);
            let id = str_field(reply, "id").unwrap_or("");
            let title = str_field(reply, "title").unwrap_or("");
            if id.is_empty() || id.chars().count() > 256 {
                return Err(invalid_interactive("Button id must be 1 to 256 characters"));
            }
            if title.is_empty() || title.chars().count() > 20 {
                return Err(invalid_interactive(
                    "Button title must be 1 to 20 characters",
                ));
            }
            if ids.contains(&id) {
                return Err(invalid_interactive("Button ids must be unique"));
            }
            ids.push(id);
        }
    }
    if itype == "list" {
        let button = str_field(action, "button").unwrap_or("");
        if button.is_empty() || button.chars().count() > 20 {
            return Err(invalid_interactive(
                "action['button'] must be 1 to 20 characters",
            ));
        }
        let sections = action
            .get("sections")
            .and_then(Value::as_array)
            .filter(|s| !s.is_empty() && s.len() <= 10)
            .ok_or_else(|| invalid_interactive("Between 1 and 10 sections are required"))?;
        let mut rows = 0usize;
        for s in sections {
            for r in s
                .get("rows")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                rows += 1;
                let id = str_field(r, "id").unwrap_or("");
                let title = str_field(r, "title").unwrap_or("");
                if id.is_empty() || id.chars().count() > 200 {
                    return Err(invalid_interactive("Row id must be 1 to 200 characters"));
                }
                if title.is_empty() || title.chars().count() > 24 {
                    return Err(invalid_interactive("Row title must be 1 to 24 characters"));
                }
            }
        }
        if rows == 0 || rows > 10 {
            return Err(invalid_interactive("Between 1 and 10 rows are allowed"));
        }
    }
    Ok(())
}

fn template_req(obj: &Value) -> Result<TemplateReq, GraphError> {
    let name = required(obj, "name", "template['name']")?;
    let language = obj
        .get("language")
        .and_then(|l| l.get("code"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            GraphError::param("The parameter template['language']['code'] is required.")
        })?
        .to_owned();
    let mut body_params = 0;
    let mut header_params = 0;
    let mut body_names = Vec::new();
    if let Some(components) = obj.get("components") {
        let components = components
            .as_array()
            .ok_or_else(|| GraphError::param("Param template['components'] must be an array."))?;
        for c in components {
            let ctype = str_field(c, "type").unwrap_or("").to_ascii_lowercase();
            let params = c.get("parameters").and_then(Value::as_array);
            let text_params = params.map_or(0, |p| {
                p.iter()
                    .filter(|x| {
                        matches!(
                            str_field(x, "type"),
                            Some("text" | "currency" | "date_time")
                        )
                    })
                    .count()
            });
            match ctype.as_str() {
                "body" => {
                    body_params += text_params;
                    body_names.extend(
                        params
                            .into_iter()
                            .flatten()
                            .filter(|x| str_field(x, "type") == Some("text"))
                            .map(|x| str_field(x, "parameter_name").map(str::to_owned)),
                    );
                }
                "header" => header_params += text_params,
                "button" | "carousel" | "limited_time_offer" => {}
                other => {
                    return Err(GraphError::param(format!(
                        "Param template['components'][]['type'] must be one of {{HEADER, BODY, BUTTON}} - got \"{other}\"."
                    )));
                }
            }
        }
    }
    Ok(TemplateReq {
        name,
        language,
        body_params,
        header_params,
        body_names,
    })
}

pub(super) fn validate(v: &Value) -> Result<SendReq, GraphError> {
    match v.get("messaging_product") {
        Some(Value::String(p)) if p == "whatsapp" => {}
        Some(Value::String(p)) => {
            return Err(GraphError::param(format!(
                "Param messaging_product must be one of {{WHATSAPP}} - got \"{p}\"."
            )));
        }
        _ => {
            return Err(GraphError::param(
                "The parameter messaging_product is required.",
            ));
        }
    }
    if let Some(rt) = v.get("recipient_type")
        && rt.as_str() != Some("individual")
    {
        return Err(GraphError::param(
            "Param recipient_type must be one of {INDIVIDUAL} - got a different value.",
        ));
    }
    let recipient = recipient(v)?;
    let kind = match v.get("type") {
        None | Some(Value::Null) => "text".to_owned(),
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(GraphError::param("Param type must be a string.")),
    };
    let allowed = [
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "template",
        "reaction",
    ];
    if !allowed.contains(&kind.as_str()) {
        return Err(GraphError::wa(
            400,
            131051,
            "Unsupported message type",
            format!("Message type '{kind}' is not currently supported"),
        ));
    }
    let obj = v
        .get(&kind)
        .filter(|o| !o.is_null())
        .ok_or_else(|| GraphError::param(format!("The parameter {kind} is required.")))?;
    let mut template = None;
    let mut media_id = None;
    let mut media_link = None;
    match kind.as_str() {
        "text" => {
            let body = required(obj, "body", "text['body']")?;
            if body.chars().count() > TEXT_MAX {
                return Err(GraphError::param(format!(
                    "Param text['body'] must be at most {TEXT_MAX} characters long."
                )));
            }
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            (media_id, media_link) = check_media(&kind, obj)?;
        }
        "location" => {
            for k in ["latitude", "longitude"] {
                let ok = match obj.get(k) {
                    Some(Value::Number(_)) => true,
                    Some(Value::String(s)) => s.parse::<f64>().is_ok(),
                    _ => false,
                };
                if !ok {
                    return Err(GraphError::param(format!(
                        "The parameter location['{k}'] is required."
                    )));
                }
            }
        }
        "contacts" => {
            let cards = obj
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| GraphError::param("Param contacts must be a non-empty array."))?;
            for (i, c) in cards.iter().enumerate() {
                let has_name = c
                    .get("name")
                    .and_then(|n| n.get("formatted_name"))
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                if !has_name {
                    return Err(GraphError::param(format!(
                        "The parameter contacts[{i}]['name']['formatted_name'] is required."
                    )));
                }
            }
        }
        "interactive" => check_interactive(obj)?,
        "reaction" => {
            required(obj, "message_id", "reaction['message_id']")?;
            if !obj.get("emoji").is_some_and(Value::is_string) {
                return Err(GraphError::param(
                    "The parameter reaction['emoji'] is required.",
                ));
            }
        }
        "template" => template = Some(template_req(obj)?),
        _ => {}
    }
    if let Some(ctx) = v.get("context")
        && str_field(ctx, "message_id").is_none()
    {
        return Err(GraphError::param(
            "The parameter context['message_id'] is required.",
        ));
    }
    let biz_opaque = match v.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 512 => Some(s.clone()),
        Some(_) => {
            return Err(GraphError::param(
                "Param biz_opaque_callback_data must be a string of at most 512 characters.",
            ));
        }
    };
    Ok(SendReq {
        recipient,
        kind,
        template,
        media_id,
        media_link,
        biz_opaque,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bsuid_format() {
        assert!(is_bsuid("US.13491208655302741918"));
        assert!(is_bsuid("US.ENT.118"));
        assert!(!is_bsuid("us.123"));
        assert!(!is_bsuid("16505551234"));
        assert!(!is_bsuid("US."));
    }

    #[test]
    fn to_wins_over_recipient() {
        let r = validate(&json!({"messaging_product":"whatsapp","to":"+1 650 555 1234","recipient":"US.1","type":"text","text":{"body":"x"}})).unwrap();
        assert_eq!(
            r.recipient,
            Recipient::Phone {
                input: "+1 650 555 1234".into(),
                digits: "16505551234".into()
            }
        );
    }

    #[test]
    fn validation_errors() {
        let code = |v: Value| validate(&v).unwrap_err().code;
        assert_eq!(code(json!({"to":"16505551234","text":{"body":"x"}})), 100);
        assert_eq!(
            code(json!({"messaging_product":"whatsapp","type":"text","text":{"body":"x"}})),
            100
        );
        assert_eq!(
            code(
                json!({"messaging_product":"whatsapp","to":"16505551234","type":"poll","poll":{}})
            ),
            131051
        );
        let long = "a".repeat(4097);
        assert_eq!(
            code(json!({"messaging_product":"whatsapp","to":"16505551234","text":{"body":long}})),
            100
        );
        assert!(validate(&json!({"messaging_product":"whatsapp","to":"16505551234","text":{"body":"a".repeat(4096)}})).is_ok());
        assert_eq!(
            code(
                json!({"messaging_product":"whatsapp","to":"16505551234","type":"image","image":{}})
            ),
            131008
        );
        assert_eq!(
            code(
                json!({"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"hi"},"action":{"buttons":[
            {"type":"reply","reply":{"id":"a","title":"1"}},{"type":"reply","reply":{"id":"b","title":"2"}},
            {"type":"reply","reply":{"id":"c","title":"3"}},{"type":"reply","reply":{"id":"d","title":"4"}}]}}})
            ),
            131009
        );
    }

    #[test]
    fn template_param_counting() {
        let t = template_req(&json!({"name":"x","language":{"code":"en_US"},"components":[
            {"type":"header","parameters":[{"type":"text","text":"a"}]},
            {"type":"body","parameters":[{"type":"text","text":"a"},{"type":"currency","currency":{}}]},
            {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"p"}]}]})).unwrap();
        assert_eq!((t.header_params, t.body_params), (1, 2));
    }
}
