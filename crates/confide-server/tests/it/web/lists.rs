//! Pages that filter, count and list, without a browser: the inbox list by label and search
//! (the same use case as `GET /api/v1/conversations?label=&q=`), a broadcast's audience size
//! after consent shown before it starts, and the media page (upload, list, open; a file name
//! with markup shown as text; a cross-site upload refused).

use super::inbound_text;
use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, HOST, ORIGIN, Resp, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use confide_core::clock::Clock;
use serde_json::json;

fn cookie(auth: &Auth) -> String {
    format!("{}={}", confide_server::auth::SESSION_COOKIE, auth.token())
}

fn csrf(auth: &Auth) -> String {
    match auth {
        Auth::Session { csrf, .. } => csrf.clone(),
        _ => String::new(),
    }
}

async fn page(app: &TestApp, auth: &Auth, path: &str) -> Resp {
    let req = Request::get(path)
        .header(header::HOST, HOST)
        .header(header::COOKIE, cookie(auth))
        .body(Body::empty())
        .unwrap();
    app.request(app.ip, req).await
}

fn html(r: &Resp) -> &str {
    r.body.as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_the_inbox_list_filters_by_label_and_searches_by_phone() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "lists-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let owner = &t.owner.auth;
    let now = app.clock.now_micros() / 1_000_000;
    for (user, phone, name, wamid) in [
        ("US.3001", "16505551234", "Sheena Nelson", "wamid.L1"),
        ("US.3002", "14155550177", "Maya Okafor", "wamid.L2"),
    ] {
        let body = inbound_text(user, phone, name, "Hello", wamid, now);
        assert_eq!(app.deliver(&ch, &body).await.status, StatusCode::OK);
    }
    let contacts = app.get_ok(owner, "/api/v1/contacts").await;
    let sheena = contacts["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Sheena Nelson")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/contacts/{sheena}"),
            owner,
            Some(json!({"labels": ["vip"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The API: the same filters.
    let by_label = app.get_ok(owner, "/api/v1/conversations?label=vip").await;
    assert_eq!(by_label["conversations"].as_array().unwrap().len(), 1);
    let by_phone = app
        .get_ok(owner, "/api/v1/conversations?q=%2B14155550177")
        .await;
    let found = by_phone["conversations"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["contact"]["name"], "Maya Okafor", "{found:?}");
    // The page, unfiltered: both.
    let all = page(&app, owner, "/inbox?view=all").await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(html(&all).contains("Sheena Nelson") && html(&all).contains("Maya Okafor"));
    // By label: Sheena only, and the tabs and rows keep the filter.
    let vip = page(&app, owner, "/inbox?view=all&label=vip").await;
    assert_eq!(vip.status, StatusCode::OK);
    assert!(html(&vip).contains("Sheena Nelson"));
    assert!(!html(&vip).contains("Maya Okafor"));
    assert!(
        html(&vip).contains("view=open&#38;label=vip"),
        "tabs keep the label: {}",
        html(&vip)
    );
    assert!(html(&vip).contains(r#"id="inbox-label" name="label" type="text" value="vip""#));
    // By phone: Maya only.
    let maya = page(&app, owner, "/inbox?view=all&q=%2B1+415+555+0177").await;
    assert!(html(&maya).contains("Maya Okafor"));
    assert!(!html(&maya).contains("Sheena Nelson"));
    // Both filters: nobody, said so.
    let none = page(&app, owner, "/inbox?view=all&label=vip&q=%2B14155550177").await;
    assert!(html(&none).contains("No conversations match"));
    // Words of a name find the contact too (through the same name tokens as the contact list).
    let by_name = page(&app, owner, "/inbox?view=all&q=maya").await;
    assert!(html(&by_name).contains("Maya Okafor"));
    assert!(!html(&by_name).contains("Sheena Nelson"));
    // A search for something that cannot be looked up (no letter or digit) is explained next to
    // the box, the text escaped.
    let bad = page(&app, owner, "/inbox?view=all&q=%3C%3C%3E%3E").await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(
        html(&bad).contains(r#"id="inbox-q-error""#),
        "{}",
        html(&bad)
    );
    assert!(
        html(&bad).contains("&#60;&#60;&#62;&#62;"),
        "the search text escaped"
    );
    assert!(!html(&bad).contains("<<>>"));
}

/// The compose form asks for the audience size after consent before it starts anything: the
/// counts come from the same gate the broadcast then applies, so they match what it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_a_broadcast_shows_its_audience_after_consent_before_it_starts() {
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let sim = crate::sending::sim().await;
    sim.add_template(TemplateConfig::new(
        "102290129340398",
        "spring_sale",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
        "Spring sale: {{1}} off everything.",
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
    for (name, phone, consent) in [
        ("Sheena Nelson", "+16505551234", Some("opted_in")),
        ("Bob Stone", "+15550001111", Some("opted_out")),
        ("Carla Diaz", "+15550002222", None),
        ("Dan Wu", "+15550003333", Some("opted_in")),
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
        if let Some(status) = consent {
            let id = r.body["id"].as_str().unwrap();
            let r = app
                .call(
                    Method::POST,
                    &format!("/api/v1/contacts/{id}/consent"),
                    owner,
                    Some(json!({"purpose": "marketing", "status": status, "source": "form"})),
                )
                .await;
            assert!(r.status.is_success(), "{}", r.body);
        }
    }
    let channel = ch.channel.to_string();
    let token = csrf(owner);
    let form = [
        ("_csrf", token.as_str()),
        ("channel_id", channel.as_str()),
        ("template", "spring_sale|en_US"),
        ("label", "vip"),
        ("purpose", "marketing"),
        ("params", "20%"),
    ];
    let post = |path: &'static str| {
        let req = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, cookie(owner))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
            .unwrap();
        app.request(app.ip, req)
    };
    let r = post("/broadcasts/audience").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let h = html(&r);
    assert!(
        h.contains(r#"<strong id="audience-recipients">4</strong>"#),
        "{h}"
    );
    assert!(
        h.contains(r#"<strong id="audience-permitted">2</strong>"#),
        "{h}"
    );
    assert!(
        h.contains(r#"<strong id="audience-refused">2</strong>"#),
        "{h}"
    );
    assert!(h.contains(r#"id="start-broadcast""#) && h.contains("Start broadcast to 2"));
    // The form keeps what was chosen.
    assert!(
        h.contains(r#"<option value="spring_sale|en_US" selected>"#),
        "{h}"
    );
    // Nothing was written: no broadcast, no conversation opened.
    let list = app.get_ok(owner, "/api/v1/broadcasts").await;
    assert!(list["broadcasts"].as_array().unwrap().is_empty());
    let convs = app.get_ok(owner, "/api/v1/conversations").await;
    assert!(convs["conversations"].as_array().unwrap().is_empty());
    // Starting it does what the review said.
    let r = post("/broadcasts").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = app.get_ok(owner, "/api/v1/broadcasts").await;
    let b = &list["broadcasts"][0];
    assert_eq!(b["recipients"], 4, "{b}");
    assert_eq!(b["counts"]["refused_no_consent"], 2, "{b}");
    assert_eq!(b["counts"]["queued"], 2, "{b}");
    // A template the channel does not have is the same refusal as starting would give.
    let bad = [
        ("_csrf", token.as_str()),
        ("channel_id", channel.as_str()),
        ("template", "no_such|en_US"),
        ("label", "vip"),
        ("purpose", "marketing"),
        ("params", "20%"),
    ];
    let req = Request::post("/broadcasts/audience")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, cookie(owner))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(bad).unwrap()))
        .unwrap();
    let r = app.request(app.ip, req).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&r).contains(r#"id="form-error""#));
    // A viewer (no broadcasts.send) may not ask.
    let viewer = &t.members["viewer"].auth;
    let vt = csrf(viewer);
    let vform = [("_csrf", vt.as_str()), ("channel_id", channel.as_str())];
    let req = Request::post("/broadcasts/audience")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, cookie(viewer))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(vform).unwrap()))
        .unwrap();
    assert_eq!(app.request(app.ip, req).await.status, StatusCode::FORBIDDEN);
}

/// `multipart/form-data` with the CSRF field first (unless `token` is None), then the file.
fn upload_form(token: Option<&str>, name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "confide-test-boundary";
    let mut body = Vec::new();
    if let Some(t) = token {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{t}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_the_media_page_uploads_lists_and_opens_files_and_shows_names_as_text() {
    const NAME: &str = "<img src=x onerror=alert(1)>.png";
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let agent = &t.members["agent"].auth;
    let empty = page(&app, agent, "/media").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(html(&empty).contains("No files yet"));
    let png = crate::media::png(3000);
    let send = |token: Option<String>, origin: &'static str| {
        let (ct, body) = upload_form(token.as_deref(), NAME, &png);
        let req = Request::post("/media")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, origin)
            .header(header::COOKIE, cookie(agent))
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap();
        app.request(app.ip, req)
    };
    // Cross-site, or without the token: refused, nothing stored.
    assert_eq!(
        send(Some(csrf(agent)), "https://evil.example").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(None, ORIGIN).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        send(Some("not-the-token".into()), ORIGIN).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(html(&page(&app, agent, "/media").await).contains("No files yet"));
    // From the page: stored, listed with its name as text.
    let r = send(Some(csrf(agent)), ORIGIN).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let h = html(&r);
    assert!(h.contains(r#"id="uploaded""#), "{h}");
    let escaped = "&#60;img src=x onerror=alert(1)&#62;.png";
    assert!(h.contains(escaped), "{h}");
    assert!(!h.contains("<img src=x"), "the name is never markup");
    let list = page(&app, agent, "/media").await;
    let h = html(&list);
    assert!(
        h.contains(escaped) && h.contains("image/png") && h.contains("KB"),
        "{h}"
    );
    // The link opens the bytes (a short-lived signed link on this origin).
    let id = h
        .split("/media/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let open = page(&app, agent, &format!("/media/{id}/open")).await;
    assert_eq!(open.status, StatusCode::SEE_OTHER);
    let to = open.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/m/"), "{to}");
    let (status, _, bytes) = crate::media::fetch(&app, Method::GET, &to, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes.unwrap(), png);
    // Another tenant's id is not found.
    let other = app.tenant("Other").await;
    let r = page(&app, &other.owner.auth, &format!("/media/{id}/open")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!html(&page(&app, &other.owner.auth, "/media").await).contains(escaped));
}
