//! Data rights at the API (C13): `DELETE /api/v1/contacts/{id}` erases a person for good (the
//! files, a PostgreSQL dump and the media store hold none of their markers afterwards), an
//! opt-out still blocks sends to the same number, and the audit chain verifies.

use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, TestApp, TestChannel, fixture};
use axum::http::{Method, StatusCode};
use confide_core::entropy::{OsEntropy, random_array};
use serde_json::{Value, json};

fn marker(tag: &str) -> String {
    format!("{tag}-{}", hex::encode(random_array::<8>(&OsEntropy)))
}

/// A fixture delivery with the person's name, number, message text and wamid replaced.
fn delivery(name: &str, person: &Person, text_or_caption: &str, wamid: &str) -> Vec<u8> {
    let raw = String::from_utf8(fixture(name)).unwrap();
    raw.replace("Sheena Nelson", &person.name)
        .replace("16505551234", &person.digits)
        .replace("US.13491208655302741918", &person.bsuid)
        .replace(
            "Does it come in another color? Gr\\u00fc\\u00dfe \\u2713",
            text_or_caption,
        )
        .replace("the broken part", text_or_caption)
        .replace("wamid.TEXT0001", wamid)
        .replace("wamid.IMG0001", wamid)
        .into_bytes()
}

struct Person {
    name: String,
    digits: String,
    bsuid: String,
}

fn person() -> Person {
    let d: String = random_array::<7>(&OsEntropy)
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    Person {
        name: marker("Erasable Person"),
        digits: format!("1650{d}"),
        bsuid: format!(
            "US.{}",
            random_array::<10>(&OsEntropy)
                .iter()
                .map(|b| char::from(b'0' + b % 10))
                .collect::<String>()
        ),
    }
}

/// Every file under `dir`, concatenated.
fn dir_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return all;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(dir_bytes(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The database's bytes: SQLite's files (database, log), or a PostgreSQL dump.
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    let url = app.state.config.database_url.clone();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap();
        return dir_bytes(std::path::Path::new(path).parent().unwrap());
    }
    let out = tokio::process::Command::new("pg_dump")
        .arg("--no-owner")
        .arg(&url)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

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

async fn erasure_proof_on(app: TestApp) {
    let t = app.tenant("Acme").await;
    let ch: TestChannel = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "erasure-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let owner = &t.owner.auth;
    let agent = &t.members["agent"].auth;
    let p = person();
    let text = marker("erasable message text");
    let caption = marker("erasable caption");
    let note = marker("erasable note");
    let attribute = marker("erasable attribute");
    let media_bytes = marker("erasable media bytes");
    for (fixture_name, body, wamid) in [
        ("text.json", &text, marker("wamid.text")),
        ("image.json", &caption, marker("wamid.image")),
    ] {
        let r = app
            .deliver(&ch, &delivery(fixture_name, &p, body, &wamid))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let conv = conversation_of(&app, agent, &p.name).await;
    let conv_id = conv["id"].as_str().unwrap().to_string();
    let contact = conv["contact"]["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{conv_id}/notes"),
            agent,
            Some(json!({"text": note})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/contacts/{contact}"),
            agent,
            Some(json!({"attributes": {"note": attribute}, "labels": ["vip"]})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/contacts/{contact}/consent"),
            owner,
            Some(json!({"purpose": "service", "status": "opted_out", "source": "phone call"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    // The image's object in the media store (planted as the fetcher would leave it).
    let messages = app
        .get_ok(agent, &format!("/api/v1/conversations/{conv_id}/messages"))
        .await;
    let image = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "image" || m["kind"] == "image")
        .unwrap_or_else(|| panic!("an image in {messages}"))["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.state
        .vault
        .put(t.id, image, media_bytes.as_bytes())
        .unwrap();
    let media_dir = app
        .state
        .config
        .media_url
        .strip_prefix("file://")
        .unwrap()
        .to_string();
    assert!(contains(&dir_bytes(media_dir.as_ref()), &media_bytes));

    // Only `data.erase` erases: not the agent, not the admin.
    let path = format!("/api/v1/contacts/{contact}");
    for who in ["agent", "admin", "viewer"] {
        let r = app
            .call(Method::DELETE, &path, &t.members[who].auth, None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {}", r.body);
    }
    let r = app.call(Method::DELETE, &path, owner, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["erased"]["messages"], 2, "{}", r.body);
    assert_eq!(r.body["erased"]["media"], 1, "{}", r.body);
    assert_eq!(r.body["erased"]["opt_outs_kept"], json!(["service"]));
    assert_eq!(
        app.call(Method::GET, &path, owner, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(Method::DELETE, &path, owner, None).await.status,
        StatusCode::NOT_FOUND,
        "erased once"
    );

    // None of the person's markers is in the database's files (or dump) or the media store.
    let db = database_bytes(&app).await;
    let media = dir_bytes(media_dir.as_ref());
    for planted in [
        &p.name,
        &p.digits,
        &p.bsuid,
        &text,
        &caption,
        &note,
        &attribute,
        &media_bytes,
    ] {
        assert!(!contains(&db, planted), "{planted} in the database");
        assert!(!contains(&media, planted), "{planted} in the media store");
    }
    assert!(
        app.state.vault.get(t.id, image).is_err(),
        "the media object is deleted"
    );

    // The person writes again: a new contact with the same number, still opted out.
    let r = app
        .deliver(
            &ch,
            &delivery("text.json", &p, "back again", &marker("wamid.back")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let conv = conversation_of(&app, agent, &p.name).await;
    let again = conv["contact"]["id"].as_str().unwrap();
    assert_ne!(again, contact, "a new contact");
    let consent = app
        .get_ok(agent, &format!("/api/v1/contacts/{again}/consent"))
        .await;
    assert_eq!(consent["current"]["service"], "opted_out", "{consent}");
    let r = app
        .call(
            Method::POST,
            &format!(
                "/api/v1/conversations/{}/messages",
                conv["id"].as_str().unwrap()
            ),
            agent,
            Some(json!({"type": "text", "text": "Welcome back"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.code(), "no_consent");

    // The audit chain verifies; the erasure is in it with counts only.
    let v = app.get_ok(owner, "/api/v1/audit/verify").await;
    assert_eq!(v["ok"], true, "{v}");
    let erased = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .find(|e| e.action == "contact.erased")
        .expect("audited");
    assert_eq!(erased.target, format!("contact:{contact}"));
    assert_eq!(erased.actor, format!("user:{}", t.owner.user_id));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_contact_leaves_no_marker_keeps_the_opt_out_and_the_chain_verifies() {
    erasure_proof_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_contact_leaves_no_marker_keeps_the_opt_out_and_the_chain_verifies_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    erasure_proof_on(app).await;
}

/// RFC 4180, as a spreadsheet reads it: rows of cells (quoted cells may hold `,`, `"` and line
/// breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contact_book_exports_as_csv_a_spreadsheet_reads_as_data_and_as_json() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let agent = &t.members["agent"].auth;
    let owner = &t.owner.auth;
    let nasty = [
        "=HYPERLINK(\"http://evil.test\",\"x\")",
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\tTabbed",
        "Quote \"and\", comma\nnew line",
        "Plain Name",
    ];
    let mut made = Vec::new();
    for (i, name) in nasty.iter().enumerate() {
        let r = app
            .call(
                Method::POST,
                "/api/v1/contacts",
                agent,
                Some(json!({
                    "phone": format!("+1650555{:04}", 1000 + i),
                    "name": name.replace(['\t', '\n'], " "),
                    "labels": ["=label", "vip"],
                    "attributes": {"formula": "=1+1", "city": "São Paulo"},
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        made.push(r.body);
    }
    // The viewer may read contacts but not export them.
    let r = app
        .call(
            Method::GET,
            "/api/v1/contacts/export",
            &t.members["viewer"].auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::GET,
            "/api/v1/contacts/export?format=xml",
            owner,
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );

    let r = app
        .call(
            Method::GET,
            "/api/v1/contacts/export?format=csv",
            owner,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let rows = parse_csv(r.body.as_str().unwrap());
    assert_eq!(
        rows[0],
        [
            "id",
            "phone",
            "wa_user_id",
            "username",
            "name",
            "labels",
            "attributes",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(rows.len(), made.len() + 1, "a header and every contact");
    for row in &rows[1..] {
        assert_eq!(row.len(), 9, "{row:?}");
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a spreadsheet would evaluate {cell:?}"
            );
        }
        let c = made.iter().find(|c| c["id"] == row[0]).expect("a contact");
        // Each cell is the contact's data, behind the neutralising quote where needed.
        let plain = |cell: &str| cell.strip_prefix('\'').unwrap_or(cell).to_string();
        assert_eq!(plain(&row[1]), c["phone"].as_str().unwrap());
        assert_eq!(plain(&row[4]), c["name"].as_str().unwrap());
        assert_eq!(plain(&row[5]), "=label;vip");
        let attrs: Value = serde_json::from_str(&row[6]).unwrap();
        assert_eq!(attrs, c["attributes"]);
    }

    let r = app
        .call(
            Method::GET,
            "/api/v1/contacts/export?format=json",
            owner,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], 1);
    let exported = r.body["contacts"].as_array().unwrap();
    assert_eq!(exported.len(), made.len());
    for c in &made {
        assert!(exported.contains(c), "{c} exported as the API shows it");
    }
    let actions = app.audit_actions(t.id).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "contacts.exported").count(),
        2
    );
    app.finish().await;
}
