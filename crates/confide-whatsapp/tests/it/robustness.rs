//! Shapes the fixtures do not show: broken envelopes, broken changes and items, odd but valid input.

use confide_whatsapp::webhook::*;
use serde_json::{Value, json};

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

fn envelope(changes: Value) -> Vec<u8> {
    body(
        json!({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":changes}]}),
    )
}

fn meta() -> Value {
    json!({"display_phone_number":"15550783881","phone_number_id":"106540352242922"})
}

fn messages_change(messages: Value) -> Value {
    json!({"field":"messages","value":{"messaging_product":"whatsapp","metadata":meta(),"messages":messages}})
}

fn text_msg(id: &str) -> Value {
    json!({"from":"16505551234","from_user_id":"US.1","id":id,"timestamp":"1749416383","type":"text","text":{"body":"hi"}})
}

fn only_value(b: &WebhookBatch) -> &MessagesValue {
    match b.entries[0].changes.as_slice() {
        [Change::Messages(v)] => v,
        other => panic!("{other:?}"),
    }
}

type EnvelopeCase = (&'static [u8], fn(&EnvelopeError) -> bool);

#[test]
fn envelope_errors() {
    let cases: &[EnvelopeCase] = &[
        (b"", |e| matches!(e, EnvelopeError::NotJson(_))),
        (b"garbage \x00\xff", |e| {
            matches!(e, EnvelopeError::NotJson(_))
        }),
        (
            b"{\"object\":\"whatsapp_business_account\",\"entry\":[",
            |e| matches!(e, EnvelopeError::NotJson(_)),
        ),
        (b"[1,2,3]", |e| matches!(e, EnvelopeError::NotObject)),
        (b"\"whatsapp_business_account\"", |e| {
            matches!(e, EnvelopeError::NotObject)
        }),
        (b"null", |e| matches!(e, EnvelopeError::NotObject)),
        (b"{\"entry\":[]}", |e| {
            matches!(e, EnvelopeError::WrongObject { found: None })
        }),
        (
            b"{\"object\":\"page\",\"entry\":[]}",
            |e| matches!(e, EnvelopeError::WrongObject { found: Some(f) } if f == "page"),
        ),
        (b"{\"object\":42,\"entry\":[]}", |e| {
            matches!(e, EnvelopeError::WrongObject { found: None })
        }),
        (b"{\"object\":\"whatsapp_business_account\"}", |e| {
            matches!(e, EnvelopeError::MissingEntry)
        }),
        (
            b"{\"object\":\"whatsapp_business_account\",\"entry\":{}}",
            |e| matches!(e, EnvelopeError::MissingEntry),
        ),
    ];
    for (input, check) in cases {
        let err = parse_webhook(input).unwrap_err();
        assert!(
            check(&err),
            "{:?} gave {err:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn not_json_reason_does_not_echo_input() {
    let err = parse_webhook(b"{\"object\": \"secret-value").unwrap_err();
    assert!(!err.to_string().contains("secret-value"), "{err}");
    let long_object = format!("{{\"object\":\"{}\",\"entry\":[]}}", "x".repeat(10_000));
    let EnvelopeError::WrongObject { found: Some(f) } =
        parse_webhook(long_object.as_bytes()).unwrap_err()
    else {
        panic!()
    };
    assert!(f.len() < 100);
}

#[test]
fn empty_entry_list_is_an_empty_batch() {
    let b = parse_webhook(br#"{"object":"whatsapp_business_account","entry":[]}"#).unwrap();
    assert_eq!(b, WebhookBatch::default());
}

#[test]
fn truncated_fixture_never_succeeds_silently() {
    let full = crate::fixture!("batch-mixed.json");
    for cut in 0..full.len() {
        // A prefix of a JSON object is never a complete JSON object.
        assert!(parse_webhook(&full[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn wrong_types_in_one_change_keep_the_others() {
    let changes = json!([
        messages_change(json!([text_msg("wamid.A")])),
        {"field":"messages","value":"not an object"},
        {"field":"messages","value":{"metadata":meta(),"messages":{"not":"an array"}}},
        {"field":"messages","value":{"messages":[text_msg("wamid.NOMETA")]}},
        {"field":42,"value":{}},
        {"value":{}},
        "a string change",
        {"field":"message_template_status_update","value":{"message_template_name":"x"}},
        {"field":"user_preferences","value":[]},
        messages_change(json!([text_msg("wamid.B")])),
    ]);
    let b = parse_webhook(&envelope(changes)).unwrap();
    let ids: Vec<_> = b.messages().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(ids, ["wamid.A", "wamid.B"]);
    let skipped: Vec<_> = b.skipped.iter().map(|s| (s.entry, s.change)).collect();
    assert_eq!(
        skipped,
        [
            (0, 1),
            (0, 2),
            (0, 3),
            (0, 4),
            (0, 5),
            (0, 6),
            (0, 7),
            (0, 8)
        ]
    );
    assert!(
        b.skipped[0].reason.contains("`value` should be an object"),
        "{}",
        b.skipped[0].reason
    );
    assert!(
        b.skipped[1]
            .reason
            .contains("`messages` should be an array"),
        "{}",
        b.skipped[1].reason
    );
    assert!(
        b.skipped[2].reason.contains("metadata"),
        "{}",
        b.skipped[2].reason
    );
    assert!(
        b.skipped[6].reason.contains("event"),
        "{}",
        b.skipped[6].reason
    );
}

#[test]
fn bad_entries_keep_the_others() {
    let b = parse_webhook(&body(json!({"object":"whatsapp_business_account","entry":[
        7,
        {"id":"1"},
        {"id":"2","changes":{}},
        {"id":"3","changes":[messages_change(json!([text_msg("wamid.OK")]))]},
    ]})))
    .unwrap();
    assert_eq!(
        b.skipped_entries
            .iter()
            .map(|s| s.entry)
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(b.entries.len(), 1);
    assert_eq!(b.entries[0].index, 3);
    assert_eq!(b.messages().count(), 1);
    assert_eq!(b.skipped_count(), 3);
}

#[test]
fn one_bad_message_is_skipped_the_rest_kept() {
    let bad_ts = json!({"from":"1","id":"wamid.BADTS","timestamp":"yesterday","type":"text","text":{"body":"x"}});
    let no_id = json!({"from":"1","timestamp":"1749416383","type":"text","text":{"body":"x"}});
    let from_number = json!({"from":16505551234_u64,"id":"wamid.NUM","timestamp":"1","type":"text","text":{"body":"x"}});
    let from_obj = json!({"from":{"a":1},"id":"wamid.FROMOBJ","timestamp":"1","type":"text","text":{"body":"x"}});
    let bad_ctx = json!({"id":"wamid.CTX","timestamp":"1","type":"text","text":{"body":"x"},"context":"nope"});
    let b = parse_webhook(&envelope(json!([messages_change(json!([
        text_msg("wamid.1"),
        bad_ts,
        no_id,
        42,
        from_number,
        from_obj,
        bad_ctx,
        text_msg("wamid.2"),
    ]))])))
    .unwrap();
    assert!(b.skipped.is_empty());
    let v = only_value(&b);
    let ids: Vec<_> = v.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["wamid.1", "wamid.NUM", "wamid.2"]);
    assert_eq!(
        v.messages[1].from.as_deref(),
        Some("16505551234"),
        "numeric phone accepted"
    );
    let skipped: Vec<_> = v
        .skipped
        .iter()
        .map(|s| (s.index, s.id.as_deref(), s.kind))
        .collect();
    assert_eq!(
        skipped,
        [
            (1, Some("wamid.BADTS"), ItemKind::Message),
            (2, None, ItemKind::Message),
            (3, None, ItemKind::Message),
            (5, Some("wamid.FROMOBJ"), ItemKind::Message),
            (6, Some("wamid.CTX"), ItemKind::Message),
        ]
    );
    assert!(
        v.skipped[0].reason.contains("timestamp"),
        "{}",
        v.skipped[0].reason
    );
    assert!(
        v.skipped[1].reason.contains("missing `id`"),
        "{}",
        v.skipped[1].reason
    );
    assert_eq!(b.skipped_count(), 5);
}

#[test]
fn unknown_type_is_kept() {
    let m = json!({"from":"1","id":"wamid.ORDER","timestamp":"1","type":"order","order":{"catalog_id":"x"}});
    let m2 = json!({"from":"1","id":"wamid.FUTURE","timestamp":"1","type":"hologram"});
    let b = parse_webhook(&envelope(json!([messages_change(json!([m, m2]))]))).unwrap();
    let v = only_value(&b);
    assert_eq!(
        v.messages[0].content,
        MessageContent::Unknown {
            type_name: "order".into()
        }
    );
    assert_eq!(
        v.messages[1].content,
        MessageContent::Unknown {
            type_name: "hologram".into()
        }
    );
    assert!(v.skipped.is_empty());
}

#[test]
fn unreadable_content_keeps_the_message() {
    let cases = [
        json!({"id":"wamid.1","timestamp":"1","type":"text"}),
        json!({"id":"wamid.2","timestamp":"1","type":"text","text":{"body":7}}),
        json!({"id":"wamid.3","timestamp":"1","type":"image","image":"x"}),
        json!({"id":"wamid.4","timestamp":"1","type":"location","location":{"latitude":"north"}}),
        json!({"id":"wamid.5","timestamp":"1","type":"interactive","interactive":{"type":"button_reply"}}),
        json!({"id":"wamid.6","timestamp":"1","type":"reaction","reaction":{}}),
        json!({"id":"wamid.7","timestamp":"1"}),
        json!({"id":"wamid.8","timestamp":"1","type":["text"]}),
        json!({"id":"wamid.9","timestamp":"1","type":"contacts","contacts":{"name":"x"}}),
        json!({"id":"wamid.10","timestamp":"1","type":"text","text":{"body":"Ｓｅｃｒｅｔ","extra":1}}),
    ];
    let b = parse_webhook(&envelope(json!([messages_change(Value::Array(
        cases.to_vec()
    ))])))
    .unwrap();
    let v = only_value(&b);
    assert_eq!(v.messages.len(), 10, "{:?}", v.skipped);
    for m in &v.messages[..9] {
        assert!(
            matches!(m.content, MessageContent::Malformed { .. }),
            "{}: {:?}",
            m.id,
            m.content
        );
    }
    assert_eq!(
        v.messages[9].content,
        MessageContent::Text {
            body: "Ｓｅｃｒｅｔ".into()
        },
        "extra keys are ignored"
    );
    let MessageContent::Malformed { type_name, reason } = &v.messages[1].content else {
        panic!()
    };
    assert_eq!(type_name, "text");
    assert!(reason.contains("text"), "{reason}");
}

#[test]
fn reasons_do_not_echo_personal_data() {
    let m = json!({"id":"wamid.1","timestamp":"1","type":"location","location":{"latitude":"Sheena's home, 5 Main St"}});
    let s = json!({"id":"wamid.S","status":"sent","timestamp":"1","pricing":{"billable":"very private"}});
    let change =
        json!({"field":"messages","value":{"metadata":meta(),"messages":[m],"statuses":[s]}});
    let b = parse_webhook(&envelope(json!([change]))).unwrap();
    let v = only_value(&b);
    let MessageContent::Malformed { reason, .. } = &v.messages[0].content else {
        panic!()
    };
    assert!(!reason.contains("Main St"), "{reason}");
    assert_eq!(v.skipped.len(), 1);
    assert!(
        !v.skipped[0].reason.contains("very private"),
        "{}",
        v.skipped[0].reason
    );
}

#[test]
fn statuses_edge_cases() {
    let statuses = json!([
        {"id":"wamid.1","status":"played","timestamp":"5","recipient_user_id":"US.1","parent_recipient_user_id":"US.ENT.9"},
        {"id":"wamid.2","status":"read","timestamp":6,"recipient_parent_user_id":"US.ENT.8","biz_opaque_callback_data":"cb-1"},
        {"id":"wamid.3","status":"deleted","timestamp":"7"},
        {"id":"wamid.4","status":"sent","timestamp":"soon"},
        {"id":"wamid.5","timestamp":"7"},
        {"id":"wamid.6","status":"failed","timestamp":"8","errors":[{"code":"x"}]},
        {"id":"wamid.7","status":"sent","timestamp":"8","pricing":{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"service"},"conversation":{"id":"old"}},
    ]);
    let change = json!({"field":"messages","value":{"metadata":meta(),"statuses":statuses}});
    let b = parse_webhook(&envelope(json!([change]))).unwrap();
    let v = only_value(&b);
    let kept: Vec<_> = v
        .statuses
        .iter()
        .map(|s| (s.id.as_str(), s.status.clone()))
        .collect();
    assert_eq!(
        kept,
        [
            ("wamid.1", StatusKind::Played),
            ("wamid.2", StatusKind::Read),
            ("wamid.3", StatusKind::Other("deleted".into())),
            ("wamid.7", StatusKind::Sent),
        ]
    );
    assert_eq!(
        v.statuses[0].recipient_parent_user_id.as_deref(),
        Some("US.ENT.9"),
        "older spelling"
    );
    assert_eq!(
        v.statuses[1].recipient_parent_user_id.as_deref(),
        Some("US.ENT.8")
    );
    assert_eq!(
        v.statuses[1].biz_opaque_callback_data.as_deref(),
        Some("cb-1")
    );
    assert_eq!(v.statuses[1].timestamp, 6);
    assert_eq!(
        v.statuses[3]
            .pricing
            .as_ref()
            .unwrap()
            .pricing_type
            .as_deref(),
        Some("free_customer_service")
    );
    let skipped: Vec<_> = v.skipped.iter().map(|s| (s.index, s.kind)).collect();
    assert_eq!(
        skipped,
        [
            (3, ItemKind::Status),
            (4, ItemKind::Status),
            (5, ItemKind::Status)
        ]
    );
}

#[test]
fn identity_changes() {
    let sys = json!({"from_user_id":"US.OLD","id":"wamid.SYS2","timestamp":"1","type":"system",
        "system":{"body":"User changed","type":"user_changed_user_id","previous_user_id":"US.OLD","user_id":"US.NEW"}});
    let old_sys = json!({"from":"1","id":"wamid.SYS3","timestamp":"1","type":"system",
        "system":{"body":"changed","type":"customer_changed_number","new_wa_id":"2"}});
    let other_sys = json!({"from":"1","id":"wamid.SYS4","timestamp":"1","type":"system",
        "system":{"body":"?","type":"customer_identity_changed"}});
    let upd = json!({"field":"user_id_update","value":{"metadata":meta(),
        "user_id_update":[{"wa_id":"16505551234","previous_user_id":"US.OLD","user_id":"US.NEW","timestamp":"9"}, 5]}});
    let flat =
        json!({"field":"user_id_update","value":{"previous_user_id":"US.A","new_user_id":"US.B"}});
    let b = parse_webhook(&envelope(json!([
        messages_change(json!([sys, old_sys, other_sys])),
        upd,
        flat
    ])))
    .unwrap();
    assert!(b.skipped.is_empty(), "{:?}", b.skipped);
    let kinds: Vec<_> = b
        .messages()
        .map(|(_, m)| match &m.content {
            MessageContent::System(s) => s.kind.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            SystemKind::UserChangedUserId {
                previous_user_id: Some("US.OLD".into()),
                user_id: Some("US.NEW".into())
            },
            SystemKind::UserChangedNumber {
                new_wa_id: Some("2".into()),
                previous_user_id: None,
                user_id: None
            },
            SystemKind::Other {
                type_name: Some("customer_identity_changed".into())
            },
        ]
    );
    let Change::UserIdUpdate(u) = &b.entries[0].changes[1] else {
        panic!()
    };
    assert_eq!(
        u.metadata.as_ref().unwrap().phone_number_id,
        "106540352242922"
    );
    assert_eq!(
        u.updates,
        [UserIdChange {
            wa_id: Some("16505551234".into()),
            previous_user_id: Some("US.OLD".into()),
            user_id: Some("US.NEW".into()),
            timestamp: Some(9),
        }]
    );
    assert_eq!(u.skipped.len(), 1);
    assert_eq!(b.skipped_count(), 1);
    let Change::UserIdUpdate(f) = &b.entries[0].changes[2] else {
        panic!()
    };
    assert_eq!(f.updates[0].previous_user_id.as_deref(), Some("US.A"));
    assert_eq!(f.updates[0].user_id.as_deref(), Some("US.B"));
    assert_eq!(f.metadata, None);
}

#[test]
fn other_fields_are_kept_raw() {
    let q = json!({"field":"phone_number_quality_update","value":{"display_phone_number":"15550783881","event":"FLAGGED"}});
    let a = json!({"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}});
    let pref = json!({"field":"user_preferences","value":{"metadata":meta(),"user_preferences":[
        {"user_id":"US.1","value":"resume","timestamp":"3","category":"marketing_messages"},
        {"user_id":"US.2","value":"pause","timestamp":"3"},
        {"user_id":"US.3","value":"stop"},
    ]}});
    let t = json!({"field":"message_template_status_update","value":{"event":"FLAGGED","message_template_id":"12"}});
    let b = parse_webhook(&envelope(json!([q, a, pref, t]))).unwrap();
    let c = &b.entries[0].changes;
    assert!(
        matches!(&c[0], Change::Other { field, value } if field == "phone_number_quality_update" && value["event"] == "FLAGGED")
    );
    assert!(matches!(&c[1], Change::Other { field, .. } if field == "account_update"));
    let Change::UserPreferences(p) = &c[2] else {
        panic!()
    };
    assert_eq!(
        p.preferences
            .iter()
            .map(|p| p.value.clone())
            .collect::<Vec<_>>(),
        [
            PreferenceValue::Resume,
            PreferenceValue::Other("pause".into())
        ]
    );
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].kind, ItemKind::UserPreference);
    let Change::TemplateStatus(ts) = &c[3] else {
        panic!()
    };
    assert_eq!(
        ts.event,
        confide_whatsapp::send::TemplateStatus::Other("FLAGGED".into())
    );
    assert_eq!(ts.message_template_id.as_deref(), Some("12"));
}

#[test]
fn bad_contact_is_skipped_message_kept() {
    let change = json!({"field":"messages","value":{"metadata":meta(),
        "contacts":[{"profile":{"name":5},"user_id":"US.1"},{"profile":{"name":"Ok"},"user_id":"US.1"}],
        "messages":[text_msg("wamid.1")]}});
    let b = parse_webhook(&envelope(json!([change]))).unwrap();
    let v = only_value(&b);
    assert_eq!(v.contacts.len(), 1);
    assert_eq!(v.messages.len(), 1);
    assert_eq!(v.skipped[0].kind, ItemKind::Contact);
    assert_eq!(
        v.contact_for(&v.messages[0]).unwrap().name.as_deref(),
        Some("Ok")
    );
}

#[test]
fn deeply_nested_input_does_not_panic() {
    for depth in [100, 127, 128, 129, 1_000, 100_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse_webhook(nested.as_bytes()).is_err());
        // Deep nesting inside a message body.
        let deep_text = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{{"field":"messages","value":{{"metadata":{{"phone_number_id":"1"}},"messages":[{{"id":"w","timestamp":"1","type":"text","text":{}1{}}}]}}}}]}}]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let _ = parse_webhook(deep_text.as_bytes());
        let unclosed = "{\"a\":".repeat(depth);
        assert!(parse_webhook(unclosed.as_bytes()).is_err());
    }
}

#[test]
fn huge_input_does_not_panic() {
    // 1,000 changes of 10 messages each, with large bodies: about 3 MB, Meta's maximum.
    let big = "é".repeat(150);
    let msgs: Vec<Value> = (0..10)
        .map(|i| json!({"id":format!("wamid.{i}"),"timestamp":"1","type":"text","text":{"body":big}}))
        .collect();
    let changes: Vec<Value> = (0..1_000)
        .map(|_| messages_change(Value::Array(msgs.clone())))
        .collect();
    let bytes = envelope(Value::Array(changes));
    assert!(bytes.len() > 2_500_000, "{}", bytes.len());
    let b = parse_webhook(&bytes).unwrap();
    assert_eq!(b.messages().count(), 10_000);
    // A single 5 MB string value.
    let long = format!(
        r#"{{"object":"whatsapp_business_account","entry":[],"x":"{}"}}"#,
        "a".repeat(5_000_000)
    );
    assert!(parse_webhook(long.as_bytes()).unwrap().entries.is_empty());
    // Very long ids and numbers.
    let weird = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":{n},"time":1e400,"changes":[]}}]}}"#,
        n = "9".repeat(10_000)
    );
    let _ = parse_webhook(weird.as_bytes());
}
