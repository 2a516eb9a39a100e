//! Meta's webhook bodies escape every non-ASCII character as `\uXXXX` (UTF-16 code units,
//! lowercase hex, surrogate pairs above U+FFFF). serde_json writes UTF-8, so the serialized
//! text is post-processed. Outside strings JSON is pure ASCII, so escaping every non-ASCII
//! character is always correct.

use std::fmt::Write as _;

/// Escapes every char above U+007F of already-serialized JSON as `\uXXXX`.
pub fn escape_non_ascii(json: &str) -> String {
    if json.is_ascii() {
        return json.to_owned();
    }
    let mut out = String::with_capacity(json.len() + json.len() / 4);
    let mut units = [0u16; 2];
    for ch in json.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            for unit in ch.encode_utf16(&mut units) {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// Serializes `value` compactly and escapes non-ASCII, as Meta sends it.
pub fn to_meta_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(value).map(|s| escape_non_ascii(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bmp_and_astral() {
        let s = serde_json::to_string(&serde_json::json!({"t": "Grüße ✓ 👍"})).unwrap();
        let e = escape_non_ascii(&s);
        assert_eq!(e, r#"{"t":"Gr\u00fc\u00dfe \u2713 \ud83d\udc4d"}"#);
        assert!(e.is_ascii());
        let back: serde_json::Value = serde_json::from_str(&e).unwrap();
        assert_eq!(back["t"], "Grüße ✓ 👍");
    }

    #[test]
    fn ascii_unchanged() {
        assert_eq!(escape_non_ascii(r#"{"a":"b\n"}"#), r#"{"a":"b\n"}"#);
    }
}
