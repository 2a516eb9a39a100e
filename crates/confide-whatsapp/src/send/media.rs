//! Media objects (`{id | link, caption?, filename?}`) and the five media kinds, shared by media
//! messages and template header parameters.

use super::error::{SendError, check_text};
use super::limits::*;
use serde::{Deserialize, Serialize};

/// Where Meta gets a media file: an uploaded id, or a link it fetches (and caches 10 minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaSource {
    Id(String),
    Link(String),
}

/// A media object: `{id | link, caption?, filename?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaObject {
    #[serde(flatten)]
    pub source: MediaSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

impl MediaObject {
    /// Checks the source, and caption/filename against what `kind` allows.
    pub fn validate(&self, kind: MediaKind) -> Result<(), SendError> {
        match &self.source {
            MediaSource::Id(id) => check_text("media id", id, MAX_BUTTON_ID, true)?,
            MediaSource::Link(link) => {
                check_text("media link", link, 2048, true)?;
                if !(link.starts_with("https://") || link.starts_with("http://")) {
                    return Err(SendError::Invalid {
                        field: "media link",
                        reason: "must be an http(s) URL",
                    });
                }
            }
        }
        if let Some(c) = &self.caption {
            if !kind.allows_caption() {
                return Err(SendError::NotAllowed {
                    field: "caption",
                    kind: kind.as_str(),
                });
            }
            check_text("caption", c, MAX_CAPTION, false)?;
        }
        if let Some(f) = &self.filename {
            if kind != MediaKind::Document {
                return Err(SendError::NotAllowed {
                    field: "filename",
                    kind: kind.as_str(),
                });
            }
            check_text("filename", f, MAX_FILENAME, true)?;
        }
        Ok(())
    }
}

/// The five media message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    /// Image, video and document take a caption; audio and sticker do not.
    pub fn allows_caption(self) -> bool {
        matches!(self, Self::Image | Self::Video | Self::Document)
    }
}
