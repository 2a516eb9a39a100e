//! Outbound bodies, their limits, and Graph responses.

use confide_whatsapp::send::*;
use confide_whatsapp::{ErrorClass, errors};
use serde_json::{Value, json};

fn phone() -> Recipient {
    Recipient::phone("+1 (650) 555-1234").unwrap()
}

fn bsuid() -> Recipient {
    Recipient::bsuid("US.13491208655302741918").unwrap()
}

fn wire(m: &OutboundMessage) -> Value {
    serde_json::to_value(m).unwrap()
}

/// Serialises, reads back as the simulator would, and checks both agree.
fn round_trip(m: &OutboundMessage) -> Value {
    let v = wire(m);
    let back: OutboundMessage = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(&back, m);
    back.validate().unwrap();
    v
}

#[test]
fn recipients() {
    assert_eq!(phone(), Recipient::Phone("+16505551234".into()));
    assert_eq!(
        Recipient::phone("16505551234").unwrap().as_str(),
        "+16505551234"
    );
    assert_eq!(Recipient::phone("5551234"), Err(SendError::InvalidPhone));
    assert_eq!(
        Recipient::phone("US.13491208655302741918"),
        Err(SendError::InvalidPhone)
    );
    assert_eq!(
        Recipient::bsuid("16505551234"),
        Err(SendError::InvalidBsuid)
    );
    assert!(Recipient::bsuid("US.ENT.11815799212886844830").is_ok());
}

#[test]
fn text_to_phone_uses_to() {
    let m = OutboundMessage::text(phone(), "Hello", false).unwrap();
    assert_eq!(
        round_trip(&m),
        json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234",
               "type":"text","text":{"body":"Hello"}})
    );
}

#[test]
fn text_to_bsuid_uses_recipient() {
    let m = OutboundMessage::text(bsuid(), "Hi", true)
        .unwrap()
        .in_reply_to("wamid.IN1")
        .unwrap()
        .with_callback_data("campaign-7")
        .unwrap();
    let v = round_trip(&m);
    assert_eq!(v["recipient"], "US.13491208655302741918");
    assert!(v.get("to").is_none());
    assert_eq!(v["text"], json!({"body":"Hi","preview_url":true}));
    assert_eq!(v["context"], json!({"message_id":"wamid.IN1"}));
    assert_eq!(v["biz_opaque_callback_data"], "campaign-7");
}

#[test]
fn to_wins_over_recipient_when_reading() {
    let v = json!({"messaging_product":"whatsapp","to":"16505551234","recipient":"US.1","text":{"body":"x"}});
    let m: OutboundMessage = serde_json::from_value(v).unwrap();
    assert_eq!(m.recipient, Recipient::Phone("16505551234".into()));
    assert_eq!(m.payload.type_name(), "text", "type defaults to text");
    m.validate().unwrap();
    for bad in [
        json!({"to":"16505551234","type":"text","text":{"body":"x"}}),
        json!({"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}),
        json!({"messaging_product":"whatsapp","to":"1","type":"image","text":{"body":"x"}}),
        json!({"messaging_product":"whatsapp","to":"1","type":"poll","poll":{}}),
    ] {
        assert!(
            serde_json::from_value::<OutboundMessage>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn text_limits() {
    assert!(
        OutboundMessage::text(phone(), "é".repeat(4096), false).is_ok(),
        "characters, not bytes"
    );
    assert_eq!(
        OutboundMessage::text(phone(), "a".repeat(4097), false),
        Err(SendError::TooLong {
            field: "text.body",
            len: 4097,
            max: 4096
        })
    );
    assert_eq!(
        OutboundMessage::text(phone(), "  ", false),
        Err(SendError::Empty { field: "text.body" })
    );
    let m = OutboundMessage::text(phone(), "x", false).unwrap();
    assert!(m.clone().with_callback_data("a".repeat(513)).is_err());
    assert!(m.in_reply_to("").is_err());
}

#[test]
fn media() {
    let img = OutboundMessage::media(
        phone(),
        MediaKind::Image,
        MediaSource::Id("1003383421387256".into()),
        Some("look".into()),
        None,
    )
    .unwrap();
    assert_eq!(
        round_trip(&img)["image"],
        json!({"id":"1003383421387256","caption":"look"})
    );
    let doc = OutboundMessage::media(
        phone(),
        MediaKind::Document,
        MediaSource::Link("https://cdn.example.com/invoice.pdf".into()),
        None,
        Some("invoice.pdf".into()),
    )
    .unwrap();
    let v = round_trip(&doc);
    assert_eq!(v["type"], "document");
    assert_eq!(
        v["document"],
        json!({"link":"https://cdn.example.com/invoice.pdf","filename":"invoice.pdf"})
    );

    let id = || MediaSource::Id("1".into());
    assert_eq!(
        OutboundMessage::media(phone(), MediaKind::Audio, id(), Some("no".into()), None),
        Err(SendError::NotAllowed {
            field: "caption",
            kind: "audio"
        })
    );
    assert_eq!(
        OutboundMessage::media(phone(), MediaKind::Sticker, id(), Some("no".into()), None),
        Err(SendError::NotAllowed {
            field: "caption",
            kind: "sticker"
        })
    );
    assert_eq!(
        OutboundMessage::media(phone(), MediaKind::Image, id(), None, Some("a.jpg".into())),
        Err(SendError::NotAllowed {
            field: "filename",
            kind: "image"
        })
    );
    assert!(
        OutboundMessage::media(
            phone(),
            MediaKind::Video,
            id(),
            Some("c".repeat(1024)),
            None
        )
        .is_ok()
    );
    assert_eq!(
        OutboundMessage::media(
            phone(),
            MediaKind::Video,
            id(),
            Some("c".repeat(1025)),
            None
        ),
        Err(SendError::TooLong {
            field: "caption",
            len: 1025,
            max: 1024
        })
    );
    assert!(
        OutboundMessage::media(
            phone(),
            MediaKind::Image,
            MediaSource::Link("file:///etc/passwd".into()),
            None,
            None
        )
        .is_err()
    );
    assert!(
        OutboundMessage::media(
            phone(),
            MediaKind::Image,
            MediaSource::Id(String::new()),
            None,
            None
        )
        .is_err()
    );
}

#[test]
fn template_body() {
    let t = Template::new("order_confirmation", "en_US")
        .unwrap()
        .with(TemplateComponent::header(Parameter::image(
            MediaSource::Link("https://x.example/a.png".into()),
        )))
        .unwrap()
        .with(TemplateComponent::body(vec![
            Parameter::text("Sheena"),
            Parameter::text("#42"),
        ]))
        .unwrap()
        .with(TemplateComponent::quick_reply(0, "STOP_PROMOTIONS"))
        .unwrap();
    assert_eq!(t.body_param_count(), 2);
    let m = OutboundMessage::template(phone(), t).unwrap();
    let v = round_trip(&m);
    assert_eq!(
        v["template"],
        json!({"name":"order_confirmation","language":{"code":"en_US"},"components":[
            {"type":"header","parameters":[{"type":"image","image":{"link":"https://x.example/a.png"}}]},
            {"type":"body","parameters":[{"type":"text","text":"Sheena"},{"type":"text","text":"#42"}]},
            {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"STOP_PROMOTIONS"}]}
        ]})
    );
    // Named parameters and a numeric index are read too.
    let named = json!({"name":"n","language":{"code":"de"},"components":[
        {"type":"body","parameters":[{"type":"text","text":"Ana","parameter_name":"first_name"}]},
        {"type":"button","sub_type":"quick_reply","index":1,"parameters":[{"type":"payload","payload":"P"}]}]});
    let t: Template = serde_json::from_value(named).unwrap();
    t.validate().unwrap();
    assert_eq!(
        t.components[0].parameters[0],
        Parameter::named("first_name", "Ana")
    );
    assert_eq!(t.components[1].index, Some(1));
    let no_params =
        OutboundMessage::template(phone(), Template::new("hello_world", "en_US").unwrap()).unwrap();
    assert_eq!(
        round_trip(&no_params)["template"],
        json!({"name":"hello_world","language":{"code":"en_US"}})
    );
}

#[test]
fn template_limits() {
    assert_eq!(
        Template::new("", "en_US"),
        Err(SendError::Empty {
            field: "template name"
        })
    );
    assert!(Template::new("x", "").is_err());
    let t = Template::new("x", "en").unwrap();
    assert!(
        t.clone()
            .with(TemplateComponent::body(vec![Parameter::text("")]))
            .is_err()
    );
    assert!(
        t.clone()
            .with(TemplateComponent::body(vec![Parameter::text("two\nlines")]))
            .is_err()
    );
    assert!(
        t.clone()
            .with(TemplateComponent::body(vec![Parameter::text("tab\there")]))
            .is_err()
    );
    assert!(
        t.clone()
            .with(TemplateComponent::body(vec![Parameter::text("a     b")]))
            .is_err()
    );
    assert!(
        t.clone()
            .with(TemplateComponent::body(vec![Parameter::text("a    b")]))
            .is_ok()
    );
    assert!(
        t.clone()
            .with(TemplateComponent::body(vec![Parameter::Payload {
                payload: "p".into()
            }]))
            .is_err()
    );
    assert!(
        t.clone()
            .with(TemplateComponent::header(Parameter::Payload {
                payload: "p".into()
            }))
            .is_err()
    );
    let dup = t
        .clone()
        .with(TemplateComponent::quick_reply(0, "a"))
        .unwrap()
        .with(TemplateComponent::quick_reply(0, "b"))
        .unwrap();
    assert_eq!(
        dup.validate(),
        Err(SendError::DuplicateId {
            field: "template button index"
        })
    );
    let mut no_index = TemplateComponent::quick_reply(0, "a");
    no_index.index = None;
    assert!(t.clone().with(no_index).is_err());
}

#[test]
fn reply_buttons() {
    let i = Interactive::buttons(
        "Confirm your order?",
        vec![
            ReplyButton::new("confirm-order-42", "Confirm"),
            ReplyButton::new("cancel-42", "Cancel"),
        ],
    )
    .unwrap()
    .with_header("Order #42")
    .unwrap()
    .with_footer("Reply within 24h")
    .unwrap();
    let m = OutboundMessage::interactive(bsuid(), i).unwrap();
    assert_eq!(
        round_trip(&m)["interactive"],
        json!({"type":"button","header":{"type":"text","text":"Order #42"},"body":{"text":"Confirm your order?"},
               "footer":{"text":"Reply within 24h"},"action":{"buttons":[
                 {"type":"reply","reply":{"id":"confirm-order-42","title":"Confirm"}},
                 {"type":"reply","reply":{"id":"cancel-42","title":"Cancel"}}]}})
    );
    let b = |id: &str, t: &str| ReplyButton::new(id, t);
    assert_eq!(
        Interactive::buttons("q", vec![]),
        Err(SendError::Empty { field: "buttons" })
    );
    assert_eq!(
        Interactive::buttons(
            "q",
            vec![b("1", "a"), b("2", "b"), b("3", "c"), b("4", "d")]
        ),
        Err(SendError::TooMany {
            field: "buttons",
            len: 4,
            max: 3
        })
    );
    assert!(Interactive::buttons("q", vec![b("1", &"t".repeat(20))]).is_ok());
    assert_eq!(
        Interactive::buttons("q", vec![b("1", &"t".repeat(21))]),
        Err(SendError::TooLong {
            field: "button title",
            len: 21,
            max: 20
        })
    );
    assert!(Interactive::buttons("q", vec![b(&"i".repeat(256), "t")]).is_ok());
    assert!(Interactive::buttons("q", vec![b(&"i".repeat(257), "t")]).is_err());
    assert_eq!(
        Interactive::buttons("q", vec![b("1", "a"), b("1", "b")]),
        Err(SendError::DuplicateId { field: "button id" })
    );
    assert!(Interactive::buttons("", vec![b("1", "a")]).is_err());
    assert!(
        Interactive::buttons("q", vec![b("1", "a")])
            .unwrap()
            .with_header("h".repeat(61))
            .is_err()
    );
}

#[test]
fn list() {
    let section = |title: Option<&str>, rows: Vec<ListRow>| ListSection {
        title: title.map(Into::into),
        rows,
    };
    let row = |id: &str| ListRow {
        id: id.into(),
        title: format!("Slot {id}"),
        description: Some("Tomorrow".into()),
    };
    let i = Interactive::list(
        "Pick a slot",
        "Slots",
        vec![section(None, vec![row("0900"), row("1000")])],
    )
    .unwrap();
    let m = OutboundMessage::interactive(phone(), i).unwrap();
    assert_eq!(
        round_trip(&m)["interactive"],
        json!({"type":"list","body":{"text":"Pick a slot"},"action":{"button":"Slots","sections":[{"rows":[
            {"id":"0900","title":"Slot 0900","description":"Tomorrow"},
            {"id":"1000","title":"Slot 1000","description":"Tomorrow"}]}]}})
    );
    let eleven: Vec<ListRow> = (0..11).map(|i| row(&i.to_string())).collect();
    assert_eq!(
        Interactive::list("b", "x", vec![section(None, eleven)]),
        Err(SendError::TooMany {
            field: "rows",
            len: 11,
            max: 10
        })
    );
    assert_eq!(
        Interactive::list(
            "b",
            "x",
            vec![
                section(None, vec![row("1")]),
                section(Some("B"), vec![row("2")])
            ]
        ),
        Err(SendError::Empty {
            field: "section title"
        })
    );
    assert_eq!(
        Interactive::list(
            "b",
            "x",
            vec![
                section(Some("A"), vec![row("1")]),
                section(Some("B"), vec![row("1")])
            ]
        ),
        Err(SendError::DuplicateId { field: "row id" })
    );
    assert!(Interactive::list("b", "x", vec![]).is_err());
    assert!(Interactive::list("b", "x".repeat(21), vec![section(None, vec![row("1")])]).is_err());
    let long_desc = ListRow {
        id: "1".into(),
        title: "t".into(),
        description: Some("d".repeat(73)),
    };
    assert!(Interactive::list("b", "x", vec![section(None, vec![long_desc])]).is_err());
}

#[test]
fn reaction_and_mark_read() {
    let r = OutboundMessage::reaction(phone(), "wamid.IN1", Some("\u{1f44d}")).unwrap();
    assert_eq!(
        round_trip(&r)["reaction"],
        json!({"message_id":"wamid.IN1","emoji":"\u{1f44d}"})
    );
    let removed = OutboundMessage::reaction(phone(), "wamid.IN1", None).unwrap();
    assert_eq!(
        round_trip(&removed)["reaction"],
        json!({"message_id":"wamid.IN1","emoji":""})
    );
    assert!(OutboundMessage::reaction(phone(), "", Some("x")).is_err());
    let read = MarkRead::new("wamid.IN1").unwrap();
    assert_eq!(
        serde_json::to_value(&read).unwrap(),
        json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN1"})
    );
    assert!(MarkRead::new("").is_err());
}

#[test]
fn send_success_response() {
    let phone_ok: SendResponse = serde_json::from_str(
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.OUT1"}]}"#,
    )
    .unwrap();
    assert_eq!(phone_ok.wamid(), Some("wamid.OUT1"));
    assert_eq!(phone_ok.contacts[0].wa_id.as_deref(), Some("16505551234"));
    let bsuid_ok: SendResponse = serde_json::from_str(
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"US.1349","user_id":"US.1349"}],"messages":[{"id":"wamid.OUT2","message_status":"accepted"}]}"#,
    )
    .unwrap();
    assert_eq!(bsuid_ok.contacts[0].wa_id, None);
    assert_eq!(bsuid_ok.contacts[0].user_id.as_deref(), Some("US.1349"));
    assert_eq!(
        bsuid_ok.messages[0].message_status.as_deref(),
        Some("accepted")
    );
    let ok: SuccessResponse = serde_json::from_str(r#"{"success":true}"#).unwrap();
    assert!(ok.success);
}

#[test]
fn graph_error_response() {
    let e: GraphErrorResponse = serde_json::from_str(
        r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
            "error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},
            "error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#,
    )
    .unwrap();
    assert_eq!(e.error.code, 130429);
    assert_eq!(e.error.error_subcode, Some(2494055));
    assert_eq!(e.error.error_type.as_deref(), Some("OAuthException"));
    assert_eq!(
        e.error.details(),
        Some("Cloud API message throughput has been reached.")
    );
    assert_eq!(e.error.class(Some(429)), ErrorClass::RetryBackoff);
    // Minimal shape; and what the simulator writes reads back.
    let min: GraphErrorResponse = serde_json::from_str(r#"{"error":{"code":190}}"#).unwrap();
    assert_eq!(min.error.class(Some(401)), ErrorClass::StopChannel);
    let again: GraphErrorResponse =
        serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
    assert_eq!(again, e);
    assert!(
        serde_json::from_str::<GraphErrorResponse>(r#"{"error":{"message":"no code"}}"#).is_err()
    );
    assert_eq!(errors::classify_http(Some(503)), ErrorClass::RetryBackoff);
}

#[test]
fn template_list() {
    let page: TemplateList = serde_json::from_value(json!({
        "data":[
            {"name":"order_confirmation","language":"en_US","status":"APPROVED","category":"UTILITY","id":"594425479261596",
             "components":[
                {"type":"HEADER","format":"TEXT","text":"Order {{1}}"},
                {"type":"BODY","text":"Hi {{1}}, order {{2}} ships {{3}}. Thanks {{1}}!"},
                {"type":"FOOTER","text":"Acme"},
                {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop promotions"}]}]},
            {"name":"promo","language":"de","status":"PAUSED","category":"MARKETING","id":12,"parameter_format":"NAMED",
             "components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Hallo {{first_name}}, {{ not_a_param }} {{}} {{{code}}}"}]},
            {"name":"weird","language":"en","status":"SOMETHING_NEW","id":"3"}
        ],
        "paging":{"cursors":{"before":"QVFI","after":"QVFIUm"},"next":"https://graph.facebook.com/..."}
    }))
    .unwrap();
    assert_eq!(page.next_cursor(), Some("QVFIUm"));
    let t = &page.data[0];
    assert_eq!(t.status, TemplateStatus::Approved);
    assert!(t.status.is_sendable());
    assert_eq!(
        t.body_text(),
        Some("Hi {{1}}, order {{2}} ships {{3}}. Thanks {{1}}!")
    );
    assert_eq!(t.count_body_params(), 3, "{{1}} twice counts once");
    assert_eq!(t.count_header_params(), 1);
    let p = &page.data[1];
    assert_eq!(p.id, "12");
    assert_eq!(p.status, TemplateStatus::Paused);
    assert!(!p.status.is_sendable());
    assert_eq!(param_names(p.body_text().unwrap()), ["first_name", "code"]);
    assert_eq!(
        p.count_header_params(),
        1,
        "a media header takes one parameter"
    );
    let w = &page.data[2];
    assert_eq!(w.status, TemplateStatus::Other("SOMETHING_NEW".into()));
    assert_eq!(w.count_body_params(), 0);
    assert_eq!(w.count_header_params(), 0);
    let last: TemplateList = serde_json::from_str(r#"{"data":[]}"#).unwrap();
    assert_eq!(last.next_cursor(), None);
    for s in [
        "APPROVED",
        "PENDING",
        "REJECTED",
        "PAUSED",
        "DISABLED",
        "IN_APPEAL",
        "PENDING_DELETION",
        "ARCHIVED",
    ] {
        assert_eq!(TemplateStatus::parse(s).as_str(), s);
        assert!(
            !matches!(TemplateStatus::parse(s), TemplateStatus::Other(_)),
            "{s}"
        );
    }
    assert_eq!(
        serde_json::to_value(TemplateStatus::LimitExceeded).unwrap(),
        json!("LIMIT_EXCEEDED")
    );
}

#[test]
fn placeholder_counting() {
    assert_eq!(count_params(""), 0);
    assert_eq!(count_params("no params"), 0);
    assert_eq!(count_params("{{1}} {{2}} {{10}}"), 3);
    assert_eq!(count_params("{{1}}{{1}}"), 1);
    assert_eq!(count_params("{{1}"), 0);
    assert_eq!(count_params("{{ 1 }}"), 0);
    assert_eq!(count_params("{{a-b}}"), 0);
    assert_eq!(count_params("{{{{1}}}}"), 1);
    assert_eq!(count_params("ünï{{näme}}{{ok_1}}"), 1);
}
