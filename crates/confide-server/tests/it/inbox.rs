//! The inbox: `GET /api/v1/conversations`, `GET /api/v1/conversations/{id}` and
//! `GET /api/v1/conversations/{id}/messages` after real webhook deliveries; `PATCH
//! /api/v1/conversations/{id}` (assign, resolve, reopen) and `POST /api/v1/conversations`.

use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, Resp, Tenant, TestApp, TestChannel};
use axum::http::{Method, StatusCode};
use confide_app::operator::store::channels::NewChannel;
use confide_core::audit::Actor;
use secrecy::SecretString;
use serde_json::{Value, json};

/// A tenant with members of each role and the fixtures' channel, after deliveries from Sheena
/// (a text, then an image) and from Pablo (a text; no phone).
async fn inbox_with_deliveries(app: &TestApp) -> (Tenant, TestChannel) {
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "inbox-app-secret",
            "http://127.0.0.1:9",
        )
        .await;
    app.deliver_fixtures(
        &ch,
        &["text.json", "image.json", "text-username-no-phone.json"],
    )
    .await;
    (t, ch)
}

/// Every item of a list, following `next_cursor` from `path` (which has a query string).
async fn walk(app: &TestApp, auth: &Auth, path: &str, key: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_string(),
        };
        let body = app.get_ok(auth, &url).await;
        pages += 1;
        items.extend(body[key].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 50, "paging does not end");
    }
    (items, pages)
}

fn rfc3339_micros(v: &Value) -> i64 {
    let t = time::OffsetDateTime::parse(
        v.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    confide_core::clock::to_micros(t)
}

async fn lists_conversations_and_messages(app: &TestApp) {
    let (t, ch) = inbox_with_deliveries(app).await;
    let viewer = &t.members["viewer"].auth;
    let body = app.get_ok(viewer, "/api/v1/conversations").await;
    assert_eq!(body["next_cursor"], Value::Null);
    let list = body["conversations"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{body}");
    let by_name = |name: &str| {
        list.iter()
            .find(|c| c["contact"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {body}"))
            .clone()
    };
    let sheena = by_name("Sheena Nelson");
    let pablo = by_name("Pablo Morales");
    assert_eq!(sheena["contact"]["phone"], "+16505551234");
    assert_eq!(
        pablo["contact"]["phone"],
        Value::Null,
        "the phone was withheld"
    );
    assert_eq!(pablo["contact"]["username"], "pablomorales");
    for c in [&sheena, &pablo] {
        assert_eq!(c["status"], "open");
        assert_eq!(c["assignee"], Value::Null);
        assert_eq!(c["channel_id"], ch.channel.to_string());
        assert_eq!(c["contact"]["id"], c["contact_id"]);
        let inbound = rfc3339_micros(&c["last_inbound_at"]);
        assert_eq!(
            rfc3339_micros(&c["window_open_until"]) - inbound,
            24 * 3_600 * 1_000_000,
            "{c}"
        );
        rfc3339_micros(&c["last_message_at"]);
        rfc3339_micros(&c["created_at"]);
    }
    // Most recent activity first, then the id.
    let key = |c: &Value| {
        (
            rfc3339_micros(&c["last_message_at"]),
            c["id"].as_str().unwrap().to_string(),
        )
    };
    assert!(key(&list[0]) > key(&list[1]));

    // One conversation: the same shape as in the list.
    let id = sheena["id"].as_str().unwrap();
    let one = app
        .get_ok(viewer, &format!("/api/v1/conversations/{id}"))
        .await;
    assert_eq!(one, sheena);

    // Its messages, newest first: the text and the image (whose media fetch state shows).
    let path = format!("/api/v1/conversations/{id}/messages");
    let body = app.get_ok(viewer, &path).await;
    assert_eq!(body["next_cursor"], Value::Null);
    let msgs = body["messages"].as_array().unwrap().clone();
    assert_eq!(msgs.len(), 2, "{body}");
    let mkey = |m: &Value| {
        (
            rfc3339_micros(&m["created_at"]),
            m["id"].as_str().unwrap().to_string(),
        )
    };
    assert!(mkey(&msgs[0]) > mkey(&msgs[1]));
    let text = msgs.iter().find(|m| m["kind"] == "text").unwrap();
    let image = msgs.iter().find(|m| m["kind"] == "image").unwrap();
    assert_eq!(text["direction"], "inbound");
    assert_eq!(text["wamid"], "wamid.TEXT0001");
    assert_eq!(
        text["body"]["text"],
        "Does it come in another color? Grüße ✓"
    );
    assert_eq!(text["media"], Value::Null);
    assert_eq!(text["conversation_id"], id);
    assert_eq!(image["wamid"], "wamid.IMG0001");
    assert!(image["media"]["status"].is_string(), "{image}");
    assert!(image["body"].is_object(), "{image}");

    // Paging one at a time walks the same rows, each once, in order.
    let (paged, pages) = walk(
        app,
        viewer,
        "/api/v1/conversations?limit=1",
        "conversations",
    )
    .await;
    assert_eq!((paged.as_slice(), pages), (list.as_slice(), 2));
    let (paged, pages) = walk(app, viewer, &format!("{path}?limit=1"), "messages").await;
    assert_eq!((paged, pages), (msgs, 2));

    // Filters.
    let ids = |body: &Value| -> Vec<String> {
        body["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = ids(&json!({"conversations": list}));
    for (query, want) in [
        ("status=open", all.clone()),
        ("status=all", all.clone()),
        ("status=resolved", vec![]),
        ("assignee=none", all.clone()),
        (
            &*format!("assignee={}&status=open", t.owner.user_id),
            vec![],
        ),
    ] {
        let body = app
            .get_ok(viewer, &format!("/api/v1/conversations?{query}"))
            .await;
        assert_eq!(ids(&body), want, "{query}");
    }

    // API keys with inbox.read read the same.
    let (_, key) = app.api_key(&t, "viewer").await;
    let body = app
        .get_ok(&Auth::Bearer(key), "/api/v1/conversations")
        .await;
    assert_eq!(
        body["conversations"].as_array().unwrap().as_slice(),
        list.as_slice()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_lists_conversations_and_messages_after_webhooks() {
    let app = TestApp::new().await;
    lists_conversations_and_messages(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_lists_conversations_and_messages_after_webhooks_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    lists_conversations_and_messages(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_needs_inbox_read() {
    let app = TestApp::new().await;
    let (mut t, _) = inbox_with_deliveries(&app).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            &t.owner.auth,
            Some(
                json!({"name": "key-keeper", "permissions": ["api_keys.manage", "contacts.read"]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    t.roles.insert(
        "key-keeper".into(),
        r.body["id"].as_str().unwrap().parse().unwrap(),
    );
    let member = app.add_member(&t, "key-keeper").await;
    let (_, key) = app.api_key(&t, "key-keeper").await;
    let id = app
        .get_ok(&t.members["agent"].auth, "/api/v1/conversations")
        .await["conversations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        "/api/v1/conversations".to_string(),
        format!("/api/v1/conversations/{id}"),
        format!("/api/v1/conversations/{id}/messages"),
    ] {
        for auth in [member.auth.clone(), Auth::Bearer(key.clone())] {
            let r = app.call(Method::GET, &path, &auth, None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
            assert_eq!(r.code(), "forbidden", "{path}");
        }
        let r = app.call(Method::GET, &path, &Auth::None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        // Every built-in role reads the inbox.
        for role in ["admin", "agent", "viewer"] {
            app.get_ok(&t.members[role].auth, &path).await;
        }
        app.get_ok(&t.owner.auth, &path).await;
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_refuses_bad_parameters_with_codes() {
    let app = TestApp::new().await;
    let (t, _) = inbox_with_deliveries(&app).await;
    let viewer = &t.members["viewer"].auth;
    let first = app.get_ok(viewer, "/api/v1/conversations?limit=1").await;
    let conv_cursor = first["next_cursor"].as_str().unwrap().to_string();
    // Sheena's conversation (two messages).
    let all = app.get_ok(viewer, "/api/v1/conversations").await;
    let id = all["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact"]["name"] == "Sheena Nelson")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let msgs = app
        .get_ok(
            viewer,
            &format!("/api/v1/conversations/{id}/messages?limit=1"),
        )
        .await;
    let msg_cursor = msgs["next_cursor"].as_str().unwrap().to_string();
    let messages = format!("/api/v1/conversations/{id}/messages");
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            "/api/v1/conversations?limit=0".into(),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "/api/v1/conversations?limit=201".into(),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "/api/v1/conversations?limit=-5".into(),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "/api/v1/conversations?limit=ten".into(),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            "/api/v1/conversations?cursor=not-a-cursor".into(),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "/api/v1/conversations?cursor=%FF%FE".into(),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            format!("/api/v1/conversations?cursor={msg_cursor}"),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "/api/v1/conversations?status=closed".into(),
            StatusCode::BAD_REQUEST,
            "invalid_status",
        ),
        (
            "/api/v1/conversations?assignee=bob".into(),
            StatusCode::BAD_REQUEST,
            "invalid_assignee",
        ),
        (
            format!("{messages}?limit=0"),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            format!("{messages}?limit=1000"),
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        ),
        (
            format!("{messages}?cursor={conv_cursor}"),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            format!("{messages}?cursor=%%%"),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            format!("{messages}?limit=1&limit=2"),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "/api/v1/conversations/not-an-id".into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/conversations/not-an-id/messages".into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/conversations/0190a7a4-0000-7000-8000-000000000000".into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/conversations/0190a7a4-0000-7000-8000-000000000000/messages".into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (path, status, code) in cases {
        let r = app.call(Method::GET, &path, viewer, None).await;
        assert_eq!((r.status, r.code()), (status, code), "{path}: {}", r.body);
        assert!(r.body["error"]["message"].is_string(), "{path}");
    }
    // The cursors handed out still work.
    let rest = app
        .get_ok(
            viewer,
            &format!("/api/v1/conversations?limit=1&cursor={conv_cursor}"),
        )
        .await;
    assert_eq!(rest["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    let rest = app
        .get_ok(viewer, &format!("{messages}?cursor={msg_cursor}"))
        .await;
    assert_eq!(rest["messages"].as_array().unwrap().len(), 1);
    app.finish().await;
}

/// The conversation of the contact named `name`, as listed.
async fn conversation_of(app: &TestApp, auth: &Auth, name: &str) -> Value {
    let all = app.get_ok(auth, "/api/v1/conversations").await;
    all["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {all}"))
        .clone()
}

async fn patch(app: &TestApp, auth: &Auth, id: &str, body: Value) -> Resp {
    app.call(
        Method::PATCH,
        &format!("/api/v1/conversations/{id}"),
        auth,
        Some(body),
    )
    .await
}

async fn patch_ok(app: &TestApp, auth: &Auth, id: &str, body: Value) -> Value {
    let r = patch(app, auth, id, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.body);
    // The answer is what a GET answers.
    let got = app
        .get_ok(auth, &format!("/api/v1/conversations/{id}"))
        .await;
    assert_eq!(r.body, got);
    r.body
}

async fn assigns_resolves_and_reopens(app: &TestApp) {
    let (t, ch) = inbox_with_deliveries(app).await;
    let agent = &t.members["agent"].auth;
    let agent_id = t.members["agent"].user_id.to_string();
    let owner_id = t.owner.user_id.to_string();
    let sheena = conversation_of(app, agent, "Sheena Nelson").await;
    let id = sheena["id"].as_str().unwrap().to_string();
    let start = app.audit_actions(t.id).await.len();

    // Assign to oneself: only the assignee changes.
    let c = patch_ok(app, agent, &id, json!({"assignee": agent_id})).await;
    assert_eq!(c["assignee"], agent_id.as_str());
    let mut expect = sheena.clone();
    expect["assignee"] = json!(agent_id);
    assert_eq!(c, expect);
    // Reassign and resolve at once; an absent field is unchanged.
    let c = patch_ok(
        app,
        agent,
        &id,
        json!({"assignee": owner_id, "status": "resolved"}),
    )
    .await;
    assert_eq!(
        (&c["assignee"], &c["status"]),
        (&json!(owner_id), &json!("resolved"))
    );
    let c = patch_ok(app, agent, &id, json!({})).await;
    assert_eq!(
        (&c["assignee"], &c["status"]),
        (&json!(owner_id), &json!("resolved"))
    );
    // Reopen, then unassign.
    let c = patch_ok(app, agent, &id, json!({"status": "open"})).await;
    assert_eq!(
        (&c["assignee"], &c["status"]),
        (&json!(owner_id), &json!("open"))
    );
    let c = patch_ok(app, agent, &id, json!({"assignee": null})).await;
    assert_eq!(
        (&c["assignee"], &c["status"]),
        (&Value::Null, &json!("open"))
    );
    let filtered = app
        .get_ok(agent, "/api/v1/conversations?status=open&assignee=none")
        .await;
    assert!(filtered.to_string().contains(&id));

    let actions = app.audit_actions(t.id).await;
    assert_eq!(
        &actions[start..],
        [
            "conversation.assigned",
            "conversation.assigned",
            "conversation.resolved",
            "conversation.reopened",
            "conversation.assigned",
        ]
    );
    let entries = app
        .state
        .operator_store()
        .audit_page(t.id, None, 5)
        .await
        .unwrap();
    for e in &entries {
        assert_eq!(e.target, format!("conversation:{id}"));
        assert_eq!(e.actor, format!("user:{agent_id}"));
        for personal in ["Sheena", "+1650", "hello"] {
            assert!(!e.details.contains(personal), "{}", e.details);
        }
    }

    // Reopening while the contact has another open conversation on the channel: 409.
    patch_ok(app, agent, &id, json!({"status": "resolved"})).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/conversations",
            agent,
            Some(json!({"contact_id": sheena["contact_id"], "channel_id": ch.channel.to_string()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let newer = r.body["id"].as_str().unwrap().to_string();
    assert_ne!(newer, id);
    let r = patch(app, agent, &id, json!({"status": "open"})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "conflict"),
        "{}",
        r.body
    );
    assert_eq!(
        app.get_ok(agent, &format!("/api/v1/conversations/{id}"))
            .await["status"],
        "resolved"
    );
    // Once the newer one is resolved, the older may be reopened.
    patch_ok(app, agent, &newer, json!({"status": "resolved"})).await;
    patch_ok(app, agent, &id, json!({"status": "open"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_conversations_are_assigned_resolved_and_reopened() {
    let app = TestApp::new().await;
    assigns_resolves_and_reopens(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_conversations_are_assigned_resolved_and_reopened_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    assigns_resolves_and_reopens(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_patch_refuses_with_codes_and_changes_nothing() {
    let app = TestApp::new().await;
    let (t, _) = inbox_with_deliveries(&app).await;
    let other = app.tenant("Other").await;
    let agent = &t.members["agent"].auth;
    let (_, key) = app.api_key(&t, "agent").await;
    let sheena = conversation_of(&app, agent, "Sheena Nelson").await;
    let id = sheena["id"].as_str().unwrap().to_string();
    // A disabled member.
    let viewer_id = t.members["viewer"].user_id.to_string();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{viewer_id}"),
            &t.owner.auth,
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let start = app.audit_actions(t.id).await.len();
    let missing = "0190a7a4-0000-7000-8000-000000000000";
    let cases: Vec<(String, Value, StatusCode, &str)> = vec![
        (
            id.clone(),
            json!({"status": "closed"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_status",
        ),
        (
            id.clone(),
            json!({"status": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_status",
        ),
        (
            id.clone(),
            json!({"assignee": viewer_id, "status": "resolved"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_assignee",
        ),
        (
            id.clone(),
            json!({"assignee": other.owner.user_id.to_string()}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_assignee",
        ),
        (
            id.clone(),
            json!({"assignee": missing}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_assignee",
        ),
        (
            id.clone(),
            json!({"assignee": "nobody"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_assignee",
        ),
        (
            id.clone(),
            json!({"assignee": 7}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            id.clone(),
            json!({"colour": "red"}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            id.clone(),
            json!("open"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        // An array would otherwise be read into the body's fields by position.
        (
            id.clone(),
            json!(["resolved"]),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            missing.into(),
            json!({"status": "resolved"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "not-an-id".into(),
            json!({"status": "resolved"}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (target, body, status, code) in cases {
        let r = patch(&app, agent, &target, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "{target} {body}: {}",
            r.body
        );
    }
    let r = app
        .call_raw(
            Method::PATCH,
            &format!("/api/v1/conversations/{id}"),
            &key,
            "{\"status\":",
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_json"),
        "{}",
        r.body
    );
    // Another tenant's conversation is not found for them, and stays as it was.
    let r = patch(&app, &other.owner.auth, &id, json!({"status": "resolved"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(
        app.get_ok(agent, &format!("/api/v1/conversations/{id}"))
            .await,
        sheena
    );
    assert_eq!(
        app.audit_actions(t.id).await.len(),
        start,
        "refusals are not audited"
    );
    app.finish().await;
}

async fn starts_conversations(app: &TestApp) {
    let (t, ch) = inbox_with_deliveries(app).await;
    let other = app.tenant("Other").await;
    let agent = &t.members["agent"].auth;
    let (_, key) = app.api_key(&t, "agent").await;
    let pablo = conversation_of(app, agent, "Pablo Morales").await;
    let channel = ch.channel.to_string();
    let start =
        |contact: &Value, channel: &str| json!({"contact_id": contact, "channel_id": channel});
    let post = |body: Value| async move {
        app.call(Method::POST, "/api/v1/conversations", agent, Some(body))
            .await
    };
    // The open one exists: 200 with it.
    let r = post(start(&pablo["contact_id"], &channel)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, pablo);
    // Resolved: a new one is opened (201), then the same one is answered (200).
    patch_ok(
        app,
        agent,
        pablo["id"].as_str().unwrap(),
        json!({"status": "resolved"}),
    )
    .await;
    let created = post(start(&pablo["contact_id"], &channel)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let c = &created.body;
    assert_ne!(c["id"], pablo["id"]);
    assert_eq!(
        (&c["status"], &c["assignee"]),
        (&json!("open"), &Value::Null)
    );
    assert_eq!(
        (&c["contact"], &c["channel_id"]),
        (&pablo["contact"], &json!(channel))
    );
    assert_eq!(
        c["window_open_until"],
        Value::Null,
        "no inbound message yet"
    );
    let again = post(start(&pablo["contact_id"], &channel)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(&again.body, c);
    let id = c["id"].as_str().unwrap();
    assert_eq!(
        &app.get_ok(agent, &format!("/api/v1/conversations/{id}"))
            .await,
        c
    );
    let actions = app.audit_actions(t.id).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "conversation.opened")
            .count(),
        1
    );

    // Another tenant's contact and channel are nothing here, like ids that do not exist.
    let (o_channel, o_contact) = {
        let mut s = app.state.operator_store().scope(other.id).await.unwrap();
        let ch = s
            .create_channel(
                NewChannel {
                    phone_number_id: "999000111".into(),
                    waba_id: "1".into(),
                    display_phone_number: "15550009999".into(),
                    access_token: SecretString::from("t"),
                    app_secret: SecretString::from("s"),
                    verify_token: SecretString::from("v"),
                    graph_base_url: "http://127.0.0.1:9".into(),
                },
                Actor::Cli,
            )
            .await
            .unwrap();
        let k = s
            .contacts()
            .create(
                confide_app::operator::store::contacts::NewContact {
                    name: Some("Other's customer".into()),
                    ..Default::default()
                },
                Actor::Cli,
            )
            .await
            .unwrap();
        s.commit().await.unwrap();
        (ch.id.to_string(), k.id.to_string())
    };
    let missing = "0190a7a4-0000-7000-8000-000000000000";
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            start(&json!(o_contact), &channel),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_contact",
        ),
        (
            start(&json!(missing), &channel),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_contact",
        ),
        (
            start(&json!("garbage"), &channel),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_contact",
        ),
        (
            start(&pablo["contact_id"], &o_channel),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_channel",
        ),
        (
            start(&pablo["contact_id"], missing),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_channel",
        ),
        (
            start(&pablo["contact_id"], "x"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_channel",
        ),
        (
            json!({"contact_id": pablo["contact_id"]}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            json!({"contact_id": 1, "channel_id": channel}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (body, status, code) in cases {
        let r = post(body.clone()).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {}", r.body);
    }
    let r = app
        .call_raw(Method::POST, "/api/v1/conversations", &key, "{not json")
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_json"),
        "{}",
        r.body
    );
    assert_eq!(app.count(other.id, "conversations").await, 0);
    assert_eq!(app.count(t.id, "conversations").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_post_creates_then_returns_the_open_conversation() {
    let app = TestApp::new().await;
    starts_conversations(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_post_creates_then_returns_the_open_conversation_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    starts_conversations(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_changes_need_assign_and_reply_permissions() {
    let app = TestApp::new().await;
    let (mut t, ch) = inbox_with_deliveries(&app).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            &t.owner.auth,
            Some(json!({"name": "reader", "permissions": ["inbox.read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    t.roles.insert(
        "reader".into(),
        r.body["id"].as_str().unwrap().parse().unwrap(),
    );
    let member = app.add_member(&t, "reader").await;
    let (_, key) = app.api_key(&t, "reader").await;
    let sheena = conversation_of(&app, &member.auth, "Sheena Nelson").await;
    let id = sheena["id"].as_str().unwrap().to_string();
    let patch_path = format!("/api/v1/conversations/{id}");
    let post_body =
        json!({"contact_id": sheena["contact_id"], "channel_id": ch.channel.to_string()});
    let calls = [
        (
            Method::PATCH,
            patch_path.as_str(),
            json!({"status": "resolved"}),
        ),
        (Method::POST, "/api/v1/conversations", post_body.clone()),
    ];
    for (method, path, body) in &calls {
        for auth in [
            member.auth.clone(),
            Auth::Bearer(key.clone()),
            t.members["viewer"].auth.clone(),
        ] {
            let r = app
                .call(method.clone(), path, &auth, Some(body.clone()))
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{method} {path}: {}",
                r.body
            );
        }
        let r = app
            .call(method.clone(), path, &Auth::None, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(
        app.get_ok(&member.auth, &patch_path).await,
        sheena,
        "nothing changed"
    );
    // The agent, admin and owner may.
    for auth in [
        &t.members["agent"].auth,
        &t.members["admin"].auth,
        &t.owner.auth,
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/conversations",
                auth,
                Some(post_body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = patch(&app, auth, &id, json!({"status": "open"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    app.finish().await;
}
