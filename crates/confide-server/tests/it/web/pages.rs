//! The pages without a browser: their headers, the redirects of signed-out visitors, and the
//! cross-site checks of every form POST.

use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, HOST, ORIGIN, Resp, Tenant, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

/// A tenant with Sheena's conversation (delivered as Meta does): its id and her contact's id.
async fn with_conversation(app: &TestApp) -> (Tenant, String, String) {
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "pages-secret",
            "http://127.0.0.1:9",
        )
        .await;
    app.deliver_fixtures(&ch, &["text.json"]).await;
    let list = app.get_ok(&t.owner.auth, "/api/v1/conversations").await;
    let c = &list["conversations"][0];
    (
        t,
        c["id"].as_str().unwrap().to_string(),
        c["contact_id"].as_str().unwrap().to_string(),
    )
}

fn cookie(auth: &Auth) -> String {
    format!("{}={}", confide_server::auth::SESSION_COOKIE, auth.token())
}

fn csrf(auth: &Auth) -> String {
    match auth {
        Auth::Session { csrf, .. } => csrf.clone(),
        _ => String::new(),
    }
}

/// A GET of a page as a browser sends it (the session cookie, if any).
async fn page(app: &TestApp, auth: Option<&Auth>, path: &str) -> Resp {
    let mut b = Request::get(path).header(header::HOST, HOST);
    if let Some(a) = auth {
        b = b.header(header::COOKIE, cookie(a));
    }
    app.request(app.ip, b.body(Body::empty()).unwrap()).await
}

/// A form POST with the given cookie, Origin and Sec-Fetch-Site (None: header absent).
async fn post_form(
    app: &TestApp,
    path: &str,
    auth: Option<&Auth>,
    origin: Option<&str>,
    fetch_site: Option<&str>,
    form: &[(&str, &str)],
) -> Resp {
    let mut b = Request::post(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(a) = auth {
        b = b.header(header::COOKIE, cookie(a));
    }
    if let Some(o) = origin {
        b = b.header(header::ORIGIN, o);
    }
    if let Some(s) = fetch_site {
        b = b.header("sec-fetch-site", s);
    }
    let body = serde_urlencoded::to_string(form).unwrap();
    app.request(app.ip, b.body(Body::from(body)).unwrap()).await
}

/// A form POST's Origin, Sec-Fetch-Site and fields.
type Attempt<'a> = (Option<&'a str>, Option<&'a str>, Vec<(&'a str, &'a str)>);

/// How many notes the conversation has (through the API).
async fn notes(app: &TestApp, auth: &Auth, conversation: &str) -> usize {
    let path = format!("/api/v1/conversations/{conversation}/notes");
    app.get_ok(auth, &path).await["notes"]
        .as_array()
        .unwrap()
        .len()
}

fn header_of<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Every page answers with its own strict policy: `default-src 'none'` and only `'self'` for
/// what pages load, `frame-ancestors 'none'`, `base-uri 'none'`, `form-action 'self'`, nothing
/// inline and no other origin; `Cache-Control: no-store`; and its HTML has no inline script or
/// style and loads nothing from elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_carry_the_page_policy_and_no_store() {
    let app = TestApp::new().await;
    let (t, conversation, contact) = with_conversation(&app).await;
    let owner = &t.owner.auth;
    let signed_in = [
        "/inbox".to_string(),
        "/inbox?view=mine".to_string(),
        "/inbox?view=all&label=vip&q=%2B16505551234".to_string(),
        format!("/inbox/{conversation}"),
        "/contacts".to_string(),
        format!("/contacts/{contact}"),
        "/account".to_string(),
        "/account/password".to_string(),
        "/account/2fa".to_string(),
        "/broadcasts".to_string(),
        "/media".to_string(),
        "/templates".to_string(),
        "/channels".to_string(),
        "/team".to_string(),
        "/api-keys".to_string(),
        "/audit".to_string(),
    ];
    let mut checked = 0;
    for (path, auth) in signed_in
        .iter()
        .map(|p| (p.as_str(), Some(owner)))
        .chain([("/sign-in", None)])
    {
        let r = page(&app, auth, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(
            header_of(&r, "content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        let csp = header_of(&r, "content-security-policy");
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        for d in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(directives.contains(&d), "{path}: {d} missing from {csp}");
        }
        for d in &directives {
            let sources: Vec<&str> = d.split_whitespace().skip(1).collect();
            assert!(
                sources.iter().all(|s| *s == "'self'" || *s == "'none'"),
                "{path}: {d} allows more than 'self'"
            );
        }
        assert_eq!(header_of(&r, "cache-control"), "no-store", "{path}");
        assert_eq!(header_of(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header_of(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header_of(&r, "referrer-policy"), "same-origin", "{path}");
        let html = r.body.as_str().unwrap();
        assert!(
            !html.contains(" style="),
            "{path}: an inline style attribute"
        );
        assert!(!html.contains("<style"), "{path}: an inline stylesheet");
        for (n, part) in html.split("<script").enumerate().skip(1) {
            assert!(
                part.starts_with(" src=\"/static/app.js\" defer></script>"),
                "{path}: script {n} is not the first-party file: <script{}",
                &part[..part.len().min(80)]
            );
        }
        for attr in [" src=\"", " href=\"", " action=\""] {
            for part in html.split(attr).skip(1) {
                assert!(
                    part.starts_with('/') || part.starts_with('#') || part.starts_with('?'),
                    "{path}: {attr}{} is not on this origin",
                    &part[..part.len().min(60)]
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, signed_in.len() + 1);
    // The static files are served by Confide with their types.
    for (path, ty) in [
        ("/static/app.css", "text/css; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/icon.svg", "image/svg+xml"),
    ] {
        let r = page(&app, None, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(header_of(&r, "content-type"), ty, "{path}");
        assert_eq!(header_of(&r, "x-content-type-options"), "nosniff", "{path}");
    }
    assert_eq!(
        page(&app, None, "/static/nope.js").await.status,
        StatusCode::NOT_FOUND
    );
    app.finish().await;
}

/// A visitor without a session is sent to sign in (and back to the page asked for, on this
/// site only); an API key opens no page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_signed_out_visitors_are_sent_to_sign_in() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let r = page(&app, None, "/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(header_of(&r, "location"), "/sign-in");
    let r = page(&app, None, "/contacts?label=vip").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        header_of(&r, "location"),
        "/sign-in?next=/contacts%3Flabel%3Dvip"
    );
    let r = page(&app, None, "/sign-in?next=//evil.example/x").await;
    assert!(!r.body.as_str().unwrap().contains("evil.example"));
    // A bearer key is no way into the pages.
    let (_, key) = app.api_key(&t, "admin").await;
    let req = Request::get("/inbox")
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    let r = app.request(app.ip, req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = page(&app, Some(&t.owner.auth), "/").await;
    assert_eq!(header_of(&r, "location"), "/inbox");
    app.finish().await;
}

/// A form POST from another site is refused and changes nothing: a wrong Origin without the
/// token, a right token from another Origin, `Sec-Fetch-Site: cross-site`, a missing or wrong
/// token from this site. The page's own form (same origin, the session's token) goes through.
/// State never changes on GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_cross_site_form_posts_are_refused() {
    let app = TestApp::new().await;
    let (t, conversation, _) = with_conversation(&app).await;
    let agent = &t.members["agent"].auth;
    let token = csrf(agent);
    let path = format!("/inbox/{conversation}/notes");
    let attempts: [Attempt; 6] = [
        (
            Some("https://evil.example"),
            Some("cross-site"),
            vec![("text", "x")],
        ),
        (Some("https://evil.example"), None, vec![("text", "x")]),
        (
            Some("https://evil.example"),
            None,
            vec![("text", "x"), ("_csrf", &token)],
        ),
        (
            Some(ORIGIN),
            Some("cross-site"),
            vec![("text", "x"), ("_csrf", &token)],
        ),
        (Some(ORIGIN), Some("same-origin"), vec![("text", "x")]),
        (
            Some(ORIGIN),
            Some("same-origin"),
            vec![("text", "x"), ("_csrf", "forged")],
        ),
    ];
    for (origin, site, form) in &attempts {
        let r = post_form(&app, &path, Some(agent), *origin, *site, form).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{origin:?} {site:?} {form:?}"
        );
        assert_eq!(header_of(&r, "cache-control"), "no-store");
    }
    // No Origin and no Referer: refused too (browsers send one on every POST).
    let r = post_form(
        &app,
        &path,
        Some(agent),
        None,
        None,
        &[("text", "x"), ("_csrf", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        notes(&app, agent, &conversation).await,
        0,
        "nothing was written"
    );
    // Sign-in and sign-out from another site are refused as well.
    let r = post_form(
        &app,
        "/sign-in",
        None,
        Some("https://evil.example"),
        Some("cross-site"),
        &[("email", &t.owner.email), ("password", &t.owner.password)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(header_of(&r, "set-cookie").is_empty());
    let r = post_form(
        &app,
        "/sign-out",
        Some(agent),
        Some("https://evil.example"),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The page's own form.
    let r = post_form(
        &app,
        &path,
        Some(agent),
        Some(ORIGIN),
        Some("same-origin"),
        &[("text", "Called her back."), ("_csrf", &token)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(notes(&app, agent, &conversation).await, 1);
    // GET never changes state: the action routes do not answer it.
    for p in [
        path.clone(),
        format!("/inbox/{conversation}/reply"),
        format!("/inbox/{conversation}/update"),
        "/sign-out".to_string(),
    ] {
        let r = page(&app, Some(agent), &p).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{p}");
    }
    assert_eq!(notes(&app, agent, &conversation).await, 1);
    app.finish().await;
}

/// A number is connected from the channels page (its secrets never shown again), and its app
/// secret rotated and the rotation finished from there; an agent sees no such form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_a_number_is_connected_and_its_secret_rotated_from_the_channels_page() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let owner = &t.owner.auth;
    let token = csrf(owner);
    let r = post_form(
        &app,
        "/channels",
        Some(owner),
        Some(ORIGIN),
        Some("same-origin"),
        &[
            ("_csrf", &token),
            ("display_phone_number", "+1 555 010 0100"),
            ("phone_number_id", "123456789"),
            ("waba_id", "987654321"),
            ("access_token", "EAAG-web-token"),
            ("app_secret", "first-app-secret"),
            ("verify_token", "a phrase we chose"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let html = r.body.as_str().unwrap();
    assert!(html.contains("Connected +1 555 010 0100"), "{html}");
    assert!(html.contains("/webhooks/whatsapp/"));
    for secret in ["EAAG-web-token", "first-app-secret", "a phrase we chose"] {
        assert!(!html.contains(secret), "{secret} shown");
    }
    let list = app.get_ok(owner, "/api/v1/channels").await;
    let id = list["channels"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/channels/{id}/secret");
    let r = post_form(
        &app,
        &path,
        Some(owner),
        Some(ORIGIN),
        Some("same-origin"),
        &[
            ("_csrf", &token),
            ("action", "start"),
            ("app_secret", "second-app-secret"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.as_str().unwrap().contains("Rotation started"));
    let r = post_form(
        &app,
        &path,
        Some(owner),
        Some(ORIGIN),
        Some("same-origin"),
        &[("_csrf", &token), ("action", "finish")],
    )
    .await;
    assert!(r.body.as_str().unwrap().contains("Rotation finished"));
    let actions = app.audit_actions(t.id).await;
    assert!(
        actions.iter().any(|a| a.starts_with("channel.")),
        "{actions:?}"
    );
    // An agent may read channels, not change them.
    let agent = &t.members["agent"].auth;
    let r = page(&app, Some(agent), "/channels").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.as_str().unwrap().contains("connect-form"));
    let r = post_form(
        &app,
        &path,
        Some(agent),
        Some(ORIGIN),
        Some("same-origin"),
        &[("_csrf", &csrf(agent)), ("action", "finish")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.finish().await;
}
