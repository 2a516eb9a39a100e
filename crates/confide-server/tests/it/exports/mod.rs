//! Full exports (C13; GDPR Art. 15 and 20): a generated tenant exported through the API, the zip
//! opened and every JSON file checked against the documented schema
//! (`docs/privacy/export-schema.json`), every contact and message present, the CSV files read
//! as data by a CSV reader with every dangerous cell neutralised, the media bytes decrypted; the
//! download link refused when tampered or expired, the download audited, the export deleted
//! when its day is over; one contact's export holds that person only; another tenant sees none
//! of it. On SQLite, and on PostgreSQL (`_on_postgres`).
//!
//! Longer than 600 lines: the generated tenant and the zip helpers serve every scenario here, and
//! the schema check lives in [`schema`].

use crate::data::{Person, delivery, marker, person};
use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, Tenant, TestApp};
use crate::media::{fetch, png, upload};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

mod schema;

use schema::{schema, violations};

// ---------------------------------------------------------------------------------------------
// A generated tenant.

struct Generated {
    owner: Auth,
    /// Every contact id, and every message id.
    contacts: BTreeSet<String>,
    messages: BTreeSet<String>,
    /// The first person: their contact, conversation, messages and markers.
    first_contact: String,
    first_messages: BTreeSet<String>,
    first_markers: Vec<String>,
    /// Markers of everyone else (never in the first person's export).
    others_markers: Vec<String>,
    /// The media object the first person was sent, and its bytes.
    media_id: String,
    media_bytes: Vec<u8>,
    formula_name: String,
    formula_text: String,
}

async fn messages_of(app: &TestApp, auth: &Auth, conversation: &str) -> BTreeSet<String> {
    let v = app
        .get_ok(
            auth,
            &format!("/api/v1/conversations/{conversation}/messages?limit=200"),
        )
        .await;
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

async fn generate(app: &TestApp, t: &Tenant) -> Generated {
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "export-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let owner = t.owner.auth.clone();
    let agent = &t.members["agent"].auth;
    let mut people: Vec<(Person, String)> = Vec::new();
    let formula = marker("=1+1");
    for (i, text) in [
        marker("first message"),
        marker("second person's words"),
        format!("+31 {}", marker("call me")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = person();
        if i == 2 {
            p.name = formula.clone();
        }
        // Written now (the fixture's own time is long past: no reply could be sent).
        let now = confide_core::clock::Clock::now(app.clock.as_ref()).unix_timestamp();
        let body = String::from_utf8(delivery("text.json", &p, &text, &marker("wamid.export")))
            .unwrap()
            .replace(
                "\"timestamp\":\"1749416383\"",
                &format!("\"timestamp\":\"{now}\""),
            );
        let r = app.deliver(&ch, body.as_bytes()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        people.push((p, text));
    }
    let conversations = app.get_ok(agent, "/api/v1/conversations?limit=200").await;
    let conv_of = |name: &str| -> (String, String) {
        let c = conversations["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["contact"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {conversations}"));
        (
            c["id"].as_str().unwrap().to_string(),
            c["contact"]["id"].as_str().unwrap().to_string(),
        )
    };
    let (first_conv, first_contact) = conv_of(&people[0].0.name);

    // The first person: a note, labels and attributes, a consent event, a media message.
    let note = marker("export note");
    let attribute = marker("-attribute");
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{first_conv}/notes"),
            agent,
            Some(json!({"text": note})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/contacts/{first_contact}"),
            agent,
            Some(json!({"attributes": {"tier": attribute}, "labels": ["vip", "@label"]})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let evidence = marker("signed form");
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/contacts/{first_contact}/consent"),
            &owner,
            Some(json!({"purpose": "marketing", "status": "opted_in", "source": "web form", "evidence": evidence})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let (_, key) = app.api_key(t, "agent").await;
    let media_bytes = png(3_000);
    let (s, up) = upload(app, &key, "receipt.png", None, &media_bytes).await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let media_id = up["id"].as_str().unwrap().to_string();
    let caption = marker("media caption");
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{first_conv}/messages"),
            agent,
            Some(json!({"type": "media", "media_id": media_id, "caption": caption})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);

    // A template and a charge (as template sync and a status webhook leave them).
    let first_messages = messages_of(app, agent, &first_conv).await;
    {
        use confide_app::operator::store::charges::NewCharge;
        use confide_app::operator::store::templates::TemplateDef;
        let mut s = app.state.operator_store().scope(t.id).await.unwrap();
        s.templates()
            .upsert(
                ch.channel,
                &TemplateDef {
                    name: "order_update".into(),
                    language: "en_US".into(),
                    category: "UTILITY".into(),
                    status: "APPROVED".into(),
                    body_params: 1,
                    components: json!([{"type": "BODY", "text": "Order {{1}} shipped"}]),
                },
            )
            .await
            .unwrap();
        s.record_charges(&[NewCharge {
            wamid: "wamid.CHARGED".into(),
            phone_number_id: FIXTURE_PHONE_NUMBER_ID.into(),
            category: "utility".into(),
            pricing_model: Some("PMP".into()),
            pricing_type: Some("regular".into()),
            billable: true,
            at_micros: confide_core::clock::Clock::now_micros(app.clock.as_ref()),
        }])
        .await
        .unwrap();
        s.commit().await.unwrap();
    }
    // A contact without any conversation.
    let lone = marker("@lone contact");
    let r = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            agent,
            Some(json!({"phone": "+16505550999", "name": lone})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let mut contacts = BTreeSet::new();
    let v = app.get_ok(agent, "/api/v1/contacts?limit=200").await;
    for c in v["contacts"].as_array().unwrap() {
        contacts.insert(c["id"].as_str().unwrap().to_string());
    }
    assert_eq!(contacts.len(), 4);
    let mut messages = BTreeSet::new();
    for p in &people {
        let (conv, _) = conv_of(&p.0.name);
        messages.extend(messages_of(app, agent, &conv).await);
    }
    assert_eq!(messages.len(), 4);
    let mut others_markers = vec![lone];
    for (p, text) in &people[1..] {
        others_markers.push(p.name.clone());
        others_markers.push(p.digits.clone());
        others_markers.push(text.clone());
    }
    Generated {
        owner,
        contacts,
        messages,
        first_contact,
        first_messages,
        first_markers: vec![
            people[0].0.name.clone(),
            people[0].1.clone(),
            note,
            attribute,
            evidence,
            caption,
        ],
        others_markers,
        media_id,
        media_bytes,
        formula_name: formula,
        formula_text: people[2].1.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Runs export passes (the background worker may get there first) until the export is ready.
async fn ready(app: &TestApp, auth: &Auth, id: &str) -> Value {
    for _ in 0..1_200 {
        app.state.run_exports_once().await.unwrap();
        let v = app.get_ok(auth, &format!("/api/v1/exports/{id}")).await;
        match v["status"].as_str().unwrap() {
            "ready" => return v,
            "failed" => panic!("export failed: {v}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("the export did not finish");
}

/// The zip's files: JSON files parsed, the rest as bytes.
fn unzip(bytes: &[u8]) -> (BTreeMap<String, Value>, BTreeMap<String, Vec<u8>>) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let (mut json_files, mut other) = (BTreeMap::new(), BTreeMap::new());
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if name.ends_with(".json") {
            let v: Value =
                serde_json::from_slice(&data).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            json_files.insert(name, v);
        } else {
            other.insert(name, data);
        }
    }
    (json_files, other)
}

/// Every JSON file of the zip against the schema: all that the schema requires, nothing else.
fn check_schema(files: &BTreeMap<String, Value>) {
    let root = schema();
    let doc = Value::Object(files.clone().into_iter().collect());
    let mut out = Vec::new();
    violations(&root, &root, &doc, "zip", &mut out);
    assert!(out.is_empty(), "schema violations: {out:#?}");
}

/// A CSV file read as data (the `csv` crate, as a spreadsheet import would): header and rows.
fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// No cell a spreadsheet would run as a formula.
fn assert_neutralised(rows: &[Vec<String>], what: &str) {
    for row in rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{what}: dangerous cell {cell:?}"
            );
        }
    }
}

fn ids(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// The round trip.

async fn round_trip_on(app: TestApp) {
    let t = app.tenant("Acme").await;
    let g = generate(&app, &t).await;
    let owner = &g.owner;

    // Only owners and admins (data.export) export.
    for who in ["agent", "viewer"] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/exports",
                &t.members[who].auth,
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {}", r.body);
    }
    let r = app
        .call(Method::POST, "/api/v1/exports", owner, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let keys: BTreeSet<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "status",
            "scope",
            "progress",
            "created_at",
            "download_url"
        ])
    );
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["scope"], "tenant");
    assert_eq!(r.body["download_url"], Value::Null);
    assert!(r.body["progress"]["done"].is_i64() && r.body["progress"]["total"].is_i64());
    let id = r.body["id"].as_str().unwrap().to_string();
    let requested = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .find(|e| e.action == "export.requested")
        .expect("the request is audited");
    assert_eq!(requested.target, format!("tenant:{}", t.id));
    assert_eq!(requested.actor, format!("user:{}", t.owner.user_id));

    let v = ready(&app, owner, &id).await;
    let (done, total) = (
        v["progress"]["done"].as_i64().unwrap(),
        v["progress"]["total"].as_i64().unwrap(),
    );
    assert!(done > 0 && done == total, "{v}");
    let url = v["download_url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/x/"), "{url}");

    // The zip is sealed at rest: the stored object is no zip and shows none of the data.
    let stored: Vec<u8> =
        std::fs::read(app.media_dir().join(format!("{}/exports/{id}", t.id))).unwrap();
    assert!(!stored.starts_with(b"PK\x03\x04"));

    let (status, headers, body) = fetch(&app, Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/zip");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = body.unwrap();
    let downloaded: Vec<_> = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .filter(|e| e.action == "export.downloaded")
        .collect();
    assert_eq!(downloaded.len(), 1, "the download is audited");
    assert_eq!(downloaded[0].target, format!("export:{id}"));

    let (files, other) = unzip(&body);
    check_schema(&files);
    let manifest = &files["manifest.json"];
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["export_id"], id.as_str());
    assert_eq!(ids(&files["contacts.json"]), g.contacts, "every contact");
    assert_eq!(ids(&files["messages.json"]), g.messages, "every message");
    assert_eq!(ids(&files["conversations.json"]).len(), 3);
    let text = serde_json::to_string(&files).unwrap();
    for m in g.first_markers.iter().chain(&g.others_markers) {
        assert!(text.contains(m.as_str()), "{m} in the export");
    }
    assert_eq!(files["notes.json"].as_array().unwrap().len(), 1);
    assert_eq!(files["consent_events.json"].as_array().unwrap().len(), 1);
    assert_eq!(files["templates.json"][0]["name"], "order_update");
    assert_eq!(files["charges.json"][0]["wamid"], "wamid.CHARGED");
    assert!(
        files["labels.json"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "vip" && l["contacts"] == 1)
    );
    let actions: BTreeSet<&str> = files["audit_entries.json"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains("export.requested"), "{actions:?}");
    // The media message: described, and its bytes decrypted under media/.
    let media = &files["media.json"][0];
    assert_eq!(media["id"], g.media_id.as_str());
    let path = media["path"].as_str().unwrap();
    assert_eq!(other[path], g.media_bytes);
    assert!(
        files["messages.json"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["media_id"] == g.media_id.as_str())
    );

    // The CSV files, read as data: every contact and message, nothing a spreadsheet runs.
    let (header, rows) = read_csv(&other["contacts.csv"]);
    assert_eq!(header[..2], ["id", "phone"]);
    assert_eq!(
        rows.iter().map(|r| r[0].clone()).collect::<BTreeSet<_>>(),
        g.contacts
    );
    assert_neutralised(&rows, "contacts.csv");
    assert!(
        rows.iter()
            .any(|r| r.contains(&format!("'{}", g.formula_name))),
        "the formula name is kept, neutralised"
    );
    let (header, rows) = read_csv(&other["messages.csv"]);
    assert_eq!(header[0], "id");
    let text_at = header.iter().position(|h| h == "text").unwrap();
    assert_eq!(
        rows.iter().map(|r| r[0].clone()).collect::<BTreeSet<_>>(),
        g.messages
    );
    assert_neutralised(&rows, "messages.csv");
    assert!(
        rows.iter()
            .any(|r| r[text_at] == format!("'{}", g.formula_text))
    );

    // A tampered link, another method, and the same link once expired: 403, no bytes.
    let mut tampered = url.clone().into_bytes();
    let at = tampered.len() - 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let media_link = crate::media::link(&app, owner, &g.media_id).await;
    for (method, path) in [
        (Method::GET, tampered.as_str()),
        (Method::POST, url.as_str()),
        (Method::GET, "/x/AAAA"),
        // A media link is no export link.
        (Method::GET, &media_link.replacen("/m/", "/x/", 1)),
    ] {
        let (s, _, body) = fetch(&app, method.clone(), path, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}");
        assert!(!body.unwrap_or_default().starts_with(b"PK"));
    }
    app.clock.advance(time::Duration::minutes(6));
    let (s, _, _) = fetch(&app, Method::GET, &url, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an expired link");
    // Asking again gives a fresh link.
    let v = app.get_ok(owner, &format!("/api/v1/exports/{id}")).await;
    let fresh = v["download_url"].as_str().unwrap().to_string();
    assert_ne!(fresh, url);
    let (s, _, _) = fetch(&app, Method::GET, &fresh, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.audit_entries(t.id)
            .await
            .iter()
            .filter(|e| e.action == "export.downloaded")
            .count(),
        2
    );

    // A day after it finished, the export is deleted: its zip, its row, its links.
    app.clock.advance(time::Duration::hours(23));
    assert_eq!(app.state.sweep_exports().await.unwrap(), 0, "not yet");
    app.clock.advance(time::Duration::hours(1));
    // (A day later the session is over too.)
    let owner = &app.login(&t.owner.email, &t.owner.password).await;
    let fresh = app.get_ok(owner, &format!("/api/v1/exports/{id}")).await["download_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.state.sweep_exports().await.unwrap(), 1);
    let r = app
        .call(Method::GET, &format!("/api/v1/exports/{id}"), owner, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (s, _, _) = fetch(&app, Method::GET, &fresh, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the export is gone");
    assert!(
        !app.media_dir()
            .join(format!("{}/exports/{id}", t.id))
            .exists()
    );
    assert!(
        app.audit_entries(t.id)
            .await
            .iter()
            .any(|e| e.action == "export.expired" && e.target == format!("export:{id}"))
    );
    let v = app.get_ok(owner, "/api/v1/audit/verify").await;
    assert_eq!(v["ok"], true, "{v}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_export_round_trips_through_its_schema_and_its_link() {
    round_trip_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_export_round_trips_through_its_schema_and_its_link_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    round_trip_on(app).await;
}

// ---------------------------------------------------------------------------------------------
// One person's data (a data-subject access request).

async fn contact_export_on(app: TestApp) {
    let t = app.tenant("Acme").await;
    let g = generate(&app, &t).await;
    let owner = &g.owner;
    let r = app
        .call(
            Method::POST,
            "/api/v1/exports",
            owner,
            Some(json!({"contact_id": g.first_contact})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["scope"], "contact");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(
        app.audit_entries(t.id)
            .await
            .iter()
            .any(|e| e.action == "export.requested"
                && e.target == format!("contact:{}", g.first_contact))
    );
    let v = ready(&app, owner, &id).await;
    let (s, _, body) = fetch(&app, Method::GET, v["download_url"].as_str().unwrap(), None).await;
    assert_eq!(s, StatusCode::OK);
    let (files, other) = unzip(&body.unwrap());
    check_schema(&files);
    assert_eq!(files["manifest.json"]["scope"], "contact");
    assert_eq!(
        ids(&files["contacts.json"]),
        BTreeSet::from([g.first_contact.clone()])
    );
    assert_eq!(ids(&files["messages.json"]), g.first_messages);
    let all = format!(
        "{}{}",
        serde_json::to_string(&files).unwrap(),
        String::from_utf8_lossy(&other["contacts.csv"])
    ) + &String::from_utf8_lossy(&other["messages.csv"]);
    for m in &g.first_markers {
        assert!(all.contains(m.as_str()), "{m} in the person's export");
    }
    for m in &g.others_markers {
        assert!(!all.contains(m.as_str()), "{m} is someone else's");
    }
    assert!(
        contains(&body_bytes(&other), "IHDR"),
        "the media they were sent"
    );
    assert_eq!(files["media.json"].as_array().unwrap().len(), 1);
    // Someone else's (or nobody's) contact: 422, as for any unknown contact.
    for bad in ["0190a7a4-0000-7000-8000-000000000000", "not-an-id"] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/exports",
                owner,
                Some(json!({"contact_id": bad})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_contact"),
            "{bad}"
        );
    }
    // Erasing the person withdraws every export that may hold them.
    app.clock.advance(time::Duration::seconds(1));
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/contacts/{}", g.first_contact),
            owner,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call(Method::GET, &format!("/api/v1/exports/{id}"), owner, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        !app.media_dir()
            .join(format!("{}/exports/{id}", t.id))
            .exists()
    );
    app.finish().await;
}

fn body_bytes(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    files
        .iter()
        .filter(|(k, _)| k.starts_with("media/"))
        .flat_map(|(_, v)| v.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_export_holds_that_person_only() {
    contact_export_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_export_holds_that_person_only_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    contact_export_on(app).await;
}

// ---------------------------------------------------------------------------------------------
// Another tenant.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_can_neither_see_nor_download_an_export() {
    let app = TestApp::new().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Bravo").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/exports",
            &a.owner.auth,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let v = ready(&app, &a.owner.auth, &id).await;
    let url = v["download_url"].as_str().unwrap().to_string();
    let (_, b_key) = app.api_key(&b, "owner").await;
    for auth in [b.owner.auth.clone(), Auth::Bearer(b_key)] {
        let theirs = app
            .call(Method::GET, &format!("/api/v1/exports/{id}"), &auth, None)
            .await;
        let missing = app
            .call(
                Method::GET,
                "/api/v1/exports/0190a7a4-0000-7000-8000-000000000000",
                &auth,
                None,
            )
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        assert_eq!(theirs.body, missing.body);
    }
    // A's link with its tenant swapped for B's fails its signature.
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut raw = engine.decode(url.trim_start_matches("/x/")).unwrap();
    let kid = raw[1] as usize;
    raw[2 + kid..2 + kid + 16].copy_from_slice(b.id.as_uuid().as_bytes());
    let swapped = format!("/x/{}", engine.encode(raw));
    let (s, _, body) = fetch(&app, Method::GET, &swapped, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!body.unwrap_or_default().starts_with(b"PK"));
    assert!(
        app.audit_entries(b.id)
            .await
            .iter()
            .all(|e| !e.action.starts_with("export."))
    );
    app.finish().await;
}
