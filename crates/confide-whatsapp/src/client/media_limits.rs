//! Media limits and checksums: the largest file WhatsApp carries, the per-type download limits,
//! and the announced SHA-256 a download must match.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error::GraphError;

/// The largest media file WhatsApp carries (documents): 100 MB.
pub const MAX_MEDIA_BYTES: u64 = 100 * MIB;
const MIB: u64 = 1024 * 1024;

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
}
