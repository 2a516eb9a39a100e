//! Every shared fixture parses, with the fields that matter asserted.

use crate::{FIXTURE_DIR, fixture};
use confide_whatsapp::send::TemplateStatus;
use confide_whatsapp::webhook::*;

const SHEENA_BSUID: &str = "US.13491208655302741918";
const PABLO_BSUID: &str = "BR.1502576394655843";
const PHONE_ID: &str = "106540352242922";
const WABA: &str = "102290129340398";

/// Parses a fixture that must be clean: one entry, nothing skipped.
fn clean(body: &[u8]) -> WebhookBatch {
    let b = parse_webhook(body).expect("envelope");
    assert_eq!(b.skipped_count(), 0, "{b:#?}");
    assert_eq!(b.entries.len(), 1);
    assert_eq!(b.entries[0].id.as_deref(), Some(WABA));
    b
}

/// The single `messages` change of a fixture.
fn messages_value(b: &WebhookBatch) -> &MessagesValue {
    let vs: Vec<_> = b
        .changes()
        .filter_map(|(_, c)| match c {
            Change::Messages(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(vs.len(), 1);
    assert_eq!(vs[0].metadata.phone_number_id, PHONE_ID);
    assert_eq!(
        vs[0].metadata.display_phone_number.as_deref(),
        Some("15550783881")
    );
    vs[0]
}

/// The single inbound message of a fixture, from Sheena with her phone and BSUID.
fn sheena_message(body: &[u8]) -> Message {
    let b = clean(body);
    let v = messages_value(&b);
    assert_eq!(v.messages.len(), 1);
    assert!(v.statuses.is_empty());
    let m = v.messages[0].clone();
    assert_eq!(m.from.as_deref(), Some("16505551234"));
    assert_eq!(m.from_user_id.as_deref(), Some(SHEENA_BSUID));
    assert_eq!(m.timestamp, 1_749_416_383);
    let c = v.contact_for(&m).expect("contact");
    assert_eq!(c.name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(c.wa_id.as_deref(), Some("16505551234"));
    assert_eq!(c.user_id.as_deref(), Some(SHEENA_BSUID));
    assert_eq!(c.username, None);
    m
}

fn single_status(body: &[u8]) -> Status {
    let b = clean(body);
    let v = messages_value(&b);
    assert!(v.messages.is_empty());
    assert_eq!(v.statuses.len(), 1);
    v.statuses[0].clone()
}

#[test]
fn text() {
    let m = sheena_message(fixture!("text.json"));
    assert_eq!(m.id, "wamid.TEXT0001");
    assert_eq!(m.context, None);
    assert!(m.errors.is_empty());
    // Non-ASCII arrives escaped as \uXXXX and must be decoded.
    assert_eq!(
        m.content,
        MessageContent::Text {
            body: "Does it come in another color? Grüße ✓".into()
        }
    );
}

#[test]
fn text_username_no_phone() {
    let b = clean(fixture!("text-username-no-phone.json"));
    let v = messages_value(&b);
    let m = &v.messages[0];
    assert_eq!(m.id, "wamid.TEXT0002");
    assert_eq!(m.from, None, "the phone is withheld, never empty");
    assert_eq!(m.from_user_id.as_deref(), Some(PABLO_BSUID));
    assert_eq!(
        m.content,
        MessageContent::Text {
            body: "Hola, ¿tienen envío?".into()
        }
    );
    let c = v.contact_for(m).expect("matched by BSUID");
    assert_eq!(c.username.as_deref(), Some("pablomorales"));
    assert_eq!(c.name.as_deref(), Some("Pablo Morales"));
    assert_eq!(c.wa_id, None);
    assert!(is_bsuid(c.user_id.as_deref().unwrap()));
}

#[test]
fn image() {
    let m = sheena_message(fixture!("image.json"));
    assert_eq!(m.id, "wamid.IMG0001");
    let MessageContent::Image(media) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert_eq!(media.id.as_deref(), Some("1003383421387256"));
    assert_eq!(media.caption.as_deref(), Some("the broken part"));
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(
        media.sha256.as_deref(),
        Some("HgvLxbS5DXQt8dJ5ItJE0ufLU3qHq3JvE4xPVIiLXV0=")
    );
    assert!(!media.voice && !media.animated);
    assert_eq!(m.content.media(), Some(media));
}

#[test]
fn video() {
    let m = sheena_message(fixture!("video.json"));
    let MessageContent::Video(media) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert_eq!(media.id.as_deref(), Some("1003383421387259"));
    assert_eq!(media.caption.as_deref(), Some("unboxing"));
    assert_eq!(media.mime_type.as_deref(), Some("video/mp4"));
}

#[test]
fn audio_voice() {
    let m = sheena_message(fixture!("audio-voice.json"));
    assert_eq!(m.id, "wamid.AUD0001");
    let MessageContent::Audio(media) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert!(media.voice);
    assert_eq!(media.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));
    assert_eq!(media.id.as_deref(), Some("1003383421387258"));
    assert_eq!(media.caption, None);
}

#[test]
fn document() {
    let m = sheena_message(fixture!("document.json"));
    let MessageContent::Document(media) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert_eq!(media.filename.as_deref(), Some("invoice-2026-11.pdf"));
    assert_eq!(media.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(media.id.as_deref(), Some("1003383421387257"));
}

#[test]
fn sticker() {
    let m = sheena_message(fixture!("sticker.json"));
    let MessageContent::Sticker(media) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert!(!media.animated);
    assert_eq!(media.mime_type.as_deref(), Some("image/webp"));
    assert_eq!(media.id.as_deref(), Some("1003383421387260"));
}

#[test]
fn location() {
    let m = sheena_message(fixture!("location.json"));
    let MessageContent::Location(l) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert!((l.latitude - 52.520008).abs() < 1e-9);
    assert!((l.longitude - 13.404954).abs() < 1e-9);
    assert_eq!(l.name.as_deref(), Some("Alexanderplatz"));
    assert_eq!(l.address.as_deref(), Some("10178 Berlin"));
    assert_eq!(l.url, None);
}

#[test]
fn contacts() {
    let m = sheena_message(fixture!("contacts.json"));
    let MessageContent::Contacts(cards) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert_eq!(cards.len(), 1);
    let c = &cards[0];
    assert_eq!(c.formatted_name.as_deref(), Some("Ana Lima"));
    assert_eq!(c.first_name.as_deref(), Some("Ana"));
    assert_eq!(c.last_name.as_deref(), Some("Lima"));
    assert_eq!(c.phones.len(), 1);
    assert_eq!(c.phones[0].phone.as_deref(), Some("+55 11 91234-5678"));
    assert_eq!(c.phones[0].wa_id.as_deref(), Some("5511912345678"));
    assert_eq!(c.phones[0].kind.as_deref(), Some("CELL"));
    assert_eq!(c.emails[0].email.as_deref(), Some("ana@example.com"));
    assert_eq!(c.raw["name"]["formatted_name"], "Ana Lima");
}

#[test]
fn interactive_button_reply() {
    let m = sheena_message(fixture!("interactive-button-reply.json"));
    assert_eq!(
        m.content,
        MessageContent::Interactive(InteractiveReply::ButtonReply {
            id: "confirm-order-42".into(),
            title: "Confirm".into()
        })
    );
    let ctx = m.context.expect("context");
    assert_eq!(ctx.id.as_deref(), Some("wamid.OUTBOUND0001"));
    assert_eq!(ctx.from.as_deref(), Some("15550783881"));
}

#[test]
fn interactive_list_reply() {
    let m = sheena_message(fixture!("interactive-list-reply.json"));
    assert_eq!(
        m.content,
        MessageContent::Interactive(InteractiveReply::ListReply {
            id: "slot-0900".into(),
            title: "09:00".into(),
            description: Some("Tomorrow morning".into())
        })
    );
    assert_eq!(m.context.unwrap().id.as_deref(), Some("wamid.OUTBOUND0001"));
}

#[test]
fn button_template_quick_reply() {
    let m = sheena_message(fixture!("button-template-quick-reply.json"));
    assert_eq!(m.id, "wamid.BTN0001");
    assert_eq!(
        m.content,
        MessageContent::Button {
            payload: "STOP_PROMOTIONS".into(),
            text: "Stop promotions".into()
        }
    );
    assert_eq!(m.context.unwrap().id.as_deref(), Some("wamid.OUTBOUND0001"));
}

#[test]
fn reaction() {
    let m = sheena_message(fixture!("reaction.json"));
    assert_eq!(
        m.content,
        MessageContent::Reaction {
            message_id: "wamid.OUTBOUND0001".into(),
            emoji: Some("\u{1f44d}".into())
        }
    );
}

#[test]
fn reaction_removed() {
    let m = sheena_message(fixture!("reaction-removed.json"));
    assert_eq!(m.id, "wamid.REA0002");
    assert_eq!(
        m.content,
        MessageContent::Reaction {
            message_id: "wamid.OUTBOUND0001".into(),
            emoji: None
        }
    );
}

#[test]
fn system_user_changed_number() {
    let b = clean(fixture!("system-user-changed-number.json"));
    let v = messages_value(&b);
    assert!(v.contacts.is_empty(), "system messages carry no contacts");
    let m = &v.messages[0];
    assert_eq!(m.from.as_deref(), Some("16505551234"), "the old phone");
    assert_eq!(m.from_user_id, None);
    assert_eq!(v.contact_for(m), None);
    let MessageContent::System(s) = &m.content else {
        panic!("{:?}", m.content)
    };
    assert_eq!(
        s.body.as_deref(),
        Some("User Sheena Nelson changed from 16505551234 to 16505550000")
    );
    assert_eq!(
        s.kind,
        SystemKind::UserChangedNumber {
            new_wa_id: Some("16505550000".into()),
            previous_user_id: Some(SHEENA_BSUID.into()),
            user_id: Some("US.99990000111122223333".into()),
        }
    );
}

#[test]
fn unsupported() {
    let m = sheena_message(fixture!("unsupported.json"));
    assert_eq!(
        m.content,
        MessageContent::Unsupported {
            type_name: Some("poll_update".into())
        }
    );
    assert_eq!(m.errors.len(), 1);
    assert_eq!(m.errors[0].code, Some(131051));
    assert_eq!(
        m.errors[0].details.as_deref(),
        Some("Message type is currently not supported.")
    );
}

#[test]
fn status_sent() {
    let s = single_status(fixture!("status-sent.json"));
    assert_eq!(s.id, "wamid.OUTBOUND0001");
    assert_eq!(s.status, StatusKind::Sent);
    assert_eq!(s.timestamp, 1_749_416_383);
    assert_eq!(s.recipient_id.as_deref(), Some("16505551234"));
    assert_eq!(s.recipient_user_id.as_deref(), Some(SHEENA_BSUID));
    let p = s.pricing.expect("pricing on sent");
    assert_eq!(p.billable, Some(true));
    assert_eq!(p.pricing_model.as_deref(), Some("PMP"));
    assert_eq!(p.pricing_type.as_deref(), Some("regular"));
    assert_eq!(p.category.as_deref(), Some("marketing"));
    assert!(s.errors.is_empty());
}

#[test]
fn status_delivered() {
    let b = clean(fixture!("status-delivered.json"));
    let v = messages_value(&b);
    let s = &v.statuses[0];
    assert_eq!(s.status, StatusKind::Delivered);
    assert_eq!(s.timestamp, 1_749_416_385);
    assert!(s.pricing.is_some());
    assert_eq!(
        v.contacts[0].user_id.as_deref(),
        Some(SHEENA_BSUID),
        "statuses carry contacts too"
    );
}

#[test]
fn status_read() {
    let s = single_status(fixture!("status-read.json"));
    assert_eq!(s.status, StatusKind::Read);
    assert_eq!(s.timestamp, 1_749_416_392);
    assert_eq!(s.pricing, None);
    assert!(s.status.supersedes(&StatusKind::Delivered));
}

#[test]
fn status_read_to_bsuid() {
    let b = clean(fixture!("status-read-to-bsuid.json"));
    let v = messages_value(&b);
    let s = &v.statuses[0];
    assert_eq!(s.id, "wamid.OUTBOUND0002");
    assert_eq!(s.status, StatusKind::Read);
    assert_eq!(s.recipient_id, None, "phone not shared");
    assert_eq!(s.recipient_user_id.as_deref(), Some(PABLO_BSUID));
    assert_eq!(v.contacts[0].username.as_deref(), Some("pablomorales"));
}

#[test]
fn status_failed_window() {
    let s = single_status(fixture!("status-failed-window.json"));
    assert_eq!(s.id, "wamid.OUTBOUND0003");
    assert_eq!(s.status, StatusKind::Failed);
    assert_eq!(
        s.recipient_user_id, None,
        "absent on failed for a phone send"
    );
    assert_eq!(s.errors.len(), 1);
    let e = &s.errors[0];
    assert_eq!(e.code, Some(131047));
    assert_eq!(e.title.as_deref(), Some("Re-engagement message"));
    assert!(e.details.as_deref().unwrap().contains("24 hours"));
    assert!(
        e.href
            .as_deref()
            .unwrap()
            .starts_with("https://developers.facebook.com/")
    );
    assert_eq!(
        confide_whatsapp::classify(131047, None),
        confide_whatsapp::ErrorClass::Permanent
    );
}

#[test]
fn status_failed_user_stopped_marketing() {
    let s = single_status(fixture!("status-failed-user-stopped-marketing.json"));
    assert_eq!(s.status, StatusKind::Failed);
    assert_eq!(s.errors[0].code, Some(131050));
    assert!(confide_whatsapp::errors::records_marketing_opt_out(131050));
    assert_eq!(
        s.errors[0].details.as_deref(),
        Some("The recipient stopped marketing messages.")
    );
}

#[test]
fn value_errors() {
    let b = clean(fixture!("value-errors.json"));
    let v = messages_value(&b);
    assert!(v.messages.is_empty() && v.statuses.is_empty() && v.contacts.is_empty());
    assert_eq!(v.errors.len(), 1);
    assert_eq!(v.errors[0].code, Some(131000));
    assert_eq!(v.errors[0].title.as_deref(), Some("Something went wrong"));
    assert_eq!(v.errors[0].details.as_deref(), Some("Unknown error"));
}

#[test]
fn template_status_approved() {
    let b = clean(fixture!("template-status-approved.json"));
    assert_eq!(b.entries[0].time, Some(1_749_416_383));
    let [Change::TemplateStatus(t)] = b.entries[0].changes.as_slice() else {
        panic!("{b:?}")
    };
    assert_eq!(t.event, TemplateStatus::Approved);
    assert_eq!(
        t.message_template_id.as_deref(),
        Some("594425479261596"),
        "a number on the wire"
    );
    assert_eq!(t.name.as_deref(), Some("order_confirmation"));
    assert_eq!(t.language.as_deref(), Some("en_US"));
    assert_eq!(t.reason.as_deref(), Some("NONE"));
    assert_eq!(t.category.as_deref(), Some("UTILITY"));
}

#[test]
fn user_preferences_stop() {
    let b = clean(fixture!("user-preferences-stop.json"));
    let [Change::UserPreferences(v)] = b.entries[0].changes.as_slice() else {
        panic!("{b:?}")
    };
    assert_eq!(v.metadata.phone_number_id, PHONE_ID);
    assert_eq!(v.contacts.len(), 1);
    assert_eq!(
        v.preferences,
        vec![UserPreference {
            wa_id: Some("16505551234".into()),
            user_id: Some(SHEENA_BSUID.into()),
            detail: Some("User requested to stop marketing messages".into()),
            category: Some("marketing_messages".into()),
            value: PreferenceValue::Stop,
            timestamp: 1_749_416_383,
        }]
    );
}

#[test]
fn unknown_field() {
    let b = clean(fixture!("unknown-field.json"));
    assert_eq!(
        b.entries[0].changes,
        vec![Change::Unknown {
            field: "smb_app_state_sync".into()
        }]
    );
    assert_eq!(b.messages().count(), 0);
}

#[test]
fn batch_mixed() {
    let b = clean(fixture!("batch-mixed.json"));
    let changes = &b.entries[0].changes;
    assert_eq!(
        changes.len(),
        4,
        "the unknown field in the middle is kept, not fatal"
    );
    assert!(matches!(&changes[2], Change::Unknown { field } if field == "smb_app_state_sync"));
    let ids: Vec<_> = b.messages().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(ids, ["wamid.TEXT0001", "wamid.TEXT0002"]);
    let statuses: Vec<_> = b
        .statuses()
        .map(|(_, s)| (s.id.as_str(), s.status.clone()))
        .collect();
    assert_eq!(statuses, [("wamid.OUTBOUND0001", StatusKind::Delivered)]);
    let (v, pablo) = b.messages().nth(1).unwrap();
    assert_eq!(pablo.from, None);
    assert_eq!(
        v.contact_for(pablo).unwrap().username.as_deref(),
        Some("pablomorales")
    );
}

/// Every fixture in the shared directory parses cleanly, and has a dedicated test above: a new
/// fixture fails here until someone writes its assertions.
#[test]
fn every_fixture_is_covered() {
    const COVERED: &[&str] = &[
        "audio-voice.json",
        "batch-mixed.json",
        "button-template-quick-reply.json",
        "contacts.json",
        "document.json",
        "image.json",
        "interactive-button-reply.json",
        "interactive-list-reply.json",
        "location.json",
        "reaction-removed.json",
        "reaction.json",
        "status-delivered.json",
        "status-failed-user-stopped-marketing.json",
        "status-failed-window.json",
        "status-read-to-bsuid.json",
        "status-read.json",
        "status-sent.json",
        "sticker.json",
        "system-user-changed-number.json",
        "template-status-approved.json",
        "text-username-no-phone.json",
        "text.json",
        "unknown-field.json",
        "unsupported.json",
        "user-preferences-stop.json",
        "value-errors.json",
        "video.json",
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(FIXTURE_DIR).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            COVERED.contains(&name.as_str()),
            "fixture {name} has no test"
        );
        let bytes = std::fs::read(&path).unwrap();
        let b = parse_webhook(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(b.skipped_count(), 0, "{name}: {b:#?}");
        assert!(b.entries.iter().all(|e| !e.changes.is_empty()), "{name}");
        seen += 1;
    }
    assert_eq!(seen, COVERED.len(), "a covered fixture disappeared");
}
