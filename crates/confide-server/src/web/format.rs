//! How pages show times, durations and message contents.

use confide_core::clock::from_micros;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

const MICROS_PER_MINUTE: i64 = 60_000_000;

/// RFC 3339, for `<time datetime>` (the script shows it in the reader's time zone).
pub fn iso(micros: i64) -> String {
    from_micros(micros).format(&Rfc3339).unwrap_or_default()
}

/// A short time for lists: `14:05` today, `8 Jun` this year, else `8 Jun 2025` (UTC).
pub fn short(micros: i64, now: i64) -> String {
    let t = from_micros(micros);
    let n = from_micros(now);
    let f = if t.date() == n.date() {
        t.format(format_description!("[hour]:[minute]"))
    } else if t.year() == n.year() {
        t.format(format_description!("[day padding:none] [month repr:short]"))
    } else {
        t.format(format_description!(
            "[day padding:none] [month repr:short] [year]"
        ))
    };
    f.unwrap_or_default()
}

/// A date: `8 Jun 2025`.
pub fn date(micros: i64) -> String {
    from_micros(micros)
        .format(format_description!(
            "[day padding:none] [month repr:short] [year]"
        ))
        .unwrap_or_default()
}

/// A full time: `8 Jun 2025, 14:05 UTC`.
pub fn full(micros: i64) -> String {
    from_micros(micros)
        .format(format_description!(
            "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// A duration in words: `23 h 5 min`, `12 min`, `less than a minute`, `3 days`.
pub fn duration(micros: i64) -> String {
    let minutes = micros.max(0) / MICROS_PER_MINUTE;
    match minutes {
        0 => "less than a minute".into(),
        1..=59 => format!("{minutes} min"),
        60..=2879 => {
            let (h, m) = (minutes / 60, minutes % 60);
            if m == 0 {
                format!("{h} h")
            } else {
                format!("{h} h {m} min")
            }
        }
        _ => format!("{} days", minutes / 1440),
    }
}

/// Up to two initials of a name, for an avatar.
pub fn initials(name: &str) -> String {
    let mut out: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if out.is_empty() {
        out.push('?');
    }
    out
}

/// What a message says, as text (escaped by the template like everything else).
pub fn message_text(kind: &str, body: &Value) -> String {
    let s = |v: &Value| v.as_str().map(str::to_string);
    let text = match kind {
        "text" => s(&body["text"]),
        "template" => {
            let name = body["template"].as_str().unwrap_or("template");
            let params: Vec<&str> = body["params"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            Some(if params.is_empty() {
                format!("Template “{name}”")
            } else {
                format!("Template “{name}”: {}", params.join(" · "))
            })
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            let caption = body["media"]["caption"].as_str();
            let file = body["media"]["filename"].as_str();
            Some(match (caption, file) {
                (Some(c), _) => format!("[{kind}] {c}"),
                (None, Some(f)) => format!("[{kind}] {f}"),
                (None, None) => format!("[{kind}]"),
            })
        }
        "location" => {
            let l = &body["location"];
            Some(
                l["name"]
                    .as_str()
                    .or(l["address"].as_str())
                    .map(|n| format!("[location] {n}"))
                    .unwrap_or_else(|| "[location]".into()),
            )
        }
        "interactive" => s(&body["reply"]["title"]),
        "button" => s(&body["button"]["text"]),
        "reaction" => body["reaction"]["emoji"]
            .as_str()
            .map(|e| format!("Reacted {e}")),
        "system" => s(&body["system"]["body"]),
        _ => None,
    };
    text.unwrap_or_else(|| format!("[{kind} message]"))
}

/// A message status in words.
pub fn status_label(status: &str) -> String {
    let known = match status {
        "queued" => "Queued",
        "sending" => "Sending",
        "sent" => "Sent",
        "delivered" => "Delivered",
        "read" => "Read",
        "failed" => "Failed",
        "held" | "review" | "interrupted" | "needs_review" => "Needs review",
        "received" => "Received",
        other => return other.replace('_', " "),
    };
    known.to_string()
}
