//! Outbound interactive messages: reply buttons and lists.

use super::error::{SendError, check_text};
use super::limits::*;
use serde::{Deserialize, Serialize};

/// `{text}` as used by interactive header, body and footer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextObject {
    pub text: String,
}

/// A text header (`{"type":"text","text":…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TextHeader {
    #[serde(rename = "type")]
    kind: String,
    text: String,
}

/// An interactive message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Interactive {
    /// Up to 3 reply buttons.
    Button {
        #[serde(default, skip_serializing_if = "Option::is_none", with = "text_header")]
        header: Option<String>,
        body: TextObject,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: ButtonAction,
    },
    /// A menu of up to 10 rows in up to 10 sections, opened by a button.
    List {
        #[serde(default, skip_serializing_if = "Option::is_none", with = "text_header")]
        header: Option<String>,
        body: TextObject,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: ListAction,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonAction {
    pub buttons: Vec<ReplyButton>,
}

/// A reply button; on the wire `{"type":"reply","reply":{"id","title"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireButton", into = "WireButton")]
pub struct ReplyButton {
    /// Returned in the `button_reply` webhook (≤ 256).
    pub id: String,
    /// Shown on the button (≤ 20).
    pub title: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct WireButton {
    #[serde(rename = "type")]
    kind: String,
    reply: WireReply,
}

#[derive(Clone, Serialize, Deserialize)]
struct WireReply {
    id: String,
    title: String,
}

impl From<ReplyButton> for WireButton {
    fn from(b: ReplyButton) -> Self {
        Self {
            kind: "reply".into(),
            reply: WireReply {
                id: b.id,
                title: b.title,
            },
        }
    }
}

impl From<WireButton> for ReplyButton {
    fn from(w: WireButton) -> Self {
        Self {
            id: w.reply.id,
            title: w.reply.title,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAction {
    /// The label of the button that opens the list (≤ 20).
    pub button: String,
    pub sections: Vec<ListSection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSection {
    /// Required when there is more than one section (≤ 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRow {
    /// Returned in the `list_reply` webhook (≤ 200).
    pub id: String,
    /// ≤ 24.
    pub title: String,
    /// ≤ 72.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl ReplyButton {
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
        }
    }
}

impl Interactive {
    /// Reply buttons: 1 to 3, titles ≤ 20, ids ≤ 256 and distinct; body ≤ 1024.
    pub fn buttons(body: impl Into<String>, buttons: Vec<ReplyButton>) -> Result<Self, SendError> {
        let i = Self::Button {
            header: None,
            body: TextObject { text: body.into() },
            footer: None,
            action: ButtonAction { buttons },
        };
        i.validate()?;
        Ok(i)
    }

    /// A list: button label ≤ 20, 1 to 10 sections, 1 to 10 rows in all, ids distinct.
    pub fn list(
        body: impl Into<String>,
        button: impl Into<String>,
        sections: Vec<ListSection>,
    ) -> Result<Self, SendError> {
        let i = Self::List {
            header: None,
            body: TextObject { text: body.into() },
            footer: None,
            action: ListAction {
                button: button.into(),
                sections,
            },
        };
        i.validate()?;
        Ok(i)
    }

    /// Sets a text header (≤ 60).
    pub fn with_header(mut self, text: impl Into<String>) -> Result<Self, SendError> {
        match &mut self {
            Self::Button { header, .. } | Self::List { header, .. } => *header = Some(text.into()),
        }
        self.validate()?;
        Ok(self)
    }

    /// Sets a footer (≤ 60).
    pub fn with_footer(mut self, text: impl Into<String>) -> Result<Self, SendError> {
        match &mut self {
            Self::Button { footer, .. } | Self::List { footer, .. } => {
                *footer = Some(TextObject { text: text.into() })
            }
        }
        self.validate()?;
        Ok(self)
    }

    pub fn validate(&self) -> Result<(), SendError> {
        let (header, body, footer) = match self {
            Self::Button {
                header,
                body,
                footer,
                ..
            }
            | Self::List {
                header,
                body,
                footer,
                ..
            } => (header, body, footer),
        };
        check_text("interactive body", &body.text, MAX_INTERACTIVE_BODY, true)?;
        if let Some(h) = header {
            check_text("interactive header", h, MAX_INTERACTIVE_HEADER, true)?;
        }
        if let Some(f) = footer {
            check_text("interactive footer", &f.text, MAX_INTERACTIVE_FOOTER, true)?;
        }
        match self {
            Self::Button { action, .. } => validate_buttons(&action.buttons),
            Self::List { action, .. } => validate_list(action),
        }
    }
}

fn validate_buttons(buttons: &[ReplyButton]) -> Result<(), SendError> {
    if buttons.is_empty() {
        return Err(SendError::Empty { field: "buttons" });
    }
    if buttons.len() > MAX_REPLY_BUTTONS {
        return Err(SendError::TooMany {
            field: "buttons",
            len: buttons.len(),
            max: MAX_REPLY_BUTTONS,
        });
    }
    for b in buttons {
        check_text("button id", &b.id, MAX_BUTTON_ID, true)?;
        check_text("button title", &b.title, MAX_BUTTON_TITLE, true)?;
    }
    distinct("button id", buttons.iter().map(|b| b.id.as_str()))?;
    distinct("button title", buttons.iter().map(|b| b.title.as_str()))
}

fn validate_list(action: &ListAction) -> Result<(), SendError> {
    check_text("list button", &action.button, MAX_LIST_BUTTON, true)?;
    let sections = &action.sections;
    if sections.is_empty() {
        return Err(SendError::Empty { field: "sections" });
    }
    if sections.len() > MAX_LIST_SECTIONS {
        return Err(SendError::TooMany {
            field: "sections",
            len: sections.len(),
            max: MAX_LIST_SECTIONS,
        });
    }
    let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
    if rows > MAX_LIST_ROWS {
        return Err(SendError::TooMany {
            field: "rows",
            len: rows,
            max: MAX_LIST_ROWS,
        });
    }
    for s in sections {
        if s.rows.is_empty() {
            return Err(SendError::Empty {
                field: "section rows",
            });
        }
        match &s.title {
            Some(t) => check_text("section title", t, MAX_SECTION_TITLE, true)?,
            None if sections.len() > 1 => {
                return Err(SendError::Empty {
                    field: "section title",
                });
            }
            None => {}
        }
        for r in &s.rows {
            check_text("row id", &r.id, MAX_ROW_ID, true)?;
            check_text("row title", &r.title, MAX_ROW_TITLE, true)?;
            if let Some(d) = &r.description {
                check_text("row description", d, MAX_ROW_DESCRIPTION, false)?;
            }
        }
    }
    distinct(
        "row id",
        sections
            .iter()
            .flat_map(|s| s.rows.iter().map(|r| r.id.as_str())),
    )
}

fn distinct<'a>(field: &'static str, ids: impl Iterator<Item = &'a str>) -> Result<(), SendError> {
    let mut seen: Vec<&str> = ids.collect();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        Err(SendError::DuplicateId { field })
    } else {
        Ok(())
    }
}

mod text_header {
    use super::TextHeader;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|t| TextHeader {
                kind: "text".into(),
                text: t.clone(),
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<TextHeader>::deserialize(d)?.map(|h| h.text))
    }
}
