//! Media: the MIME allowlist and size limits of §3, stored blobs, and a small
//! `multipart/form-data` reader for uploads.

use std::sync::Arc;
use time::OffsetDateTime;

/// How long a download URL from `GET /{media_id}` works.
pub const URL_LIFETIME_SECS: i64 = 5 * 60;
/// Uploaded media live 30 days, media received in webhooks 7.
pub const UPLOADED_LIFETIME_DAYS: i64 = 30;
pub const INBOUND_LIFETIME_DAYS: i64 = 7;

const MB: usize = 1024 * 1024;

/// The upload limit for a MIME type (parameters such as `; codecs=opus` ignored), or `None` when
/// the type is not accepted.
pub fn limit_for(mime: &str) -> Option<usize> {
    let base = base_mime(mime);
    let limit = match base.as_str() {
        "image/jpeg" | "image/png" => 5 * MB,
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => 16 * MB,
        "video/mp4" | "video/3gpp" => 16 * MB,
        "text/plain"
        | "application/pdf"
        | "application/msword"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => 100 * MB,
        // 100 KB static, 500 KB animated; an upload cannot tell which, so the larger.
        "image/webp" => 500 * 1024,
        _ => return None,
    };
    Some(limit)
}

/// The accepted types, for error messages.
pub const ALLOWED: &str = "audio/aac, audio/amr, audio/mpeg, audio/mp4, audio/ogg, image/jpeg, image/png, image/webp, video/mp4, video/3gpp, text/plain, application/pdf, application/msword, application/vnd.ms-excel, application/vnd.ms-powerpoint, application/vnd.openxmlformats-officedocument.*";

/// `image/JPEG; q=1` → `image/jpeg`.
pub fn base_mime(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A blob the simulator holds.
#[derive(Debug, Clone)]
pub struct StoredMedia {
    pub id: String,
    pub phone_number_id: String,
    pub mime_type: String,
    pub data: Arc<Vec<u8>>,
    pub sha256_hex: String,
    pub expires_at: OffsetDateTime,
}

/// A download URL handed out by `GET /{media_id}`.
#[derive(Debug, Clone)]
pub struct IssuedUrl {
    pub media_id: String,
    pub expires_at: OffsetDateTime,
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() || from > hay.len() - needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut it = content_type.split(';');
    let kind = it.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    it.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
    .filter(|b| !b.is_empty())
}

fn header_param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Splits a `multipart/form-data` body; `None` when it is malformed.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let b = boundary(content_type)?;
    let delim = format!("--{b}");
    let mut pos = find(body, delim.as_bytes(), 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(pos..pos + 2) == Some(b"\r\n") {
            pos += 2;
        } else {
            return None;
        }
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = std::str::from_utf8(&body[pos..head_end]).ok()?;
        let next = find(body, format!("\r\n{delim}").as_bytes(), head_end + 4)?;
        let data = body[head_end + 4..next].to_vec();
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = header_param(v, "name");
                filename = header_param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_owned());
            }
        }
        parts.push(Part {
            name: name?,
            filename,
            content_type,
            data,
        });
        pos = next + 2 + delim.len();
    }
}

/// Builds a `multipart/form-data` body (for clients and tests): `(content type, body)`.
pub fn build_multipart(boundary: &str, fields: &[Part]) -> (String, Vec<u8>) {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disp = format!("Content-Disposition: form-data; name=\"{}\"", f.name);
        if let Some(fname) = &f.filename {
            disp.push_str(&format!("; filename=\"{fname}\""));
        }
        out.extend_from_slice(disp.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(ct) = &f.content_type {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&f.data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit_for("image/jpeg"), Some(5 * MB));
        assert_eq!(limit_for("audio/ogg; codecs=opus"), Some(16 * MB));
        assert_eq!(limit_for("image/gif"), None);
        assert_eq!(limit_for("image/webp"), Some(500 * 1024));
    }

    #[test]
    fn multipart_round_trip() {
        let fields = vec![
            Part {
                name: "messaging_product".into(),
                filename: None,
                content_type: None,
                data: b"whatsapp".to_vec(),
            },
            Part {
                name: "file".into(),
                filename: Some("a.jpg".into()),
                content_type: Some("image/jpeg".into()),
                data: b"\xff\xd8\r\n--not-boundary\r\n\xff\xd9".to_vec(),
            },
        ];
        let (ct, body) = build_multipart("XyZ123", &fields);
        let parsed = parse_multipart(&ct, &body).unwrap();
        assert_eq!(parsed, fields);
        assert!(parse_multipart("text/plain", &body).is_none());
        assert!(parse_multipart(&ct, b"garbage").is_none());
    }
}
