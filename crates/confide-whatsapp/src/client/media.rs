//! Media objects, per-type size limits and the announced checksum.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::GraphError;

/// The largest media file WhatsApp carries (documents): 100 MB.
pub const MAX_MEDIA_BYTES: u64 = 100 * MIB;
const MIB: u64 = 1024 * 1024;

/// `GET /{PHONE_NUMBER_ID}`: the business number as Meta sees it. Asking for it is how a
/// channel's token is checked: it answers only for a token allowed to act for the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumberInfo {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
    #[serde(default)]
    pub quality_rating: Option<String>,
}

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

/// The download limit for a MIME type (whatsapp-cloud-api.md §3): images 5 MB, stickers (webp)
/// 500 KB, audio and video 16 MB, anything else (documents, unknown types) 100 MB.
pub fn media_size_limit(mime: &str) -> u64 {
    let base = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if base == "image/webp" {
        500 * 1024
    } else if base.starts_with("image/") {
        5 * MIB
    } else if base.starts_with("audio/") || base.starts_with("video/") {
        16 * MIB
    } else {
        MAX_MEDIA_BYTES
    }
}

/// Decodes an announced SHA-256: 64 hex digits, or base64 (standard or URL-safe, padded or not)
/// of 32 bytes.
pub fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    let mut out = [0u8; 32];
    if s.len() == 64 && hex::decode_to_slice(s, &mut out).is_ok() {
        return Some(out);
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for e in engines {
        if let Ok(v) = e.decode(s)
            && let Ok(arr) = <[u8; 32]>::try_from(v.as_slice())
        {
            return Some(arr);
        }
    }
    None
}

/// Checks `data` against the announced checksum, if any.
pub(crate) fn verify_sha256(expected: Option<&str>, data: &[u8]) -> Result<(), GraphError> {
    let Some(expected) = expected.filter(|s| !s.trim().is_empty()) else {
        return Ok(());
    };
    let want = parse_sha256(expected).ok_or_else(|| {
        GraphError::Decode(
            "the announced media sha256 is neither hex nor base64 of 32 bytes".into(),
        )
    })?;
    let got: [u8; 32] = Sha256::digest(data).into();
    if got == want {
        Ok(())
    } else {
        Err(GraphError::ChecksumMismatch {
            expected: hex::encode(want),
            actual: hex::encode(got),
        })
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(u64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    })
}

/// A size as a number or a numeric string; anything else counts as unknown.
fn opt_u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(media_size_limit("image/jpeg"), 5 * MIB);
        assert_eq!(media_size_limit("IMAGE/PNG; x=y"), 5 * MIB);
        assert_eq!(media_size_limit("image/webp"), 500 * 1024);
        assert_eq!(media_size_limit("audio/ogg; codecs=opus"), 16 * MIB);
        assert_eq!(media_size_limit("video/mp4"), 16 * MIB);
        assert_eq!(media_size_limit("application/pdf"), MAX_MEDIA_BYTES);
        assert_eq!(media_size_limit(""), MAX_MEDIA_BYTES);
    }

    #[test]
    fn checksum_forms() {
        let data = b"hello";
        let digest: [u8; 32] = Sha256::digest(data).into();
        let hex_form = hex::encode(digest);
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        for form in [&hex_form, &hex_form.to_uppercase(), &b64, &b64url] {
            assert_eq!(parse_sha256(form), Some(digest), "{form}");
            assert_eq!(verify_sha256(Some(form), data), Ok(()));
        }
        assert!(matches!(
            verify_sha256(Some(&b64), b"other"),
            Err(GraphError::ChecksumMismatch { .. })
        ));
        assert_eq!(
            parse_sha256("a2V5c3RpY2tlcg=="),
            None,
            "base64 but not 32 bytes"
        );
        assert!(matches!(
            verify_sha256(Some("zz"), data),
            Err(GraphError::Decode(_))
        ));
        assert_eq!(verify_sha256(None, data), Ok(()));
        assert_eq!(verify_sha256(Some(""), data), Ok(()));
    }

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
