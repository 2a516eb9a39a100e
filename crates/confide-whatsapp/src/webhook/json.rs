//! Small, strict accessors over `serde_json` maps, returning reasons fit for a log line.
//!
//! Reasons name fields, never echo values: message bodies and phone numbers are personal data and
//! must not leak into logs through a parse error.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub(crate) type Obj = Map<String, Value>;

/// Longest reason kept; anything longer is cut at a character boundary.
const MAX_REASON: usize = 200;

/// `key` absent or null: `None`; a string: `Some`; anything else: an error.
pub(crate) fn opt_str(obj: &Obj, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("`{key}` should be a string, found {}", kind(other))),
    }
}

/// Like [`opt_str`], but an integer is accepted too (Meta writes some ids as numbers).
pub(crate) fn opt_id(obj: &Obj, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        _ => opt_str(obj, key),
    }
}

/// A string or integer id that must be present and non-empty.
pub(crate) fn req_id(obj: &Obj, key: &str) -> Result<String, String> {
    match opt_id(obj, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("`{key}` is empty")),
        None => Err(format!("missing `{key}`")),
    }
}

/// A string that must be present (it may be empty).
pub(crate) fn req_str(obj: &Obj, key: &str) -> Result<String, String> {
    opt_str(obj, key)?.ok_or_else(|| format!("missing `{key}`"))
}

/// A Unix-seconds timestamp: Meta sends a string of digits; an integer is accepted too.
pub(crate) fn timestamp(obj: &Obj, key: &str) -> Result<i64, String> {
    opt_timestamp(obj, key)?.ok_or_else(|| format!("missing `{key}`"))
}

/// An optional Unix-seconds timestamp, strict when present.
pub(crate) fn opt_timestamp(obj: &Obj, key: &str) -> Result<Option<i64>, String> {
    let bad = || format!("`{key}` is not a Unix timestamp");
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().filter(|t| *t >= 0).map(Some).ok_or_else(bad),
        Some(Value::String(s)) => {
            let digits_only =
                !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
            if !digits_only {
                return Err(bad());
            }
            s.parse::<i64>().map(Some).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}

/// `key` absent or null: an empty slice; an array: its items; anything else: an error.
pub(crate) fn opt_array<'a>(obj: &'a Obj, key: &str) -> Result<&'a [Value], String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("`{key}` should be an array, found {}", kind(other))),
    }
}

/// `key` absent or null: `None`; an object: `Some`; anything else: an error.
pub(crate) fn opt_object<'a>(obj: &'a Obj, key: &str) -> Result<Option<&'a Obj>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(format!(
            "`{key}` should be an object, found {}",
            kind(other)
        )),
    }
}

/// Deserialises a typed part, describing a failure without echoing input values.
pub(crate) fn typed<T: DeserializeOwned>(what: &str, value: &Value) -> Result<T, String> {
    T::deserialize(value).map_err(|e| format!("{what}: {}", redact(&e.to_string())))
}

/// The JSON kind of a value, for reasons.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Removes quoted input from a serde message (`invalid type: string "Hola", expected ...`
/// becomes `invalid type: string "…", expected ...`) and bounds its length.
pub(crate) fn redact(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(MAX_REASON));
    let mut chars = msg.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            out.push_str("\"…\"");
            // serde quotes with Debug escaping: skip to the unescaped closing quote.
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => escaped = false,
                }
            }
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    bounded(out)
}

/// Cuts a reason to [`MAX_REASON`] bytes at a character boundary.
pub(crate) fn bounded(mut s: String) -> String {
    if s.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Obj {
        match v {
            Value::Object(o) => o,
            _ => Obj::new(),
        }
    }

    #[test]
    fn timestamps() {
        let o = obj(
            json!({"a":"1749416383","b":1749416383,"c":"17x","d":"","e":-5,"f":"-5","g":"+5","h":1.5,
            "i":"99999999999999999999"}),
        );
        assert_eq!(timestamp(&o, "a"), Ok(1_749_416_383));
        assert_eq!(timestamp(&o, "b"), Ok(1_749_416_383));
        for k in ["c", "d", "e", "f", "g", "h", "i", "missing"] {
            assert!(timestamp(&o, k).is_err(), "{k}");
        }
    }

    #[test]
    fn redaction_hides_values() {
        let r = redact(r#"invalid type: string "Hola \"x\" secreto", expected u64 at line 1"#);
        assert_eq!(r, "invalid type: string \"…\", expected u64 at line 1");
        let long = "x".repeat(500);
        assert!(redact(&long).len() <= MAX_REASON + '…'.len_utf8());
        assert_eq!(redact("a\nb"), "a b");
    }

    #[test]
    fn ids_accept_numbers() {
        let o = obj(json!({"n": 594425479261596_u64, "s": "x", "e": "", "b": true}));
        assert_eq!(req_id(&o, "n"), Ok("594425479261596".to_string()));
        assert_eq!(req_id(&o, "s"), Ok("x".to_string()));
        assert!(req_id(&o, "e").is_err());
        assert!(req_id(&o, "b").is_err());
        assert!(req_id(&o, "none").is_err());
    }
}
