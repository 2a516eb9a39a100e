//! The web app in headless Chromium.

use super::driver::{Browser, Served, enabled, serve};
use super::{fresh_tenant, inbound_text};
use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp, strong_password};
use crate::sending;
use axum::http::StatusCode;
use confide_core::clock::from_micros;
use confide_crypto::totp::{Totp, base32_decode};

/// Sign-in as a new owner: the one-time password leads to the forced password change, then the
/// inbox; 2FA is enrolled with a code from the secret the page shows; the next sign-in asks for
/// a code. Every request of those pages stays on Confide's origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_changes_the_one_time_password_and_enrols_2fa() {
    let Some(_turn) =
        enabled("browser_signs_in_changes_the_one_time_password_and_enrols_2fa").await
    else {
        return;
    };
    let app = TestApp::new().await;
    let served = serve(&app).await;
    let (_tenant, email, otp) = fresh_tenant(&app, "Acme").await;
    let b = Browser::start(&served, 1280, 900).await;

    // A signed-out visitor is sent to sign in.
    b.goto("/inbox").await;
    b.wait_css("#email").await;
    assert!(b.path().await.starts_with("/sign-in"), "{}", b.path().await);
    b.assert_same_origin().await;

    // A wrong password is refused in words.
    b.fill("#email", &email).await;
    b.fill("#password", "not the password at all").await;
    b.click("button[type=submit]").await;
    b.wait_text("#form-error", "email or password is not right")
        .await;

    // The one-time password: choose a new one first.
    b.sign_in(&email, &otp).await;
    assert_eq!(b.path().await, "/account/password");
    let password = strong_password(app.unique());
    b.fill("#current_password", &otp).await;
    b.fill("#new_password", &password).await;
    b.fill("#confirm_password", &password).await;
    b.click("button[type=submit]").await;
    b.wait_css("#inbox-title").await;
    assert_eq!(b.path().await, "/inbox");
    b.wait_text(".empty-title", "No open conversations").await;
    b.assert_same_origin().await;

    // 2FA: the password, then a code from the secret shown.
    b.goto("/account/2fa").await;
    b.fill("#password", &password).await;
    b.click("button[type=submit]").await;
    let secret = b.text("#totp-secret").await.replace(' ', "");
    let totp = Totp::new(&base32_decode(&secret).unwrap());
    let now = app.state.clock.now_micros() / 1_000_000;
    b.fill("#code", &totp.code_at(now)).await;
    b.click("button[type=submit]").await;
    b.wait_css("#recovery-codes").await;
    assert_eq!(
        b.js("return document.querySelectorAll('#recovery-codes li').length;")
            .await,
        10
    );

    // Sign out; signing in again asks for a code (a later one: each code works once).
    b.goto("/account").await;
    b.click(".sign-out button").await;
    b.wait_css("#email").await;
    b.fill("#email", &email).await;
    b.fill("#password", &password).await;
    b.click("button[type=submit]").await;
    b.wait_css("#code").await;
    assert!(b.path().await.starts_with("/sign-in"));
    let later = now + 30;
    app.clock.advance(time::Duration::seconds(30));
    b.fill("#code", &totp.code_at(later)).await;
    b.click("button[type=submit]").await;
    b.wait_css("#inbox-title").await;
    b.assert_same_origin().await;
    b.assert_no_script_ran().await;
    b.close().await;
    app.finish().await;
}

/// A tenant with a channel on a meta-sim, its agent signed in to the inbox in a browser of
/// `width`, with the live updates connected, and Confide's clock an hour after Sheena's message
/// time (her message is not delivered yet).
struct Inbox {
    app: TestApp,
    sim: meta_sim::SimHandle,
    t: crate::harness::Tenant,
    ch: crate::harness::TestChannel,
    b: Browser,
    _served: Served,
}

async fn inbox(width: u32, height: u32) -> Inbox {
    let sim = sending::sim().await;
    let app = TestApp::new().await;
    let served = serve(&app).await;
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(t.id, FIXTURE_PHONE_NUMBER_ID, "web-secret", sim.base_url())
        .await;
    app.clock.set(from_micros(
        sending::SHEENA_WROTE_AT * 1_000_000 + sending::HOUR,
    ));
    let b = Browser::start(&served, width, height).await;
    let agent = &t.members["agent"];
    b.sign_in(&agent.email, &agent.password).await;
    assert_eq!(b.path().await, "/inbox");
    Inbox {
        app,
        sim,
        t,
        ch,
        b,
        _served: served,
    }
}

impl Inbox {
    /// Sheena writes `text` (at Meta, then to Confide): its wamid.
    async fn sheena_writes(&self, text: &str) -> String {
        let wamid = self
            .sim
            .customer_sends(sending::SHEENA, FIXTURE_PHONE_NUMBER_ID, text)
            .unwrap();
        let body = inbound_text(
            sending::SHEENA,
            "16505551234",
            "Sheena Nelson",
            text,
            &wamid,
            sending::SHEENA_WROTE_AT,
        );
        let r = self.app.deliver(&self.ch, &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        wamid
    }

    /// Waits until the page's event stream is open (so no event is missed).
    async fn live(&self) {
        self.b
            .wait_js(
                "the event stream",
                "return document.body.dataset.liveConnected === '1';",
            )
            .await;
    }

    /// Opens Sheena's conversation from the list.
    async fn open_sheena(&self) {
        self.b.open_conversation("Sheena").await;
        self.live().await;
    }

    /// Moves the clock on by `hours`, and signs the agent in again (the session has gone idle
    /// for that long).
    async fn later(&self, hours: i64) {
        self.app.clock.advance(time::Duration::hours(hours));
        let agent = &self.t.members["agent"];
        self.b.sign_in(&agent.email, &agent.password).await;
    }

    async fn finish(self) {
        self.b.assert_same_origin().await;
        self.b.assert_no_script_ran().await;
        self.b.close().await;
        self.app.finish().await;
    }
}

/// A customer's message appears in the open inbox without a reload; the agent's reply goes to
/// Graph (meta-sim) through the outbox, and its status moves to sent, delivered and read on the
/// page as the statuses come back, live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_customer_message_appears_live_and_the_reply_reaches_read() {
    let Some(_turn) =
        enabled("browser_a_customer_message_appears_live_and_the_reply_reaches_read").await
    else {
        return;
    };
    let i = inbox(1280, 900).await;
    let b = &i.b;
    b.wait_text(".empty-title", "No open conversations").await;
    i.live().await;
    i.sheena_writes("Is my order on its way?").await;
    b.wait_text("#conversation-list", "Sheena Nelson").await;
    // Only the live region changed: no navigation happened.
    assert_eq!(b.path().await, "/inbox");

    i.open_sheena().await;
    b.wait_text("#thread", "Is my order on its way?").await;
    b.wait_text("#window", "left to reply").await;
    // Keys: r goes to the reply box, Escape leaves it.
    b.press('r').await;
    assert_eq!(b.focused().await, "reply-text");
    b.press('\u{E00C}').await;
    assert_ne!(b.focused().await, "reply-text");
    b.fill("#reply-text", "Yes, it ships today.").await;
    b.click("#send").await;
    b.wait_text(".msg-out .status", "Queued").await;
    i.live().await;

    assert_eq!(sending::dispatch(&i.app).await.sent, 1);
    b.wait_text(".msg-out .status", "Sent").await;
    let records = i.sim.sent_messages();
    let reply = records
        .iter()
        .find(|r| r.kind == "text")
        .expect("the reply reached Graph");
    assert_eq!(reply.body["text"]["body"], "Yes, it ships today.");
    for (fixture, shown) in [
        ("status-delivered.json", "Delivered"),
        ("status-read.json", "Read"),
    ] {
        let r = i
            .app
            .deliver(&i.ch, &sending::status_delivery(fixture, &reply.wamid))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        b.wait_text(".msg-out .status", shown).await;
    }
    // A second customer message arrives in the open conversation, live.
    i.sheena_writes("Great, thanks!").await;
    b.wait_text("#thread", "Great, thanks!").await;
    i.finish().await;
}

/// Where screenshots go: `docs/screenshots/` when `CONFIDE_UPDATE_SCREENSHOTS` is set (they are
/// committed and linked from the README), else a scratch folder.
fn screenshot_dir() -> std::path::PathBuf {
    if std::env::var_os("CONFIDE_UPDATE_SCREENSHOTS").is_some() {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        std::env::temp_dir().join("confide-screenshots")
    }
}

/// A few customers, a reply that was read, a note, canned responses, labels: what the
/// screenshots show. Returns Sheena's conversation path.
async fn populate(i: &Inbox) -> String {
    let customers = [
        (
            "US.1001",
            "14155550101",
            "Maya Okafor",
            "Hi! Can I change the delivery address for order #4411?",
        ),
        (
            "US.1002",
            "447700900123",
            "Tom Becker",
            "The blender arrived with a cracked lid 😕",
        ),
        (
            "US.1003",
            "5511987650000",
            "Lucía Fernández",
            "¿Tienen envío a Curitiba?",
        ),
        (
            "US.1004",
            "4915112345678",
            "Jonas Weber",
            "Thanks, that worked.",
        ),
    ];
    for (n, (user, phone, name, text)) in customers.iter().enumerate() {
        let body = inbound_text(
            user,
            phone,
            name,
            text,
            &format!("wamid.SHOT{n}"),
            sending::SHEENA_WROTE_AT - 600 * (n as i64 + 1),
        );
        let r = i.app.deliver(&i.ch, &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    i.sheena_writes("Is my order on its way? It was due yesterday.")
        .await;
    let owner = &i.t.owner.auth;
    for (shortcut, text) in [
        (
            "ship",
            "Your order ships today; you'll get a tracking link by email.",
        ),
        (
            "thanks",
            "Thanks for reaching out! Anything else I can help with?",
        ),
    ] {
        let r = i
            .app
            .call(
                axum::http::Method::POST,
                "/api/v1/canned-responses",
                owner,
                Some(serde_json::json!({"shortcut": shortcut, "text": text})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let b = &i.b;
    b.goto("/inbox").await;
    b.open_conversation("Sheena").await;
    b.wait_text("#thread", "due yesterday").await;
    let path = b.path().await;
    b.fill(
        "#reply-text",
        "Sorry about that! It left our warehouse this morning.",
    )
    .await;
    b.click("#send").await;
    b.wait_text(".msg-out .status", "Queued").await;
    sending::dispatch(&i.app).await;
    let wamid = i.sim.sent_messages()[0].wamid.clone();
    for f in ["status-delivered.json", "status-read.json"] {
        i.app
            .deliver(&i.ch, &sending::status_delivery(f, &wamid))
            .await;
    }
    b.click(".note-box summary").await;
    b.fill(
        "#note-text",
        "Carrier confirmed pickup at 09:10. Follow up tomorrow if no scan.",
    )
    .await;
    b.click("#add-note").await;
    b.wait_text("#thread", "Carrier confirmed").await;
    b.click("#assign-me").await;
    b.wait_text("#assignee", "Assigned to you").await;
    path
}

/// The main pages (as the owner, who sees every one), after [`populate`]: (name, path).
async fn main_pages(i: &Inbox, conversation: &str) -> Vec<(&'static str, String)> {
    let contact =
        i.b.js("return document.querySelector('.convo-title a').getAttribute('href');")
            .await
            .as_str()
            .unwrap()
            .to_string();
    let owner = &i.t.owner;
    i.b.sign_in(&owner.email, &owner.password).await;
    // A file on the media page.
    let (_, key) = i.app.api_key(&i.t, "agent").await;
    let (status, v) = crate::media::upload(
        &i.app,
        &key,
        "spring-catalogue.png",
        Some("image/png"),
        &crate::media::png(48_000),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    vec![
        ("inbox", "/inbox".to_string()),
        ("conversation", conversation.to_string()),
        ("contacts", "/contacts".to_string()),
        ("contact", contact),
        ("broadcasts", "/broadcasts".to_string()),
        ("media", "/media".to_string()),
        ("templates", "/templates".to_string()),
        ("channels", "/channels".to_string()),
        ("team", "/team".to_string()),
        ("api-keys", "/api-keys".to_string()),
        ("audit", "/audit".to_string()),
        ("account", "/account".to_string()),
    ]
}

/// Screenshots of the main pages at desktop (1280 px) and phone (375 px) width; at 375 px no
/// page is wider than the screen. Every request of every page stays on Confide's origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_screenshots_of_the_main_pages() {
    let Some(_turn) = enabled("browser_screenshots_of_the_main_pages").await else {
        return;
    };
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let i = inbox(1280, 860).await;
    let conversation = populate(&i).await;
    let pages = main_pages(&i, &conversation).await;
    for (name, path) in &pages {
        i.b.goto(path).await;
        i.b.wait_css("#main").await;
        std::fs::write(
            dir.join(format!("{name}-desktop.png")),
            i.b.screenshot().await,
        )
        .unwrap();
        i.b.assert_same_origin().await;
    }
    let owner = &i.t.owner;
    let phone = Browser::start(&i._served, 375, 780).await;
    phone.goto("/sign-in").await;
    phone.wait_css("#email").await;
    std::fs::write(dir.join("sign-in-phone.png"), phone.screenshot().await).unwrap();
    phone.sign_in(&owner.email, &owner.password).await;
    for (name, path) in &pages {
        phone.goto(path).await;
        phone.wait_css("#main").await;
        let fits = phone
            .js("return document.documentElement.scrollWidth <= window.innerWidth;")
            .await;
        assert_eq!(
            fits,
            serde_json::Value::Bool(true),
            "{path} is wider than 375 px"
        );
        std::fs::write(
            dir.join(format!("{name}-phone.png")),
            phone.screenshot().await,
        )
        .unwrap();
        phone.assert_same_origin().await;
    }
    phone.close().await;
    i.finish().await;
}

/// Where axe-core is (`.ci/run` installs it from npm into `.ci/node/`, git-ignored), or
/// `CONFIDE_AXE_JS`.
fn axe_source() -> String {
    let path = std::env::var("CONFIDE_AXE_JS").unwrap_or_else(|_| {
        format!(
            "{}/../../.ci/node/node_modules/axe-core/axe.min.js",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e} (install it: npm install --prefix .ci/node axe-core@4)")
    })
}

/// axe-core, run in the browser on every main page (desktop and phone width, the sign-in page
/// too): no serious or critical accessibility violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_axe_finds_no_serious_violations_on_the_main_pages() {
    let Some(_turn) = enabled("browser_axe_finds_no_serious_violations_on_the_main_pages").await
    else {
        return;
    };
    let axe = axe_source();
    let i = inbox(1280, 860).await;
    let conversation = populate(&i).await;
    let pages = main_pages(&i, &conversation).await;
    let run = "var done = arguments[arguments.length - 1];\
        axe.run(document, {resultTypes: ['violations']}).then(function (r) {\
          done(r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })\
            .map(function (v) { return v.impact + ' ' + v.id + ': ' + v.help + ' @ ' + v.nodes.map(function (n) { return n.target.join(' '); }).join(', '); }));\
        }, function (e) { done(['axe failed: ' + e]); });";
    let mut problems = Vec::new();
    let mut checked = 0;
    let phone = Browser::start(&i._served, 375, 780).await;
    phone.goto("/sign-in").await;
    phone.wait_css("#email").await;
    let owner = &i.t.owner;
    for b in [&i.b, &phone] {
        if std::ptr::eq(b, &phone) {
            b.js(&format!("{axe}; return true;")).await;
            let found = b.client.execute_async(run, vec![]).await.unwrap();
            for v in found.as_array().unwrap() {
                problems.push(format!("/sign-in (phone): {}", v.as_str().unwrap()));
            }
            checked += 1;
            b.sign_in(&owner.email, &owner.password).await;
        }
        for (name, path) in &pages {
            b.goto(path).await;
            b.wait_css("#main").await;
            b.js(&format!("{axe}; return true;")).await;
            let found = b.client.execute_async(run, vec![]).await.unwrap();
            for v in found.as_array().unwrap() {
                problems.push(format!("{name}: {}", v.as_str().unwrap()));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, pages.len() * 2 + 1);
    assert!(
        problems.is_empty(),
        "axe-core found:\n{}",
        problems.join("\n")
    );
    phone.close().await;
    i.finish().await;
}

/// The 24-hour window closes (the injected clock moves past it): the composer offers only the
/// approved templates of the conversation's number and says why; a template's parameters fill
/// its preview, and it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_the_composer_switches_to_templates_when_the_window_closes() {
    let Some(_turn) =
        enabled("browser_the_composer_switches_to_templates_when_the_window_closes").await
    else {
        return;
    };
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let i = inbox(1280, 900).await;
    let waba = "102290129340398";
    i.sim.add_template(TemplateConfig::new(
        waba,
        "order_update",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Hi {{1}}, your order {{2}} has shipped.",
    ));
    i.sim.add_template(TemplateConfig::new(
        waba,
        "spring_sale",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Pending,
        "Spring sale: {{1}} off.",
    ));
    let owner = &i.t.owner.auth;
    let r = i
        .app
        .call(
            axum::http::Method::POST,
            "/api/v1/templates/sync",
            owner,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    i.sheena_writes("Where is my parcel?").await;
    let b = &i.b;
    b.goto("/inbox").await;
    i.open_sheena().await;
    b.wait_css("#reply-text").await;

    // A day later the window has closed.
    let path = b.path().await;
    i.later(25).await;
    b.goto(&path).await;
    b.wait_text("#window", "window closed").await;
    b.wait_text(".window-why", "approved template").await;
    assert_eq!(
        b.js("return document.querySelector('#reply-text') === null;")
            .await,
        true
    );
    // Only the approved template is offered.
    let offered = b
        .js("return Array.from(document.querySelectorAll('#template-select option')).map(function (o) { return o.textContent; }).join('|');")
        .await;
    let offered = offered.as_str().unwrap();
    assert!(offered.contains("order_update"), "{offered}");
    assert!(!offered.contains("spring_sale"), "{offered}");
    b.wait_css("#template-select")
        .await
        .select_by_label("order_update (en_US, utility)")
        .await
        .unwrap();
    b.wait_css("#template-form").await;
    b.fill("#param-p1", "Sheena").await;
    b.fill("#param-p2", "#4411").await;
    b.wait_text(
        "#template-preview",
        "Hi Sheena, your order #4411 has shipped.",
    )
    .await;

    // Utility messages need her consent: refused with the reason, the parameters kept.
    b.click("#send-template").await;
    b.wait_css("#form-error").await;
    assert_eq!(
        b.js("return document.querySelector('#param-p2').value;")
            .await,
        "#4411"
    );
    let contact = b
        .js("return document.querySelector('.convo-title a').getAttribute('href');")
        .await;
    let r = i
        .app
        .call(
            axum::http::Method::POST,
            &format!("/api/v1{}/consent", contact.as_str().unwrap()),
            owner,
            Some(serde_json::json!({"purpose": "utility", "status": "opted_in", "source": "checkout"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    b.click("#send-template").await;
    b.wait_text(".msg-out", "order_update").await;
    b.wait_text(".msg-out .status", "Queued").await;
    assert_eq!(sending::dispatch(&i.app).await.sent, 1);
    let sent = i.sim.sent_messages();
    assert_eq!(sent.last().unwrap().kind, "template");
    i.finish().await;
}

/// A contact's name, labels and attributes are edited on its page; the label then filters the
/// contact book.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_contact_is_edited_with_its_labels() {
    let Some(_turn) = enabled("browser_a_contact_is_edited_with_its_labels").await else {
        return;
    };
    let i = inbox(1280, 900).await;
    i.sheena_writes("Hello").await;
    let b = &i.b;
    b.goto("/contacts").await;
    b.click("#contacts-table a.row-link").await;
    b.wait_css("#contact-form").await;
    // Her conversation is listed on her page.
    b.wait_text("#contact-conversations", "Open window").await;
    b.fill("#name", "Sheena N. Nelson").await;
    b.fill("#labels", "vip, wholesale, vip").await;
    b.fill("#attributes", "plan=pro\ncity=Lisbon").await;
    b.click("#save-contact").await;
    b.wait_css("#saved").await;
    b.wait_text("#contact-name", "Sheena N. Nelson").await;
    let tags = b
        .js("return Array.from(document.querySelectorAll('#contact-labels .tag')).map(function (t) { return t.textContent; }).join(',');")
        .await;
    assert_eq!(tags, "vip,wholesale");
    assert_eq!(
        b.js("return document.querySelector('#attributes').value;")
            .await,
        "city=Lisbon\nplan=pro"
    );
    // A malformed attribute line is refused in words, nothing saved.
    b.fill("#attributes", "no equals sign").await;
    b.click("#save-contact").await;
    b.wait_text("#form-error", "key=value").await;
    // The label filters the book.
    b.click("#contact-labels .tag").await;
    b.wait_css("#contacts-table").await;
    b.wait_text("#contacts-table", "Sheena N. Nelson").await;
    b.goto("/contacts?label=nobody").await;
    b.wait_text(".empty-title", "No contact matches").await;
    i.finish().await;
}

/// Markup in what customers and teammates write is shown as text: a contact name (from the
/// webhook and from the edit form), a message body (on load and arriving live), a note, a file
/// name (a customer's document in the thread, an upload on the media page), a label and a
/// template parameter. No dialog opens, no marker a script would set appears, and no
/// element the markup describes is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_xss_payloads_are_shown_as_text() {
    let Some(_turn) = enabled("browser_xss_payloads_are_shown_as_text").await else {
        return;
    };
    const IMG: &str = r#"<img src=x id=xss-marker onerror="document.body.setAttribute('data-xss','1');alert('name')">"#;
    const SCRIPT: &str = "<script>window.__xss=true;alert('body')</script>";
    const SVG: &str = r#""><svg onload="alert('note')" id="xss-marker"></svg>"#;
    const LABEL: &str = "<b data-xss=1>bold</b>";
    const FILE: &str = "<img src=x onerror=alert(1)>.png";
    let injected = "return document.querySelector('img[src=\"x\"], svg#xss-marker, b[data-xss], script:not([src])') === null;";
    let i = inbox(1280, 900).await;
    let b = &i.b;
    i.live().await;
    // The contact's name as WhatsApp gives it, and a message body, arriving live.
    let wamid = i
        .sim
        .customer_sends(sending::SHEENA, FIXTURE_PHONE_NUMBER_ID, SCRIPT)
        .unwrap();
    let body = inbound_text(
        sending::SHEENA,
        "16505551234",
        IMG,
        SCRIPT,
        &wamid,
        sending::SHEENA_WROTE_AT,
    );
    assert_eq!(i.app.deliver(&i.ch, &body).await.status, StatusCode::OK);
    b.wait_text("#conversation-list", IMG).await;
    b.assert_no_script_ran().await;
    assert_eq!(b.js(injected).await, true);

    b.open_conversation("<img").await;
    b.wait_text("#thread", SCRIPT).await;
    b.wait_text(".convo-title h2", IMG).await;
    // A note with markup, and another message arriving live in the open conversation.
    b.click(".note-box summary").await;
    b.fill("#note-text", SVG).await;
    b.click("#add-note").await;
    b.wait_text(".msg-note", SVG).await;
    i.live().await;
    let second = inbound_text(
        sending::SHEENA,
        "16505551234",
        IMG,
        "second <img src=x onerror=alert(2)>",
        "wamid.XSS2",
        sending::SHEENA_WROTE_AT,
    );
    assert_eq!(i.app.deliver(&i.ch, &second).await.status, StatusCode::OK);
    b.wait_text("#thread", "second <img src=x onerror=alert(2)>")
        .await;
    b.assert_no_script_ran().await;
    assert_eq!(b.js(injected).await, true);
    // A file name with markup: a document the customer sends, arriving live in the thread...
    let doc = String::from_utf8(crate::harness::fixture("document.json"))
        .unwrap()
        .replace("invoice-2026-11.pdf", FILE)
        .replace("wamid.DOC0001", "wamid.XSSDOC");
    assert_eq!(
        i.app.deliver(&i.ch, doc.as_bytes()).await.status,
        StatusCode::OK
    );
    b.wait_text("#thread", &format!("[document] {FILE}")).await;
    b.assert_no_script_ran().await;
    assert_eq!(b.js(injected).await, true);
    // ...and a file the team uploads, on the media page.
    let (_, key) = i.app.api_key(&i.t, "agent").await;
    let (status, v) = crate::media::upload(
        &i.app,
        &key,
        FILE,
        Some("image/png"),
        &crate::media::png(500),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let back = b.path().await;
    b.goto("/media").await;
    b.wait_text("#media-table", FILE).await;
    b.assert_no_script_ran().await;
    assert_eq!(b.js(injected).await, true);
    b.goto(&back).await;
    b.wait_css("#thread").await;

    // A label and a name typed into the contact form.
    b.click(".convo-title a").await;
    b.wait_css("#contact-form").await;
    b.fill("#name", SVG).await;
    b.fill("#labels", LABEL).await;
    b.click("#save-contact").await;
    b.wait_css("#saved").await;
    b.wait_text("#contact-name", SVG).await;
    b.wait_text("#contact-labels", LABEL).await;
    b.assert_no_script_ran().await;
    assert_eq!(b.js(injected).await, true);
    b.goto("/contacts").await;
    b.wait_text("#contacts-table", LABEL).await;
    b.assert_no_script_ran().await;
    assert_eq!(b.js(injected).await, true);

    // A template parameter, after the window closed.
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    i.sim.add_template(TemplateConfig::new(
        "102290129340398",
        "service_note",
        "en_US",
        TemplateCategory::Utility,
        TemplateStatus::Approved,
        "Update: {{1}}",
    ));
    let owner = &i.t.owner.auth;
    let r = i
        .app
        .call(
            axum::http::Method::POST,
            "/api/v1/templates/sync",
            owner,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    i.later(25).await;
    b.goto("/inbox?view=all").await;
    b.open_conversation("<svg").await;
    b.wait_css("#template-select")
        .await
        .select_by_label("service_note (en_US, utility)")
        .await
        .unwrap();
    b.fill("#param-p1", IMG).await;
    b.wait_text("#template-preview", &format!("Update: {IMG}"))
        .await;
    b.assert_no_script_ran().await;
    assert_eq!(b.js(injected).await, true);
    // Sent (she opted in to utility messages): the parameter in the thread is text too.
    let contact = b
        .js("return document.querySelector('.convo-title a').getAttribute('href');")
        .await;
    let r = i
        .app
        .call(
            axum::http::Method::POST,
            &format!("/api/v1{}/consent", contact.as_str().unwrap()),
            owner,
            Some(serde_json::json!({"purpose": "utility", "status": "opted_in", "source": "form"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    b.click("#send-template").await;
    b.wait_text(".msg-out", IMG).await;
    b.assert_no_script_ran().await;
    assert_eq!(b.js(injected).await, true);
    i.finish().await;
}

/// A marketing broadcast started from its page reaches the labelled contact who opted in
/// (consent recorded on her contact page), refuses the one who did not, and its progress moves
/// live as the dispatcher sends and statuses come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_broadcast_is_started_and_its_progress_moves_live() {
    let Some(_turn) = enabled("browser_a_broadcast_is_started_and_its_progress_moves_live").await
    else {
        return;
    };
    use meta_sim::{TemplateCategory, TemplateConfig, TemplateStatus};
    let i = inbox(1280, 900).await;
    i.sim.add_template(TemplateConfig::new(
        "102290129340398",
        "spring_sale",
        "en_US",
        TemplateCategory::Marketing,
        TemplateStatus::Approved,
        "Hi {{1}}, spring sale: {{2}} off everything.",
    ));
    i.sheena_writes("Hello").await;
    let other = inbound_text(
        "US.2002",
        "14155550177",
        "Maya Okafor",
        "Hi",
        "wamid.MAYA",
        sending::SHEENA_WROTE_AT,
    );
    assert_eq!(i.app.deliver(&i.ch, &other).await.status, StatusCode::OK);
    let owner = &i.t.owner;
    let b = &i.b;
    b.sign_in(&owner.email, &owner.password).await;
    b.goto("/templates").await;
    b.click("#sync").await;
    b.wait_text("#notice", "1 new").await;

    // Both are labelled vip; only Sheena opts in to utility messages (on her page).
    let contacts = i.app.get_ok(&owner.auth, "/api/v1/contacts").await;
    for c in contacts["contacts"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let r = i
            .app
            .call(
                axum::http::Method::PATCH,
                &format!("/api/v1/contacts/{id}"),
                &owner.auth,
                Some(serde_json::json!({"labels": ["vip"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if c["name"] == "Sheena Nelson" {
            b.goto(&format!("/contacts/{id}")).await;
            b.click(".inline-form summary").await;
            b.wait_css("#purpose")
                .await
                .select_by_value("marketing")
                .await
                .unwrap();
            b.fill("#source", "checkout form").await;
            b.fill("#evidence", "Ticked the box on order #4411").await;
            b.click(".inline-form button[type=submit]").await;
            b.wait_text("#consent-history", "checkout form").await;
        }
    }

    b.goto("/broadcasts").await;
    b.wait_css("#template")
        .await
        .select_by_value("spring_sale|en_US")
        .await
        .unwrap();
    b.fill("#label", "vip").await;
    b.fill("#params", "friend\n20%").await;
    // The audience size after consent, before anything is sent: two labelled, one opted in.
    b.click("#review-broadcast").await;
    b.wait_text("#audience-recipients", "2").await;
    b.wait_text("#audience-permitted", "1").await;
    b.wait_text("#audience-refused", "1").await;
    assert_eq!(
        i.app.get_ok(&owner.auth, "/api/v1/broadcasts").await["broadcasts"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "reviewing starts nothing"
    );
    b.click("#start-broadcast").await;
    b.wait_css("#progress").await;
    assert!(b.path().await.starts_with("/broadcasts/"));
    // Maya never opted in to marketing: refused, never queued.
    b.wait_text("#count-refused", "1").await;
    b.wait_text("#count-queued", "1").await;
    i.live().await;

    assert_eq!(sending::dispatch(&i.app).await.sent, 1);
    b.wait_text("#count-sent", "1").await;
    b.wait_text("#count-queued", "0").await;
    let sent = i.sim.sent_messages();
    let msg = sent.iter().find(|m| m.kind == "template").unwrap();
    let r = i
        .app
        .deliver(
            &i.ch,
            &sending::status_delivery("status-read.json", &msg.wamid),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    b.wait_text("#count-read", "1").await;
    // Paused from the page.
    b.click("#pause").await;
    b.wait_text("#broadcast-state", "paused").await;
    i.finish().await;
}
