//! What a file is, decided by its first bytes (never by its name or declared type), and whether
//! WhatsApp takes it (§3 of Meta's media rules): image jpeg/png 5 MB; audio aac/amr/mp3/m4a/ogg
//! 16 MB; video mp4/3gp 16 MB; document txt/pdf/office 100 MB; sticker webp 100 KB static, 500 KB
//! animated. A name or declared type that says something else is refused rather than believed.

use crate::error::{AppError, Code};

const MB: u64 = 1024 * 1024;

/// Bytes the sniffer wants before it decides (it decides on fewer at the end of a file).
pub const SNIFF_LEN: usize = 64 * 1024;

/// A type WhatsApp accepts, as recognised from content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// image, audio, video, document or sticker.
    pub kind: &'static str,
    pub content_type: &'static str,
    /// What people call it, for messages.
    pub label: &'static str,
    /// The largest file WhatsApp takes of this type.
    pub limit: u64,
    /// File name extensions that go with it.
    extensions: &'static [&'static str],
}

const fn t(
    kind: &'static str,
    content_type: &'static str,
    label: &'static str,
    limit: u64,
    extensions: &'static [&'static str],
) -> Detected {
    Detected {
        kind,
        content_type,
        label,
        limit,
        extensions,
    }
}

const JPEG: Detected = t(
    "image",
    "image/jpeg",
    "a JPEG image",
    5 * MB,
    &["jpg", "jpeg"],
);
const PNG: Detected = t("image", "image/png", "a PNG image", 5 * MB, &["png"]);
const WEBP_STATIC: Detected = t(
    "sticker",
    "image/webp",
    "a WebP sticker",
    100 * 1024,
    &["webp"],
);
const WEBP_ANIMATED: Detected = t(
    "sticker",
    "image/webp",
    "an animated WebP sticker",
    500 * 1024,
    &["webp"],
);
const PDF: Detected = t(
    "document",
    "application/pdf",
    "a PDF document",
    100 * MB,
    &["pdf"],
);
const TEXT: Detected = t(
    "document",
    "text/plain",
    "a text document",
    100 * MB,
    &["txt", "text", "csv", "log"],
);
const DOCX: Detected = t(
    "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "a Word document",
    100 * MB,
    &["docx"],
);
const XLSX: Detected = t(
    "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "an Excel workbook",
    100 * MB,
    &["xlsx"],
);
const PPTX: Detected = t(
    "document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "a PowerPoint presentation",
    100 * MB,
    &["pptx"],
);
const OLE: Detected = t(
    "document",
    "application/msword",
    "an Office 97-2003 document",
    100 * MB,
    &["doc", "xls", "ppt"],
);
const MP4: Detected = t(
    "video",
    "video/mp4",
    "an MP4 video",
    16 * MB,
    &["mp4", "m4v"],
);
const THREE_GP: Detected = t(
    "video",
    "video/3gpp",
    "a 3GP video",
    16 * MB,
    &["3gp", "3gpp"],
);
const M4A: Detected = t(
    "audio",
    "audio/mp4",
    "an M4A audio file",
    16 * MB,
    &["m4a", "mp4"],
);
const OGG: Detected = t(
    "audio",
    "audio/ogg",
    "an Ogg audio file",
    16 * MB,
    &["ogg", "opus", "oga"],
);
const MP3: Detected = t(
    "audio",
    "audio/mpeg",
    "an MP3 audio file",
    16 * MB,
    &["mp3"],
);
const AAC: Detected = t("audio", "audio/aac", "an AAC audio file", 16 * MB, &["aac"]);
const AMR: Detected = t("audio", "audio/amr", "an AMR audio file", 16 * MB, &["amr"]);

/// Every type recognised (for the API's documentation and the mismatch check).
const ALL: &[Detected] = &[
    JPEG,
    PNG,
    WEBP_STATIC,
    PDF,
    TEXT,
    DOCX,
    XLSX,
    PPTX,
    OLE,
    MP4,
    THREE_GP,
    M4A,
    OGG,
    MP3,
    AAC,
    AMR,
];

/// The usual file name extension of an accepted content type (`bin` for anything else).
pub fn extension_for(content_type: &str) -> &'static str {
    ALL.iter()
        .find(|d| d.content_type == content_type)
        .and_then(|d| d.extensions.first().copied())
        .unwrap_or("bin")
}

fn unsupported(what: &str) -> AppError {
    AppError::new(
        Code::UnsupportedMedia,
        format!(
            "This file is {what}, which WhatsApp does not accept. Send a JPEG or PNG image, an MP4 or 3GP video, \
             AAC, AMR, MP3, M4A or Ogg audio, a PDF, text or Office document, or a WebP sticker."
        ),
    )
}

/// Decides what `head` (the file's first bytes, all of them if the file is shorter than
/// [`SNIFF_LEN`]) is. `whole` says `head` is the whole file.
pub fn sniff(head: &[u8], whole: bool) -> Result<Detected, AppError> {
    if head.is_empty() {
        return Err(AppError::new(Code::EmptyMedia, "The file is empty."));
    }
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(JPEG);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(PNG);
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        // VP8X carries an animation flag (bit 1 of the byte after the chunk header).
        let animated = head.len() > 20 && &head[12..16] == b"VP8X" && head[20] & 0x02 != 0;
        return Ok(if animated { WEBP_ANIMATED } else { WEBP_STATIC });
    }
    if starts(b"%PDF-") {
        return Ok(PDF);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        return Ok(match brand {
            b"M4A " | b"M4B " => M4A,
            b if b.starts_with(b"3g") => THREE_GP,
            b"isom" | b"iso2" | b"mp41" | b"mp42" | b"avc1" | b"M4V " | b"dash" | b"MSNV" => MP4,
            b"qt  " => return Err(unsupported("a QuickTime video")),
            b"heic" | b"heix" | b"mif1" | b"avif" => return Err(unsupported("a HEIC/AVIF image")),
            _ => MP4,
        });
    }
    if starts(b"OggS") {
        return Ok(OGG);
    }
    if starts(b"#!AMR") {
        return Ok(AMR);
    }
    if starts(b"ID3") {
        return Ok(MP3);
    }
    if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0 {
        return Ok(AAC);
    }
    if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 {
        return Ok(MP3);
    }
    if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Ok(OLE);
    }
    if starts(b"PK\x03\x04") {
        let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
        return if has(b"word/") {
            Ok(DOCX)
        } else if has(b"xl/") {
            Ok(XLSX)
        } else if has(b"ppt/") {
            Ok(PPTX)
        } else {
            Err(unsupported("a ZIP archive"))
        };
    }
    if starts(b"GIF8") {
        return Err(unsupported("a GIF image"));
    }
    if starts(b"MZ") || starts(b"\x7fELF") {
        return Err(unsupported("a program"));
    }
    text(head, whole)
}

/// Plain text: UTF-8 without NUL or other binary control bytes, and not markup a browser would
/// run (HTML, SVG, XML).
fn text(head: &[u8], whole: bool) -> Result<Detected, AppError> {
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A character cut at the end of the sniffed bytes is fine; anything else is binary.
        Err(e) if !whole && e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Err(unsupported("binary data of an unknown type")),
    };
    if valid
        .bytes()
        .any(|b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C)))
    {
        return Err(unsupported("binary data of an unknown type"));
    }
    let trimmed = valid.trim_start_matches('\u{feff}').trim_start();
    let start = trimmed.get(..64).unwrap_or(trimmed).to_ascii_lowercase();
    let markup = [
        "<!doctype",
        "<html",
        "<head",
        "<body",
        "<script",
        "<svg",
        "<?xml",
        "<iframe",
        "<!--",
    ];
    if markup.iter().any(|m| start.starts_with(m)) {
        return Err(unsupported("HTML or other markup"));
    }
    Ok(TEXT)
}

impl Detected {
    /// Refuses a file whose name or declared type names another type than its content.
    pub fn check_declared(
        &self,
        file_name: Option<&str>,
        declared_type: Option<&str>,
    ) -> Result<(), AppError> {
        if let Some(ext) = file_name
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase())
            && !self.extensions.contains(&ext.as_str())
            && let Some(named) = ALL.iter().find(|d| d.extensions.contains(&ext.as_str()))
        {
            return Err(AppError::new(
                Code::MediaTypeMismatch,
                format!(
                    "The file is {} but its name ends in .{ext}, which is {}. Rename it or pick the right file.",
                    self.label, named.label
                ),
            ));
        }
        let declared = declared_type
            .map(|d| {
                d.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|d| !d.is_empty() && d != "application/octet-stream");
        if let Some(d) = declared {
            let same = d == self.content_type
                || (d == "image/jpg" && self.content_type == "image/jpeg")
                || (d == "audio/mp3" && self.content_type == "audio/mpeg")
                || (d == "audio/opus" && self.content_type == "audio/ogg")
                || (d == "audio/x-m4a" && self.content_type == "audio/mp4")
                || (self.content_type == "application/msword"
                    && (d == "application/vnd.ms-excel" || d == "application/vnd.ms-powerpoint"))
                || (self.content_type == "text/plain"
                    && d.starts_with("text/")
                    && d != "text/html")
                || (self.content_type == "video/mp4" && d == "audio/mp4");
            if !same {
                return Err(AppError::new(
                    Code::MediaTypeMismatch,
                    format!("The file is {} but was declared as {d}.", self.label),
                ));
            }
        }
        Ok(())
    }

    /// Refuses a size over WhatsApp's limit for this type.
    pub fn check_size(&self, size: u64) -> Result<(), AppError> {
        if size > self.limit {
            return Err(AppError::new(
                Code::MediaTooLarge,
                format!(
                    "The file is larger than WhatsApp's limit of {} for {}.",
                    human(self.limit),
                    self.label
                ),
            ));
        }
        Ok(())
    }
}

fn human(bytes: u64) -> String {
    if bytes >= MB {
        format!("{} MB", bytes / MB)
    } else {
        format!("{} KB", bytes / 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_and_names_that_disagree_are_refused() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let d = sniff(png, true).unwrap();
        assert_eq!(d.content_type, "image/png");
        assert_eq!(d.check_declared(Some("cat.png"), Some("image/png")), Ok(()));
        assert_eq!(
            d.check_declared(None, Some("application/octet-stream")),
            Ok(())
        );
        let e = d.check_declared(Some("invoice.pdf"), None).unwrap_err();
        assert_eq!(e.code, Code::MediaTypeMismatch);
        let pdf = sniff(b"%PDF-1.7\n", true).unwrap();
        let e = pdf
            .check_declared(Some("x"), Some("image/png"))
            .unwrap_err();
        assert_eq!(e.code, Code::MediaTypeMismatch);
        assert_eq!(sniff(b"", true).unwrap_err().code, Code::EmptyMedia);
        for html in [
            &b"<!DOCTYPE html><script>alert(1)</script>"[..],
            b"  <svg onload=x>",
            b"\xef\xbb\xbf<html>",
        ] {
            assert_eq!(sniff(html, true).unwrap_err().code, Code::UnsupportedMedia);
        }
        assert_eq!(
            sniff(b"hello\nworld", true).unwrap().content_type,
            "text/plain"
        );
        assert_eq!(
            sniff(b"\x00\x01\x02binary", true).unwrap_err().code,
            Code::UnsupportedMedia
        );
        assert_eq!(
            sniff(b"PK\x03\x04....word/document.xml", false)
                .unwrap()
                .kind,
            "document"
        );
        assert_eq!(
            sniff(b"PK\x03\x04....other", false).unwrap_err().code,
            Code::UnsupportedMedia
        );
        assert_eq!(PNG.check_size(5 * MB), Ok(()));
        assert_eq!(
            PNG.check_size(5 * MB + 1).unwrap_err().code,
            Code::MediaTooLarge
        );
    }
}
