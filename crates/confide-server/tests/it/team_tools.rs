//! The team's tools: internal notes in a thread (never sent, sealed at rest) and canned
//! responses by shortcut.

use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

async fn notes_and_canned_responses(app: TestApp) {
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "tools-secret",
            "http://127.0.0.1:9",
        )
        .await;
    app.deliver_fixtures(&ch, &["text.json"]).await;
    let agent = &t.members["agent"].auth;
    let viewer = &t.members["viewer"].auth;
    let list = app.get_ok(agent, "/api/v1/conversations").await;
    let conversation = list["conversations"][0]["id"].as_str().unwrap().to_string();
    let notes = format!("/api/v1/conversations/{conversation}/notes");

    let r = app
        .call(
            Method::POST,
            &notes,
            agent,
            Some(json!({"text": "VIP: refund approved by Ana"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["text"], "VIP: refund approved by Ana");
    let r = app
        .call(
            Method::POST,
            &notes,
            viewer,
            Some(json!({"text": "a viewer cannot"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .call(Method::POST, &notes, agent, Some(json!({"text": "   "})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "invalid_text");
    let listed = app.get_ok(viewer, &notes).await;
    let items = listed["notes"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert!(items[0]["author"].as_str().unwrap().starts_with("user:"));
    // Never sent, and not in clear at rest.
    assert!(
        app.get_ok(
            agent,
            &format!("/api/v1/conversations/{conversation}/messages")
        )
        .await["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["direction"] == "inbound")
    );
    let mut raw = app.raw().await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT text_ct FROM notes")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert!(!stored.windows(3).any(|w| w == b"VIP"), "sealed at rest");

    let r = app
        .call(
            Method::POST,
            "/api/v1/canned-responses",
            agent,
            Some(json!({"shortcut": "/Shipping", "text": "Orders ship within 2 working days."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["shortcut"], "shipping");
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            Method::POST,
            "/api/v1/canned-responses",
            agent,
            Some(json!({"shortcut": "shipping", "text": "again"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = app
        .call(
            Method::POST,
            "/api/v1/canned-responses",
            agent,
            Some(json!({"shortcut": "two words", "text": "x"})),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "invalid_shortcut");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/canned-responses/{id}"),
            agent,
            Some(json!({"text": "Orders ship within 1 working day."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let all = app.get_ok(viewer, "/api/v1/canned-responses").await;
    assert_eq!(
        all["canned_responses"],
        json!([{
            "id": id, "shortcut": "shipping", "text": "Orders ship within 1 working day.",
            "created_at": all["canned_responses"][0]["created_at"].clone(),
            "updated_at": all["canned_responses"][0]["updated_at"].clone(),
        }])
    );
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/canned-responses/{id}"),
            agent,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let all = app.get_ok(viewer, "/api/v1/canned-responses").await;
    assert_eq!(all["canned_responses"], Value::Array(vec![]));
    let actions = app.audit_actions(t.id).await;
    for a in [
        "note.created",
        "canned_response.created",
        "canned_response.updated",
        "canned_response.deleted",
    ] {
        assert!(actions.contains(&a.to_string()), "{a} in {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_and_canned_responses_work_and_notes_stay_internal() {
    notes_and_canned_responses(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_and_canned_responses_work_and_notes_stay_internal_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    notes_and_canned_responses(app).await;
}

/// Reads the event stream until an event of `kind` arrives (or a few seconds pass): its data.
pub(crate) async fn next_event(
    body: &mut axum::body::Body,
    kind: &str,
    seen: &mut String,
) -> Option<Value> {
    use http_body_util::BodyExt;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        // Complete events end with a blank line.
        while let Some(end) = seen.find("\n\n") {
            let block: String = seen.drain(..end + 2).collect();
            let mut event = "";
            let mut data = "";
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim();
                }
            }
            if event == kind {
                return serde_json::from_str(data).ok();
            }
        }
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .ok()??
            .ok()?;
        if let Ok(bytes) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

/// `GET /api/v1/events`: a customer's message, a reply queued by an agent and a note arrive on
/// the stream as ids, for the caller's tenant only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_carries_the_tenants_inbox_changes_as_ids() {
    use tower::ServiceExt;
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "sse-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let open = |key: String| {
        let mut req = axum::http::Request::builder()
            .uri("/api/v1/events")
            .header("host", crate::harness::HOST)
            .header("authorization", format!("Bearer {key}"))
            .body(axum::body::Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [203, 0, 113, 10],
                40_000,
            ))));
        app.router.clone().oneshot(req)
    };
    let (_, key) = app.api_key(&t, "viewer").await;
    let (_, other_key) = app.api_key(&other, "viewer").await;
    let res = open(key).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let mut other_body = open(other_key).await.unwrap().into_body();
    let mut seen = String::new();

    app.deliver_fixtures(&ch, &["text.json"]).await;
    let created = next_event(&mut body, "message.created", &mut seen)
        .await
        .expect("message.created");
    let conversation = created["conversation_id"].as_str().unwrap().to_string();
    assert!(created["message_id"].is_string(), "{created}");
    assert_eq!(created.as_object().unwrap().len(), 2, "ids only: {created}");

    let agent = &t.members["agent"].auth;
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/notes"),
            agent,
            Some(json!({"text": "call back at 5"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let note = next_event(&mut body, "note.created", &mut seen)
        .await
        .expect("note.created");
    assert_eq!(note["note_id"], r.body["id"]);
    assert!(
        !note.to_string().contains("call back"),
        "no content on the stream"
    );

    let mut other_seen = String::new();
    assert_eq!(
        next_event(&mut other_body, "message.created", &mut other_seen).await,
        None,
        "another tenant hears nothing"
    );
}

/// Opens `GET /api/v1/events` on `router` with an API key: the stream's body.
async fn open_events(router: &axum::Router, key: &str) -> axum::body::Body {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .uri("/api/v1/events")
        .header("host", crate::harness::HOST)
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [203, 0, 113, 10],
            40_000,
        ))));
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.into_body()
}

/// Waits until `n` connections of this database listen for inbox events (each instance's
/// relay subscribes as it starts).
async fn wait_for_event_listeners(app: &TestApp, n: i64) {
    use sqlx::Connection as _;
    let mut c = app.raw().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (listening,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%LISTEN%confide_events%'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        if listening >= n {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "listeners never subscribed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c.close().await.unwrap();
}

/// Across instances (PostgreSQL LISTEN/NOTIFY): a webhook delivered to instance A appears on the
/// event stream of instance B, and a note written on B on A's; another tenant's stream on either
/// instance hears none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_carries_changes_made_on_another_instance_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let t = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "sse-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let (b_router, b_state) = app.second_instance().await;
    wait_for_event_listeners(&app, 2).await;
    let (_, key) = app.api_key(&t, "viewer").await;
    let (_, other_key) = app.api_key(&other, "viewer").await;
    let mut on_b = open_events(&b_router, &key).await;
    let mut on_a = open_events(&app.router, &key).await;
    let mut other_on_b = open_events(&b_router, &other_key).await;
    let mut other_on_a = open_events(&app.router, &other_key).await;
    let (mut seen_b, mut seen_a) = (String::new(), String::new());

    // A webhook delivered to A.
    app.deliver_fixtures(&ch, &["text.json"]).await;
    let created = next_event(&mut on_b, "message.created", &mut seen_b)
        .await
        .expect("message.created on instance B");
    let conversation = created["conversation_id"].as_str().unwrap().to_string();
    assert!(created["message_id"].is_string(), "{created}");
    assert_eq!(created.as_object().unwrap().len(), 2, "ids only: {created}");
    let on_a_too = next_event(&mut on_a, "message.created", &mut seen_a)
        .await
        .expect("and on A, where it was made");
    assert_eq!(on_a_too, created, "once, the same event");

    // A note written on B.
    let (_, agent_key) = app.api_key(&t, "agent").await;
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/conversations/{conversation}/notes"))
        .header("host", crate::harness::HOST)
        .header("authorization", format!("Bearer {agent_key}"))
        .header("content-type", "application/json");
    let r = crate::harness::send_to(
        &b_router,
        app.ip,
        req.body(axum::body::Body::from(
            json!({"text": "written on B"}).to_string(),
        ))
        .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let note = next_event(&mut on_a, "note.created", &mut seen_a)
        .await
        .expect("note.created on instance A");
    assert_eq!(note["note_id"], r.body["id"]);

    for (stream, name) in [(&mut other_on_a, "A"), (&mut other_on_b, "B")] {
        let mut seen = String::new();
        assert_eq!(
            next_event(stream, "message.created", &mut seen).await,
            None,
            "another tenant hears nothing on {name}"
        );
        assert!(!seen.contains("note.created"), "{seen}");
    }
    b_state.operator_store().close().await;
}
