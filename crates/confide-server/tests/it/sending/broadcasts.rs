//! Broadcasts: every recipient passes the gate; the opted-out and the never-opted-in are
//! counted and never sent; pause, resume and cancel move the queued sends.

use super::{dispatch, sim};
use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp};
use axum::http::{Method, StatusCode};
use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_only_consenting_contacts_and_can_be_paused_resumed_and_cancelled() {
    let sim = sim().await;
    let waba = "102290129340398";
    sim.add_template(TemplateConfig::new(
        waba,
        "spring_sale",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
        "Spring sale: {{1}} off everything.",
    ));
    sim.add_template(TemplateConfig::new(
        waba,
        "summer_sale",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Pending,
        "Summer sale: {{1}} off.",
    ));
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(t.id, FIXTURE_PHONE_NUMBER_ID, "bc-secret", sim.base_url())
        .await;
    let owner = &t.owner.auth;
    let r = app
        .call(Method::POST, "/api/v1/templates/sync", owner, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Sheena opted in, Bob opted out, Carla never said: only Sheena may get marketing.
    let mut ids = Vec::new();
    for (name, phone, consent) in [
        ("Sheena Nelson", "+16505551234", Some("opted_in")),
        ("Bob Stone", "+15550001111", Some("opted_out")),
        ("Carla Diaz", "+15550002222", None),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/contacts",
                owner,
                Some(json!({"name": name, "phone": phone, "labels": ["vip"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        if let Some(status) = consent {
            let r = app
                .call(
                    Method::POST,
                    &format!("/api/v1/contacts/{id}/consent"),
                    owner,
                    Some(
                        json!({"purpose": "marketing", "status": status, "source": "signup form"}),
                    ),
                )
                .await;
            assert!(r.status.is_success(), "{}", r.body);
        }
        ids.push(id);
    }
    let body = |template: &str| {
        json!({
            "channel_id": ch.channel.to_string(),
            "template": template,
            "language": "en_US",
            "params": ["20%"],
            "audience": {"label": "vip"},
            "purpose": "marketing",
        })
    };

    // An agent may not broadcast; a template that is not approved refuses it all.
    let r = app
        .call(
            Method::POST,
            "/api/v1/broadcasts",
            &t.members["agent"].auth,
            Some(body("spring_sale")),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .call(
            Method::POST,
            "/api/v1/broadcasts",
            owner,
            Some(body("summer_sale")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "template_not_approved");

    let r = app
        .call(
            Method::POST,
            "/api/v1/broadcasts",
            owner,
            Some(body("spring_sale")),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["recipients"], 3);
    assert_eq!(r.body["counts"]["queued"], 1, "{}", r.body);
    assert_eq!(r.body["counts"]["refused_no_consent"], 2, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = |action: &str| format!("/api/v1/broadcasts/{id}/{action}");

    // Paused: nothing goes out.
    let r = app.call(Method::POST, &path("pause"), owner, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["state"], "paused");
    assert_eq!(dispatch(&app).await.sent, 0);
    assert!(sim.sent_messages().is_empty());
    // Resumed: Sheena's message goes out, once.
    let r = app.call(Method::POST, &path("resume"), owner, None).await;
    assert_eq!(r.body["state"], "running", "{}", r.body);
    assert_eq!(dispatch(&app).await.sent, 1);
    let sent = sim.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["to"], "+16505551234");
    assert_eq!(
        sent[0].template,
        Some(("spring_sale".into(), "en_US".into()))
    );
    let b = app.get_ok(owner, &format!("/api/v1/broadcasts/{id}")).await;
    assert_eq!(b["counts"]["sent"], 1, "{b}");
    assert_eq!(b["counts"]["queued"], 0, "{b}");

    // Cancelled stays cancelled.
    let r = app.call(Method::POST, &path("cancel"), owner, None).await;
    assert_eq!(r.body["state"], "cancelled", "{}", r.body);
    let r = app.call(Method::POST, &path("resume"), owner, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    let listed = app
        .get_ok(&t.members["viewer"].auth, "/api/v1/broadcasts")
        .await;
    assert_eq!(listed["broadcasts"].as_array().unwrap().len(), 1);
    let refused: Vec<Value> = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .filter(|e| e.action == "message.send_refused")
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect();
    assert_eq!(refused.len(), 2, "each refused recipient is audited");
    assert!(
        refused
            .iter()
            .all(|d| d["path"] == "broadcast" && d["code"] == "no_consent")
    );
}
