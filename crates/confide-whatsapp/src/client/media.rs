//! Media calls: upload, look up (`GET /{MEDIA_ID}`, [`MediaInfo`]), download with the allowlist,
//! size caps and checksum, and delete.

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use super::de::string_or_number;
use super::error::GraphError;
use super::graph_client::{
    GraphClient, check_id, error_from, read_limited, redirect_error, transport,
};
use super::media_limits::{media_size_limit, verify_sha256};
use crate::origin::{redact, redact_str};
use crate::send::SendError;

/// `GET /{MEDIA_ID}`: where and what the media is. The `url` expires after 5 minutes and needs the
/// Bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub mime_type: String,
    /// The SHA-256 of the file: hex from `GET /{MEDIA_ID}`, base64 in webhooks; both are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_u64_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_size: Option<u64>,
}

/// A size as a number or a numeric string; anything else counts as unknown.
fn opt_u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[derive(Deserialize)]
struct IdResponse {
    #[serde(deserialize_with = "string_or_number")]
    id: String,
}

impl GraphClient {
    /// `POST /{PHONE_NUMBER_ID}/media` (multipart: `messaging_product`, `type`, `file`); returns the
    /// media id. Refused before sending when the file exceeds its type's limit.
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        bytes: Vec<u8>,
        mime_type: &str,
        filename: &str,
    ) -> Result<String, GraphError> {
        check_id("phone_number_id", phone_number_id)?;
        if bytes.is_empty() {
            return Err(SendError::Empty { field: "file" }.into());
        }
        crate::send::check_text("filename", filename, crate::send::MAX_FILENAME, true)?;
        if filename.chars().any(char::is_control) {
            return Err(SendError::Invalid {
                field: "filename",
                reason: "must not contain control characters",
            }
            .into());
        }
        let limit = media_size_limit(mime_type).min(self.opts.max_download_bytes);
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if len > limit {
            return Err(GraphError::TooLarge {
                limit,
                announced: Some(len),
            });
        }
        let bad_mime = || SendError::Invalid {
            field: "type",
            reason: "not a MIME type",
        };
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str(mime_type)
            .map_err(|_| bad_mime())?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_owned())
            .part("file", part);
        let url = self.endpoint(&[phone_number_id, "media"])?;
        let rb = self
            .request(Method::POST, url)?
            .multipart(form)
            .timeout(self.opts.download_timeout);
        let r: IdResponse = self.call(rb).await?;
        Ok(r.id)
    }

    /// `GET /{MEDIA_ID}`: the media's (5-minute) download URL, type, checksum and size.
    pub async fn media_info(&self, media_id: &str) -> Result<MediaInfo, GraphError> {
        check_id("media id", media_id)?;
        let url = self.endpoint(&[media_id])?;
        self.call(self.request(Method::GET, url)?).await
    }

    /// Downloads `info.url` with the token. The URL must be on the allowlist (else
    /// [`GraphError::Disallowed`], nothing sent); the size is capped by type and by
    /// [`GraphClientOptions::max_download_bytes`](super::GraphClientOptions::max_download_bytes)
    /// (announced size first, then a running count); the `sha256`, when given (hex or base64),
    /// must match. A 404 is [`GraphError::MediaUrlExpired`].
    pub async fn download_media(&self, info: &MediaInfo) -> Result<Vec<u8>, GraphError> {
        let url =
            Url::parse(&info.url).map_err(|_| GraphError::Disallowed(redact_str(&info.url)))?;
        if !self.allow.allows(&url) {
            return Err(GraphError::Disallowed(redact(&url)));
        }
        let limit = media_size_limit(&info.mime_type).min(self.opts.max_download_bytes);
        if let Some(size) = info.file_size
            && size > limit
        {
            return Err(GraphError::TooLarge {
                limit,
                announced: Some(size),
            });
        }
        let rb = self
            .request(Method::GET, url)?
            .timeout(self.opts.download_timeout);
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(redirect_error(&resp));
        }
        if status == StatusCode::NOT_FOUND {
            return Err(GraphError::MediaUrlExpired);
        }
        if !status.is_success() {
            return Err(error_from(resp).await);
        }
        let data = read_limited(resp, limit).await?;
        verify_sha256(info.sha256.as_deref(), &data)?;
        Ok(data)
    }

    /// [`Self::media_info`] then [`Self::download_media`], asking for a fresh URL once if the first
    /// one expired in between.
    pub async fn fetch_media(&self, media_id: &str) -> Result<(MediaInfo, Vec<u8>), GraphError> {
        let info = self.media_info(media_id).await?;
        match self.download_media(&info).await {
            Err(GraphError::MediaUrlExpired) => {
                let info = self.media_info(media_id).await?;
                let data = self.download_media(&info).await?;
                Ok((info, data))
            }
            other => other.map(|data| (info, data)),
        }
    }

    /// `DELETE /{MEDIA_ID}`.
    pub async fn delete_media(&self, media_id: &str) -> Result<(), GraphError> {
        check_id("media id", media_id)?;
        let url = self.endpoint(&[media_id])?;
        self.expect_success(self.request(Method::DELETE, url)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_info_shapes() {
        let m: MediaInfo = serde_json::from_str(
            r#"{"messaging_product":"whatsapp","url":"https://x/y","mime_type":"image/png","sha256":"ab","file_size":"12","id":123}"#,
        )
        .unwrap();
        assert_eq!(m.id, "123");
        assert_eq!(m.file_size, Some(12));
        let m: MediaInfo = serde_json::from_str(r#"{"url":"u","id":"9","file_size":7}"#).unwrap();
        assert_eq!((m.file_size, m.sha256), (Some(7), None));
    }
}
