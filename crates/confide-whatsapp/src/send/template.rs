//! Outbound template messages: `{name, language:{code}, components:[…]}`.

use super::error::{SendError, check_text};
use super::limits::*;
use super::media::{MediaKind, MediaObject, MediaSource};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A template message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: Language,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<TemplateComponent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    /// `en_US`, `pt_BR`, `de`, …
    pub code: String,
}

/// One component's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateComponent {
    #[serde(rename = "type")]
    pub kind: ComponentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<ButtonSubType>,
    /// Button position, sent as a string (`"0"`) as Meta documents; a number is read too.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "index_string"
    )]
    pub index: Option<u8>,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    Header,
    Body,
    Button,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonSubType {
    QuickReply,
    Url,
    CopyCode,
    Flow,
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Parameter {
    /// `{type:"text", text, parameter_name?}`; `parameter_name` for templates with named parameters.
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_name: Option<String>,
    },
    /// Media headers: `{type:"image", image:{link|id}}`.
    Image {
        image: MediaObject,
    },
    Video {
        video: MediaObject,
    },
    Document {
        document: MediaObject,
    },
    /// Quick-reply button payload, returned in the `button` webhook when tapped.
    Payload {
        payload: String,
    },
}

impl Parameter {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            parameter_name: None,
        }
    }

    pub fn named(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            parameter_name: Some(name.into()),
        }
    }

    pub fn image(source: MediaSource) -> Self {
        Self::Image {
            image: MediaObject {
                source,
                caption: None,
                filename: None,
            },
        }
    }

    pub fn video(source: MediaSource) -> Self {
        Self::Video {
            video: MediaObject {
                source,
                caption: None,
                filename: None,
            },
        }
    }

    pub fn document(source: MediaSource, filename: Option<String>) -> Self {
        Self::Document {
            document: MediaObject {
                source,
                caption: None,
                filename,
            },
        }
    }

    fn validate(&self) -> Result<(), SendError> {
        match self {
            Self::Text {
                text,
                parameter_name,
            } => {
                check_text(
                    "template text parameter",
                    text,
                    MAX_TEMPLATE_TEXT_PARAM,
                    true,
                )?;
                // Meta refuses these with 132018; catch it before the round trip.
                if text.contains(['\n', '\t']) || text.contains("     ") {
                    return Err(SendError::Invalid {
                        field: "template text parameter",
                        reason: "no new-line or tab characters, and no more than 4 consecutive spaces",
                    });
                }
                if let Some(n) = parameter_name {
                    check_text("parameter_name", n, 512, true)?;
                }
                Ok(())
            }
            Self::Image { image } => media_param(image, MediaKind::Image),
            Self::Video { video } => media_param(video, MediaKind::Video),
            Self::Document { document } => media_param(document, MediaKind::Document),
            Self::Payload { payload } => check_text("button payload", payload, MAX_BUTTON_ID, true),
        }
    }
}

fn media_param(m: &MediaObject, kind: MediaKind) -> Result<(), SendError> {
    if m.caption.is_some() {
        return Err(SendError::NotAllowed {
            field: "caption",
            kind: "template header",
        });
    }
    m.validate(kind)
}

impl TemplateComponent {
    /// The body's parameters, in order.
    pub fn body(parameters: Vec<Parameter>) -> Self {
        Self {
            kind: ComponentKind::Body,
            sub_type: None,
            index: None,
            parameters,
        }
    }

    /// A header with one parameter (text or media).
    pub fn header(parameter: Parameter) -> Self {
        Self {
            kind: ComponentKind::Header,
            sub_type: None,
            index: None,
            parameters: vec![parameter],
        }
    }

    /// The quick-reply button at `index` carrying `payload`.
    pub fn quick_reply(index: u8, payload: impl Into<String>) -> Self {
        Self {
            kind: ComponentKind::Button,
            sub_type: Some(ButtonSubType::QuickReply),
            index: Some(index),
            parameters: vec![Parameter::Payload {
                payload: payload.into(),
            }],
        }
    }

    fn validate(&self) -> Result<(), SendError> {
        match self.kind {
            ComponentKind::Button => {
                if self.sub_type.is_none() || self.index.is_none() {
                    return Err(SendError::Invalid {
                        field: "button component",
                        reason: "needs sub_type and index",
                    });
                }
            }
            ComponentKind::Header => {
                if self.parameters.len() > 1 {
                    return Err(SendError::TooMany {
                        field: "header parameters",
                        len: self.parameters.len(),
                        max: 1,
                    });
                }
            }
            ComponentKind::Body => {}
        }
        for p in &self.parameters {
            let ok = match (self.kind, p) {
                (ComponentKind::Header, Parameter::Payload { .. }) => false,
                (ComponentKind::Body, Parameter::Text { .. }) => true,
                (ComponentKind::Body, _) => false,
                (ComponentKind::Button, Parameter::Payload { .. } | Parameter::Text { .. }) => true,
                (ComponentKind::Button, _) => false,
                (ComponentKind::Header, _) => true,
            };
            if !ok {
                return Err(SendError::Invalid {
                    field: "template parameter",
                    reason: "wrong type for its component",
                });
            }
            p.validate()?;
        }
        Ok(())
    }
}

impl Template {
    /// A template by name and language code, with no parameters yet.
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Result<Self, SendError> {
        let t = Self {
            name: name.into(),
            language: Language {
                code: language.into(),
            },
            components: Vec::new(),
        };
        t.validate()?;
        Ok(t)
    }

    /// Adds a component, checking it.
    pub fn with(mut self, component: TemplateComponent) -> Result<Self, SendError> {
        component.validate()?;
        self.components.push(component);
        Ok(self)
    }

    /// How many body parameters this message fills, to compare with
    /// [`super::TemplateInfo::count_body_params`] before sending (a mismatch is Meta's 132000).
    pub fn body_param_count(&self) -> usize {
        self.components
            .iter()
            .filter(|c| c.kind == ComponentKind::Body)
            .map(|c| c.parameters.len())
            .sum()
    }

    pub fn validate(&self) -> Result<(), SendError> {
        check_text("template name", &self.name, MAX_TEMPLATE_NAME, true)?;
        check_text("template language", &self.language.code, 16, true)?;
        let bodies = self
            .components
            .iter()
            .filter(|c| c.kind == ComponentKind::Body)
            .count();
        let headers = self
            .components
            .iter()
            .filter(|c| c.kind == ComponentKind::Header)
            .count();
        if bodies > 1 || headers > 1 {
            return Err(SendError::Invalid {
                field: "template components",
                reason: "at most one header and one body",
            });
        }
        let mut indexes: Vec<u8> = self.components.iter().filter_map(|c| c.index).collect();
        indexes.sort_unstable();
        if indexes.windows(2).any(|w| w[0] == w[1]) {
            return Err(SendError::DuplicateId {
                field: "template button index",
            });
        }
        self.components
            .iter()
            .try_for_each(TemplateComponent::validate)
    }
}

mod index_string {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<u8>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(i) => s.serialize_str(&i.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            N(u8),
            S(String),
        }
        match Option::<Either>::deserialize(d)? {
            None => Ok(None),
            Some(Either::N(n)) => Ok(Some(n)),
            Some(Either::S(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}
