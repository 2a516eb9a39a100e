//! Template sends with named body parameters, header parameters (text and media) and button
//! parameters: checked against the synced template (a clear 422 `template_params`, audited) and
//! handed to Graph in Meta's exact shape.

use super::{HOUR, dispatch, send, sheena_wrote, sim};
use crate::harness::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

fn refused_codes(entries: &[confide_core::audit::AuditEntry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.action == "message.send_refused")
        .map(|e| {
            let d: Value = serde_json::from_str(&e.details).unwrap();
            d["code"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_header_and_button_parameters_are_checked_and_reach_graph_as_meta_expects() {
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let sim = sim().await;
    let waba = "102290129340398";
    sim.add_template(TemplateConfig::new(
        waba,
        "order_named",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Hi {{first_name}}, your order {{order_id}} has shipped.",
    ));
    let mut with_header = TemplateConfig::new(
        waba,
        "order_header",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Hi {{1}}, it has shipped.",
    );
    with_header.header = Some("Order {{1}}".into());
    sim.add_template(with_header);
    sim.add_template(TemplateConfig::new(
        waba,
        "order_media",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Your order {{1}} is on its way.",
    ));
    let app = TestApp::new().await;
    // Outside the window: templates only.
    let (t, ch, conversation) = sheena_wrote(&app, &sim, 72 * HOUR).await;
    let owner = &t.owner.auth;
    let agent = &t.members["agent"].auth;
    let r = app
        .call(Method::POST, "/api/v1/templates/sync", owner, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // order_media as WhatsApp Manager defines it: an image header and a "Track" button with a
    // dynamic URL (meta-sim's listing has neither, so its definition is planted as synced).
    {
        let mut s = app.state.operator_store().scope(t.id).await.unwrap();
        s.templates()
            .upsert(
                ch.channel,
                &confide_app::templates::TemplateDef {
                    name: "order_media".into(),
                    language: "en_US".into(),
                    category: "UTILITY".into(),
                    status: "APPROVED".into(),
                    body_params: 1,
                    components: json!([
                        {"type": "HEADER", "format": "IMAGE"},
                        {"type": "BODY", "text": "Your order {{1}} is on its way."},
                        {"type": "BUTTONS", "buttons": [
                            {"type": "URL", "text": "Track", "url": "https://shop.example/track/{{1}}"}
                        ]}
                    ]),
                },
            )
            .await
            .unwrap();
        s.commit().await.unwrap();
    }
    let c = app
        .get_ok(agent, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let contact = c["contact_id"].as_str().unwrap();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/contacts/{contact}/consent"),
            owner,
            Some(json!({"purpose": "utility", "status": "opted_in", "source": "checkout form"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);

    // Mismatches: each a 422 `template_params` naming what the template expects, audited.
    for (body, says) in [
        (
            json!({"type": "template", "template": "order_named", "language": "en_US",
                   "params": {"first_name": "Sheena", "order": "A-7"}}),
            "missing: order_id; not in the template: order",
        ),
        (
            json!({"type": "template", "template": "order_named", "language": "en_US",
                   "params": ["Sheena", "A-7"]}),
            "named parameters (first_name, order_id)",
        ),
        (
            json!({"type": "template", "template": "order_header", "language": "en_US",
                   "params": ["Sheena"]}),
            "has a header with a parameter",
        ),
        (
            json!({"type": "template", "template": "order_media", "language": "en_US",
                   "params": ["A-7"], "header": {"type": "video", "link": "https://cdn.example/v.mp4"},
                   "buttons": [{"index": 0, "type": "url", "text": "A-7"}]}),
            "header takes an image, not video",
        ),
        (
            json!({"type": "template", "template": "order_media", "language": "en_US",
                   "params": ["A-7"], "header": {"type": "image", "link": "https://cdn.example/a.jpg"}}),
            "button 0 has a dynamic URL",
        ),
        (
            json!({"type": "template", "template": "order_media", "language": "en_US",
                   "params": ["A-7"], "header": {"type": "image", "link": "https://cdn.example/a.jpg"},
                   "buttons": [{"index": 0, "type": "url", "text": "A-7"}, {"index": 1, "type": "quick_reply", "payload": "x"}]}),
            "has no button 1",
        ),
    ] {
        let r = send(&app, agent, &conversation, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], "template_params", "{}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{says:?} in {message:?}");
    }
    assert_eq!(
        refused_codes(&app.audit_entries(t.id).await),
        ["template_params"; 6]
    );
    assert_eq!(dispatch(&app).await.sent, 0);
    assert!(sim.sent_messages().is_empty());

    // The right parameters reach Graph in Meta's shape.
    for body in [
        json!({"type": "template", "template": "order_named", "language": "en_US",
               "params": {"order_id": "A-7", "first_name": "Sheena"}}),
        json!({"type": "template", "template": "order_header", "language": "en_US",
               "params": ["Sheena"], "header": {"type": "text", "text": "A-7"}}),
        json!({"type": "template", "template": "order_media", "language": "en_US",
               "params": ["A-7"], "header": {"type": "image", "link": "https://cdn.example/a.jpg"},
               "buttons": [{"index": 0, "type": "url", "text": "A-7"}]}),
    ] {
        let r = send(&app, agent, &conversation, body.clone()).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{body}: {}", r.body);
    }
    assert_eq!(dispatch(&app).await.sent, 3);
    let records = sim.sent_messages();
    assert_eq!(records.len(), 3);
    let template_of = |name: &str| {
        records
            .iter()
            .find(|r| r.template.as_ref().is_some_and(|(n, _)| n == name))
            .unwrap_or_else(|| panic!("{name} sent"))
            .body["template"]
            .clone()
    };
    let named = template_of("order_named");
    let body_params = &named["components"][0]["parameters"];
    assert_eq!(named["components"][0]["type"], "body", "{named}");
    let mut by_name: Vec<(String, String)> = body_params
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "text");
            (
                p["parameter_name"].as_str().unwrap().to_string(),
                p["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_name.sort();
    assert_eq!(
        by_name,
        [
            ("first_name".to_string(), "Sheena".to_string()),
            ("order_id".to_string(), "A-7".to_string())
        ]
    );
    assert_eq!(
        template_of("order_header"),
        json!({"name": "order_header", "language": {"code": "en_US"}, "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "A-7"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]}
        ]})
    );
    assert_eq!(
        template_of("order_media"),
        json!({"name": "order_media", "language": {"code": "en_US"}, "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/a.jpg"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "A-7"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A-7"}]}
        ]})
    );
}

/// meta-sim refuses a named template's send whose parameters lack Meta's `parameter_name`
/// (132000), as Meta does: Confide never sends one (its check refuses it first), so the
/// simulator is asked directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_sim_refuses_named_parameters_without_their_names() {
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let sim = sim().await;
    sim.add_template(TemplateConfig::new(
        "102290129340398",
        "order_named",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Hi {{first_name}}.",
    ));
    let http = reqwest::Client::new();
    let url = format!(
        "{}/v24.0/{}/messages",
        sim.base_url(),
        crate::harness::FIXTURE_PHONE_NUMBER_ID
    );
    let send = |params: Value| {
        http.post(&url)
            .bearer_auth("EAAG-test-token")
            .header("content-type", "application/json")
            .body(
                json!({"messaging_product": "whatsapp", "to": "+16505551234", "type": "template",
                    "template": {"name": "order_named", "language": {"code": "en_US"},
                        "components": [{"type": "body", "parameters": params}]}})
                .to_string(),
            )
            .send()
    };
    let r = send(json!([{"type": "text", "text": "Sheena"}]))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(e["error"]["code"], 132000, "{e}");
    let r = send(json!([{"type": "text", "text": "Sheena", "parameter_name": "first_name"}]))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}
