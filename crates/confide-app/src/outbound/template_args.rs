//! A template send's parameters beyond the body's positional list: named body parameters
//! (Graph's `parameter_name`), a header parameter (text, or an image, video or document), and
//! button parameters (a quick reply's payload, a dynamic URL's suffix). Read from the API's body,
//! checked against the synced template's components (how many, which names, which header
//! format, which buttons) so a mismatch is a clear 422 `template_params` before anything is
//! queued, kept in the outbox entry, and turned into Graph's exact `components` at dispatch.

use crate::error::{AppError, Code};
use crate::templates::StoredTemplate;
use confide_whatsapp::send::{
    ButtonSubType, ComponentKind, MediaSource, Parameter, Template as WaTemplate,
    TemplateComponent, TemplateComponentInfo,
};
use serde_json::{Value, json};

/// The longest text parameter WhatsApp takes in a body (and header).
const PARAM_MAX: usize = 1024;

/// A template's header parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderParam {
    /// The text for the header's one placeholder.
    Text { text: String },
    /// An image, video or document header: an uploaded file (`media_id`, from
    /// `POST /api/v1/media`) or an https `link` Meta fetches.
    Media {
        kind: String,
        media_id: Option<String>,
        link: Option<String>,
    },
}

/// A button's parameter, by the button's position in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonParam {
    pub index: u8,
    /// `quick_reply` (a payload) or `url` (the dynamic URL's suffix).
    pub kind: String,
    pub value: String,
}

/// Everything of a template send but its name and language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateArgs {
    /// Body parameters in order (templates with `{{1}}`, `{{2}}`… placeholders).
    pub positional: Vec<String>,
    /// Body parameters by name (templates with `{{first_name}}`-style placeholders), in the
    /// order given.
    pub named: Vec<(String, String)>,
    pub header: Option<HeaderParam>,
    pub buttons: Vec<ButtonParam>,
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> AppError {
    AppError::new(Code::InvalidMessage, message)
}

fn mismatch(message: impl Into<std::borrow::Cow<'static, str>>) -> AppError {
    AppError::new(Code::TemplateParams, message)
}

fn text_value(v: &Value, what: &str) -> Result<String, AppError> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(invalid(format!("{what} is text."))),
    };
    if s.trim().is_empty() || s.chars().count() > PARAM_MAX {
        return Err(invalid(format!(
            "{what} is 1 to {PARAM_MAX} characters of text."
        )));
    }
    Ok(s)
}

impl TemplateArgs {
    /// The API body's `params` (a list, or an object of names), `header` and `buttons`.
    pub fn from_json(body: &Value) -> Result<TemplateArgs, AppError> {
        let mut args = TemplateArgs::default();
        match body.get("params") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                args.positional = items
                    .iter()
                    .map(|v| text_value(v, "A template parameter"))
                    .collect::<Result<_, _>>()?;
            }
            Some(Value::Object(map)) => {
                for (name, v) in map {
                    if name.is_empty()
                        || name.len() > 64
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(invalid(
                            "A named template parameter's name is letters, digits and underscores.",
                        ));
                    }
                    args.named.push((
                        name.clone(),
                        text_value(v, &format!("Template parameter {name:?}"))?,
                    ));
                }
            }
            Some(_) => {
                return Err(invalid(
                    "\"params\" is a list of text (positional) or an object of text by name (named).",
                ));
            }
        }
        if args.positional.len() + args.named.len() > 100 {
            return Err(invalid("Too many template parameters."));
        }
        args.header = match body.get("header") {
            None | Some(Value::Null) => None,
            Some(h @ Value::Object(_)) => {
                let kind = h.get("type").and_then(Value::as_str).unwrap_or("text");
                match kind {
                    "text" => Some(HeaderParam::Text {
                        text: text_value(
                            h.get("text").unwrap_or(&Value::Null),
                            "The header's \"text\"",
                        )?,
                    }),
                    "image" | "video" | "document" => {
                        let field = |k: &str| {
                            h.get(k)
                                .and_then(Value::as_str)
                                .map(str::trim)
                                .filter(|v| !v.is_empty())
                                .map(str::to_string)
                        };
                        let (media_id, link) = (field("media_id"), field("link"));
                        if media_id.is_some() == link.is_some() {
                            return Err(invalid(
                                "A media header names either \"media_id\" (an uploaded file) or \"link\" (https).",
                            ));
                        }
                        if let Some(l) = &link
                            && (!l.starts_with("https://") || l.len() > 2048)
                        {
                            return Err(invalid("A media header's link is an https URL."));
                        }
                        Some(HeaderParam::Media {
                            kind: kind.to_string(),
                            media_id,
                            link,
                        })
                    }
                    _ => {
                        return Err(invalid(
                            "A header parameter's type is text, image, video or document.",
                        ));
                    }
                }
            }
            Some(_) => return Err(invalid("\"header\" is an object.")),
        };
        match body.get("buttons") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for b in items {
                    let index = b
                        .get("index")
                        .and_then(Value::as_u64)
                        .and_then(|i| u8::try_from(i).ok())
                        .filter(|i| *i < 10)
                        .ok_or_else(|| {
                            invalid("A button parameter has the button's \"index\" (0 to 9).")
                        })?;
                    let kind = b.get("type").and_then(Value::as_str).unwrap_or_default();
                    let value = match kind {
                        "quick_reply" => text_value(
                            b.get("payload").unwrap_or(&Value::Null),
                            "A quick-reply button's \"payload\"",
                        )?,
                        "url" => text_value(
                            b.get("text").unwrap_or(&Value::Null),
                            "A URL button's \"text\"",
                        )?,
                        _ => {
                            return Err(invalid(
                                "A button parameter's type is quick_reply (with \"payload\") or url (with \"text\").",
                            ));
                        }
                    };
                    if args.buttons.iter().any(|x| x.index == index) {
                        return Err(invalid("Two button parameters for one button."));
                    }
                    args.buttons.push(ButtonParam {
                        index,
                        kind: kind.to_string(),
                        value,
                    });
                }
            }
            Some(_) => return Err(invalid("\"buttons\" is a list.")),
        }
        Ok(args)
    }

    /// How many body parameters the send supplies (what the send gate compares).
    pub fn body_count(&self) -> usize {
        self.positional.len() + self.named.len()
    }

    /// The outbox entry's form (read back by [`Self::from_stored`]).
    pub fn to_stored(&self, body: &mut Value) {
        body["params"] = json!(self.positional);
        if !self.named.is_empty() {
            body["named"] = json!(
                self.named
                    .iter()
                    .map(|(n, v)| json!([n, v]))
                    .collect::<Vec<_>>()
            );
        }
        if let Some(h) = &self.header {
            body["header"] = match h {
                HeaderParam::Text { text } => json!({"type": "text", "text": text}),
                HeaderParam::Media {
                    kind,
                    media_id,
                    link,
                } => json!({"type": kind, "media_id": media_id, "link": link}),
            };
        }
        if !self.buttons.is_empty() {
            body["buttons"] = json!(
                self.buttons
                    .iter()
                    .map(|b| json!({"index": b.index, "type": b.kind, "value": b.value}))
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Reads the outbox entry's form (entries queued before named parameters have `params` only).
    pub fn from_stored(body: &Value) -> Option<TemplateArgs> {
        let positional = body["params"]
            .as_array()?
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect::<Option<_>>()?;
        let named = match body.get("named") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => v
                .as_array()?
                .iter()
                .map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
                .collect::<Option<_>>()?,
        };
        let header = match body.get("header") {
            None | Some(Value::Null) => None,
            Some(h) => Some(match h["type"].as_str()? {
                "text" => HeaderParam::Text {
                    text: h["text"].as_str()?.to_string(),
                },
                kind => HeaderParam::Media {
                    kind: kind.to_string(),
                    media_id: h["media_id"].as_str().map(str::to_string),
                    link: h["link"].as_str().map(str::to_string),
                },
            }),
        };
        let buttons = match body.get("buttons") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => v
                .as_array()?
                .iter()
                .map(|b| {
                    Some(ButtonParam {
                        index: u8::try_from(b["index"].as_u64()?).ok()?,
                        kind: b["type"].as_str()?.to_string(),
                        value: b["value"].as_str()?.to_string(),
                    })
                })
                .collect::<Option<_>>()?,
        };
        Some(TemplateArgs {
            positional,
            named,
            header,
            buttons,
        })
    }

    /// The uploaded file of a media header, if it names one.
    pub fn header_media_id(&self) -> Option<&str> {
        match &self.header {
            Some(HeaderParam::Media {
                media_id: Some(id), ..
            }) => Some(id),
            _ => None,
        }
    }

    /// Checks the parameters against the synced template: the body's placeholders (positional
    /// `{{1}}`… take a list of that length; named ones an object with exactly those names), the
    /// header's format and placeholder, and the buttons that take a parameter. A mismatch is
    /// `template_params` with what the template expects, in plain words.
    pub fn check(&self, t: &StoredTemplate) -> Result<(), AppError> {
        let components: Vec<TemplateComponentInfo> =
            serde_json::from_value(t.def.components.clone()).unwrap_or_default();
        let part = |kind: &str| {
            components
                .iter()
                .find(|c| c.kind.eq_ignore_ascii_case(kind))
        };
        let name = &t.def.name;
        // The body.
        let names = placeholder_names(
            part("BODY")
                .and_then(|c| c.text.as_deref())
                .unwrap_or_default(),
        );
        let named_template = names.iter().any(|n| !n.chars().all(|c| c.is_ascii_digit()));
        if named_template {
            if !self.positional.is_empty() {
                return Err(mismatch(format!(
                    "Template {name:?} has named parameters ({}): give \"params\" as an object of those names.",
                    names.join(", ")
                )));
            }
            let mut given: Vec<&str> = self.named.iter().map(|(n, _)| n.as_str()).collect();
            given.sort_unstable();
            let mut wanted: Vec<&str> = names.iter().map(String::as_str).collect();
            wanted.sort_unstable();
            if given != wanted {
                let missing: Vec<&str> = wanted
                    .iter()
                    .filter(|w| !given.contains(w))
                    .copied()
                    .collect();
                let unknown: Vec<&str> = given
                    .iter()
                    .filter(|g| !wanted.contains(g))
                    .copied()
                    .collect();
                return Err(mismatch(format!(
                    "Template {name:?} takes the parameters {}; missing: {}; not in the template: {}.",
                    wanted.join(", "),
                    if missing.is_empty() {
                        "none".to_string()
                    } else {
                        missing.join(", ")
                    },
                    if unknown.is_empty() {
                        "none".to_string()
                    } else {
                        unknown.join(", ")
                    },
                )));
            }
        } else {
            if !self.named.is_empty() {
                return Err(mismatch(format!(
                    "Template {name:?} has positional parameters: give \"params\" as a list of {}.",
                    names.len()
                )));
            }
            if self.positional.len() != names.len() {
                return Err(mismatch(format!(
                    "Template {name:?} takes {} body parameters, but {} were given.",
                    names.len(),
                    self.positional.len()
                )));
            }
        }
        // The header.
        let header = part("HEADER");
        let format = header
            .and_then(|h| h.format.as_deref())
            .unwrap_or("TEXT")
            .to_ascii_lowercase();
        let header_placeholders = header
            .filter(|_| format == "text")
            .and_then(|h| h.text.as_deref())
            .map(placeholder_names)
            .unwrap_or_default();
        match (&self.header, header) {
            (None, None) => {}
            (None, Some(_)) if format == "text" && header_placeholders.is_empty() => {}
            (None, Some(_)) => {
                return Err(mismatch(if format == "text" {
                    format!(
                        "Template {name:?} has a header with a parameter: give \"header\": {{\"type\":\"text\",\"text\":...}}."
                    )
                } else {
                    format!(
                        "Template {name:?} has {} header: give \"header\": {{\"type\":\"{format}\",\"media_id\" or \"link\"}}.",
                        a_or_an(&format)
                    )
                }));
            }
            (Some(_), None) => {
                return Err(mismatch(format!(
                    "Template {name:?} has no header to fill."
                )));
            }
            (Some(HeaderParam::Text { .. }), Some(_)) => {
                if format != "text" || header_placeholders.is_empty() {
                    return Err(mismatch(format!(
                        "Template {name:?}'s header takes no text parameter (it is {}).",
                        if format == "text" {
                            "fixed text".to_string()
                        } else {
                            a_or_an(&format)
                        }
                    )));
                }
            }
            (Some(HeaderParam::Media { kind, .. }), Some(_)) => {
                if *kind != format {
                    return Err(mismatch(format!(
                        "Template {name:?}'s header takes {}, not {kind}.",
                        if format == "text" {
                            "text".to_string()
                        } else {
                            a_or_an(&format)
                        }
                    )));
                }
            }
        }
        // The buttons.
        let buttons = part("BUTTONS").map(|b| b.buttons.as_slice()).unwrap_or(&[]);
        for (i, b) in buttons.iter().enumerate() {
            let kind = b["type"].as_str().unwrap_or_default().to_ascii_uppercase();
            let given = self.buttons.iter().find(|p| usize::from(p.index) == i);
            let dynamic_url = kind == "URL" && b["url"].as_str().is_some_and(|u| u.contains("{{"));
            if dynamic_url && given.is_none() {
                return Err(mismatch(format!(
                    "Template {name:?}'s button {i} has a dynamic URL: give {{\"index\":{i},\"type\":\"url\",\"text\":...}} in \"buttons\"."
                )));
            }
        }
        for p in &self.buttons {
            let Some(b) = buttons.get(usize::from(p.index)) else {
                return Err(mismatch(format!(
                    "Template {name:?} has no button {}.",
                    p.index
                )));
            };
            let kind = b["type"].as_str().unwrap_or_default().to_ascii_uppercase();
            let fits = match p.kind.as_str() {
                "quick_reply" => kind == "QUICK_REPLY",
                "url" => kind == "URL" && b["url"].as_str().is_some_and(|u| u.contains("{{")),
                _ => false,
            };
            if !fits {
                return Err(mismatch(format!(
                    "Template {name:?}'s button {} ({}) takes no {} parameter.",
                    p.index,
                    kind.to_ascii_lowercase(),
                    p.kind
                )));
            }
        }
        Ok(())
    }

    /// Graph's template object, with `header_source` the media header's source (resolved at
    /// dispatch for an uploaded file).
    pub fn build(
        &self,
        name: &str,
        language: &str,
        header_source: Option<MediaSource>,
    ) -> Result<WaTemplate, String> {
        let mut t = WaTemplate::new(name, language).map_err(|e| e.to_string())?;
        if let Some(h) = &self.header {
            let p = match h {
                HeaderParam::Text { text } => Parameter::text(text),
                HeaderParam::Media { kind, link, .. } => {
                    let source = match (header_source, link) {
                        (Some(s), _) => s,
                        (None, Some(l)) => MediaSource::Link(l.clone()),
                        (None, None) => return Err("The header's file is unknown.".into()),
                    };
                    match kind.as_str() {
                        "image" => Parameter::image(source),
                        "video" => Parameter::video(source),
                        _ => Parameter::document(source, None),
                    }
                }
            };
            t = t
                .with(TemplateComponent::header(p))
                .map_err(|e| e.to_string())?;
        }
        let body: Vec<Parameter> = if self.named.is_empty() {
            self.positional.iter().map(Parameter::text).collect()
        } else {
            self.named
                .iter()
                .map(|(n, v)| Parameter::named(n, v))
                .collect()
        };
        if !body.is_empty() {
            t = t
                .with(TemplateComponent::body(body))
                .map_err(|e| e.to_string())?;
        }
        for b in &self.buttons {
            let c = match b.kind.as_str() {
                "quick_reply" => TemplateComponent::quick_reply(b.index, &b.value),
                _ => TemplateComponent {
                    kind: ComponentKind::Button,
                    sub_type: Some(ButtonSubType::Url),
                    index: Some(b.index),
                    parameters: vec![Parameter::text(&b.value)],
                },
            };
            t = t.with(c).map_err(|e| e.to_string())?;
        }
        Ok(t)
    }
}

/// "an image", "a video".
fn a_or_an(word: &str) -> String {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {word}")
    } else {
        format!("a {word}")
    }
}

/// The distinct placeholder names of a template text, in order of appearance.
pub fn placeholder_names(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !seen.iter().any(|s| s == name)
        {
            seen.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_store::templates::TemplateDef;

    fn stored(components: Value) -> StoredTemplate {
        StoredTemplate {
            id: "00000000-0000-7000-8000-000000000001".parse().unwrap(),
            channel: "00000000-0000-7000-8000-000000000002".parse().unwrap(),
            def: TemplateDef {
                name: "t".into(),
                language: "en_US".into(),
                category: "UTILITY".into(),
                status: "APPROVED".into(),
                body_params: 0,
                components,
            },
            updated_at: 0,
        }
    }

    fn args(body: Value) -> TemplateArgs {
        TemplateArgs::from_json(&body).unwrap()
    }

    #[test]
    fn named_parameters_must_name_exactly_the_templates_placeholders() {
        let t = stored(json!([{"type": "BODY", "text": "Hi {{first_name}}, order {{order_id}}."}]));
        assert!(
            args(json!({"params": {"first_name": "Ana", "order_id": "7"}}))
                .check(&t)
                .is_ok()
        );
        let e = args(json!({"params": {"first_name": "Ana"}}))
            .check(&t)
            .unwrap_err();
        assert_eq!(e.code, Code::TemplateParams);
        assert!(e.message.contains("missing: order_id"), "{}", e.message);
        let e = args(json!({"params": {"first_name": "Ana", "order_id": "7", "x": "y"}}))
            .check(&t)
            .unwrap_err();
        assert!(
            e.message.contains("not in the template: x"),
            "{}",
            e.message
        );
        let e = args(json!({"params": ["Ana", "7"]})).check(&t).unwrap_err();
        assert!(e.message.contains("as an object"), "{}", e.message);
    }

    #[test]
    fn positional_parameters_match_the_count_and_headers_and_buttons_their_components() {
        let t = stored(json!([
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Order {{1}} ships {{2}}."},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Stop"},
                {"type": "URL", "text": "Track", "url": "https://x.example/t/{{1}}"}
            ]}
        ]));
        let ok = json!({
            "params": ["7", "today"],
            "header": {"type": "image", "link": "https://x.example/a.jpg"},
            "buttons": [{"index": 1, "type": "url", "text": "7"}, {"index": 0, "type": "quick_reply", "payload": "stop"}]
        });
        assert!(args(ok.clone()).check(&t).is_ok());
        let mut no_header = ok.clone();
        no_header.as_object_mut().unwrap().remove("header");
        assert!(
            args(no_header)
                .check(&t)
                .unwrap_err()
                .message
                .contains("image header")
        );
        let mut text_header = ok.clone();
        text_header["header"] = json!({"type": "text", "text": "x"});
        assert_eq!(
            args(text_header).check(&t).unwrap_err().code,
            Code::TemplateParams
        );
        let mut no_url = ok.clone();
        no_url["buttons"] = json!([]);
        assert!(
            args(no_url)
                .check(&t)
                .unwrap_err()
                .message
                .contains("dynamic URL")
        );
        let mut wrong_button = ok.clone();
        wrong_button["buttons"] = json!([{"index": 1, "type": "url", "text": "7"}, {"index": 0, "type": "url", "text": "x"}]);
        assert_eq!(
            args(wrong_button).check(&t).unwrap_err().code,
            Code::TemplateParams
        );
        let mut one = ok;
        one["params"] = json!(["7"]);
        assert!(
            args(one)
                .check(&t)
                .unwrap_err()
                .message
                .contains("takes 2 body parameters")
        );
    }

    #[test]
    fn the_stored_form_reads_back_and_builds_graphs_components() {
        let a = args(json!({
            "params": {"first_name": "Ana"},
            "header": {"type": "text", "text": "Order 7"},
            "buttons": [{"index": 0, "type": "quick_reply", "payload": "stop"}]
        }));
        let mut body = json!({"template": "t", "language": "en_US"});
        a.to_stored(&mut body);
        assert_eq!(TemplateArgs::from_stored(&body), Some(a.clone()));
        // Entries queued before: params only.
        let old = TemplateArgs::from_stored(&json!({"params": ["x"]})).unwrap();
        assert_eq!(old.positional, ["x"]);
        let t = a.build("t", "en_US", None).unwrap();
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"name": "t", "language": {"code": "en_US"}, "components": [
                {"type": "header", "parameters": [{"type": "text", "text": "Order 7"}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana", "parameter_name": "first_name"}]},
                {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "stop"}]}
            ]})
        );
    }
}
