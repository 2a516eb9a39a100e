//! The export schema (`docs/privacy/export-schema.json`), checked honestly: the documented file
//! is read and every keyword it uses is applied (a field missing, extra, of the wrong type or
//! outside its enum fails); a keyword this check does not know fails the test.

use serde_json::{Value, json};

pub(super) fn schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/privacy/export-schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn type_ok(name: &str, v: &Value) -> bool {
    match name {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        other => panic!("the schema uses a type this check does not know: {other}"),
    }
}

/// The violations of `v` against `s` (resolving `$ref` in `root`), each with its path.
pub(super) fn violations(root: &Value, s: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let known = [
        "$ref",
        "type",
        "enum",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "minLength",
        "maxLength",
        "minimum",
        "format",
        "description",
        "$schema",
        "$id",
        "title",
        "$defs",
    ];
    for k in s.as_object().unwrap().keys() {
        assert!(known.contains(&k.as_str()), "unchecked schema keyword {k}");
    }
    if let Some(r) = s["$ref"].as_str() {
        let name = r.strip_prefix("#/$defs/").unwrap();
        return violations(root, &root["$defs"][name], v, at, out);
    }
    match &s["type"] {
        Value::String(t) if !type_ok(t, v) => out.push(format!("{at}: not {t}: {v}")),
        Value::Array(ts) if !ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)) => {
            out.push(format!("{at}: none of {ts:?}: {v}"))
        }
        _ => {}
    }
    if let Some(e) = s["enum"].as_array()
        && !e.contains(v)
    {
        out.push(format!("{at}: {v} not in {e:?}"));
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if s["minLength"].as_u64().is_some_and(|m| n < m) {
            out.push(format!("{at}: shorter than {}", s["minLength"]));
        }
        if s["maxLength"].as_u64().is_some_and(|m| n > m) {
            out.push(format!("{at}: longer than {}", s["maxLength"]));
        }
        if s["format"] == "date-time"
            && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .is_err()
        {
            out.push(format!("{at}: not RFC 3339: {text}"));
        }
    }
    if let (Some(min), Some(n)) = (s["minimum"].as_i64(), v.as_i64())
        && n < min
    {
        out.push(format!("{at}: below {min}"));
    }
    if let Some(obj) = v.as_object() {
        for r in s["required"].as_array().into_iter().flatten() {
            if !obj.contains_key(r.as_str().unwrap()) {
                out.push(format!("{at}: missing {r}"));
            }
        }
        let props = s["properties"].as_object();
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => violations(root, ps, val, &format!("{at}.{k}"), out),
                None => match &s["additionalProperties"] {
                    Value::Bool(false) => out.push(format!("{at}: unexpected field {k}")),
                    extra @ Value::Object(_) => {
                        violations(root, extra, val, &format!("{at}.{k}"), out)
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            violations(root, items, item, &format!("{at}[{i}]"), out);
        }
    }
}

#[test]
fn the_schema_check_fails_on_a_missing_an_extra_or_a_mistyped_field() {
    let root = schema();
    let contact = &root["properties"]["contacts.json"];
    let good = json!([{
        "id": "0190a7a4-0000-7000-8000-000000000000", "phone": "+16505551234",
        "wa_user_id": null, "username": null, "name": "A", "labels": [], "attributes": {},
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
    }]);
    let mut out = Vec::new();
    violations(&root, contact, &good, "contacts", &mut out);
    assert!(out.is_empty(), "{out:?}");
    for broken in [
        {
            let mut b = good.clone();
            b[0].as_object_mut().unwrap().remove("phone");
            b
        },
        {
            let mut b = good.clone();
            b[0]["surprise"] = json!(1);
            b
        },
        {
            let mut b = good.clone();
            b[0]["labels"] = json!("vip");
            b
        },
        {
            let mut b = good.clone();
            b[0]["created_at"] = json!("yesterday");
            b
        },
    ] {
        let mut out = Vec::new();
        violations(&root, contact, &broken, "contacts", &mut out);
        assert!(!out.is_empty(), "{broken}");
    }
}
