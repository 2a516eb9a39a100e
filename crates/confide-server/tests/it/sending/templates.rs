//! Templates: synced from Graph and sent outside the window through the gate.

use super::{HOUR, dispatch, send, sheena_wrote, sim};
use crate::harness::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::json;

/// Templates: synced from Graph (meta-sim), then, after the window closed, an approved utility
/// template goes out to a contact who opted in to utility messages, while free-form text, a
/// pending template and a wrong parameter count are refused with their codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_templates_are_sent_after_the_window_and_the_gate_checks_them() {
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let sim = sim().await;
    let waba = "102290129340398";
    sim.add_template(TemplateConfig::new(
        waba,
        "order_update",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Hi {{1}}, your order {{2}} has shipped.",
    ));
    sim.add_template(TemplateConfig::new(
        waba,
        "spring_sale",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Pending,
        "Spring sale: {{1}} off.",
    ));
    let app = TestApp::new().await;
    let (t, _ch, conversation) = sheena_wrote(&app, &sim, 72 * HOUR).await;
    let agent = &t.members["agent"].auth;

    // Agents may read templates; syncing needs templates.manage.
    let r = app
        .call(Method::POST, "/api/v1/templates/sync", agent, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .call(Method::POST, "/api/v1/templates/sync", &t.owner.auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["templates"], 2, "{}", r.body);
    assert_eq!(r.body["new"], 2, "{}", r.body);
    let list = app.get_ok(agent, "/api/v1/templates").await;
    let order = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "order_update")
        .unwrap()
        .clone();
    assert_eq!(order["status"], "APPROVED");
    assert_eq!(order["category"], "UTILITY");
    assert_eq!(order["params"], 2);
    // A second sync finds nothing new.
    let r = app
        .call(Method::POST, "/api/v1/templates/sync", &t.owner.auth, None)
        .await;
    assert_eq!(r.body["new"], 0, "{}", r.body);

    let c = app
        .get_ok(agent, &format!("/api/v1/conversations/{conversation}"))
        .await;
    let contact = c["contact_id"].as_str().unwrap();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/contacts/{contact}/consent"),
            &t.owner.auth,
            Some(json!({"purpose": "utility", "status": "opted_in", "source": "checkout form"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);

    for (body, code) in [
        (json!({"text": "Hello?"}), "outside_window"),
        (
            json!({"type": "template", "template": "spring_sale", "language": "en_US", "params": ["20%"]}),
            "template_not_approved",
        ),
        (
            json!({"type": "template", "template": "no_such", "language": "en_US"}),
            "template_not_approved",
        ),
        (
            json!({"type": "template", "template": "order_update", "language": "en_US", "params": ["Sheena"]}),
            "template_params",
        ),
    ] {
        let r = send(&app, agent, &conversation, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], code, "{body}");
    }
    let r = send(
        &app,
        agent,
        &conversation,
        json!({"type": "template", "template": "order_update", "language": "en_US", "params": ["Sheena", "A-1042"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["kind"], "template");
    assert_eq!(dispatch(&app).await.sent, 1);
    let records = sim.sent_messages();
    assert_eq!(records.len(), 1, "only the approved template reached Graph");
    let record = &records[0];
    assert_eq!(record.kind, "template");
    assert_eq!(
        record.template,
        Some(("order_update".to_string(), "en_US".to_string()))
    );
    let params = &record.body["template"]["components"][0]["parameters"];
    assert_eq!(params[0]["text"], "Sheena", "{}", record.body);
    assert_eq!(params[1]["text"], "A-1042", "{}", record.body);
}

/// The composer's preview: a synced template rendered with the agent's parameters, and the
/// placeholders still empty named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_preview_renders_the_parameters_and_names_what_is_missing() {
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let sim = sim().await;
    sim.add_template(TemplateConfig::new(
        "102290129340398",
        "order_update",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Hi {{1}}, your order {{2}} has shipped.",
    ));
    let app = TestApp::new().await;
    let (t, _ch, _) = sheena_wrote(&app, &sim, HOUR).await;
    let r = app
        .call(Method::POST, "/api/v1/templates/sync", &t.owner.auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let agent = &t.members["agent"].auth;
    let preview = |params: serde_json::Value| {
        app.call(
            Method::POST,
            "/api/v1/templates/preview",
            agent,
            Some(json!({"template": "order_update", "language": "en_US", "params": params})),
        )
    };
    let r = preview(json!(["Sheena", "A-1042"])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["body"], "Hi Sheena, your order A-1042 has shipped.");
    assert_eq!(r.body["missing"], json!([]));
    assert_eq!(r.body["status"], "APPROVED");
    let r = preview(json!(["Sheena"])).await;
    assert_eq!(r.body["body"], "Hi Sheena, your order {{2}} has shipped.");
    assert_eq!(r.body["missing"], json!(["2"]));
    let r = app
        .call(
            Method::POST,
            "/api/v1/templates/preview",
            agent,
            Some(json!({"template": "nope", "language": "en_US"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "template_not_approved")
    );
}
