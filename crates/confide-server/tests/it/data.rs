//! Data rights at the API (C13): `DELETE /api/v1/contacts/{id}` erases a person for good (the
//! files, a PostgreSQL dump and the media store hold none of their markers afterwards), an
//! opt-out still blocks sends to the same number, and the audit chain verifies.

use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, TestApp, TestChannel, fixture};
use axum::http::{Method, StatusCode};
use confide_core::entropy::{OsEntropy, random_array};
use serde_json::{Value, json};

pub(crate) fn marker(tag: &str) -> String {
    format!("{tag}-{}", hex::encode(random_array::<8>(&OsEntropy)))
}

/// A fixture delivery with the person's name, number, message text and wamid replaced.
pub(crate) fn delivery(name: &str, person: &Person, text_or_caption: &str, wamid: &str) -> Vec<u8> {
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

pub(crate) struct Person {
    pub(crate) name: String,
    pub(crate) digits: String,
    pub(crate) bsuid: String,
}

pub(crate) fn person() -> Person {
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
        .parse::<confide_core::ids::MessageId>()
        .unwrap();
    // The image's object in the media store, as the fetcher leaves it (a row naming the
    // message and its bytes under a random key; planted in clear to prove deletion, not
    // encryption).
    let media_id = confide_core::ids::MediaId::new(app.clock.as_ref(), &OsEntropy);
    let key = format!("{}/{media_id}", t.id);
    {
        use confide_app::operator::store::media_objects::NewMediaObject;
        let mut s = app.state.operator_store().scope(t.id).await.unwrap();
        s.media_objects()
            .insert(&NewMediaObject {
                id: media_id,
                kind: "image".into(),
                content_type: "image/jpeg".into(),
                byte_size: media_bytes.len() as i64,
                file_name: None,
                storage_key: key.clone(),
                origin: "inbound",
                message: Some(image),
            })
            .await
            .unwrap();
        s.commit().await.unwrap();
    }
    let media_dir = app.media_dir().display().to_string();
    let object = app.media_dir().join(&key);
    std::fs::create_dir_all(object.parent().unwrap()).unwrap();
    std::fs::write(&object, media_bytes.as_bytes()).unwrap();
    assert!(contains(&dir_bytes(media_dir.as_ref()), &media_bytes));

    // The name is found by its words through keyed tokens (the marker's random word).
    let name_word = p.name.rsplit('-').next().unwrap().to_string();
    let found = app
        .get_ok(agent, &format!("/api/v1/contacts?q={name_word}"))
        .await;
    assert_eq!(found["contacts"][0]["id"], contact.as_str(), "{found}");
    let tenant = t.id;
    let tokens_of = |id: String| {
        let app = &app;
        async move {
            let mut s = app.state.operator_store().scope(tenant).await.unwrap();
            let n = s.name_token_count(&id).await.unwrap();
            s.commit().await.unwrap();
            n
        }
    };
    assert!(tokens_of(contact.clone()).await > 0);

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
    assert!(!object.exists(), "the media object is deleted");
    // Nor any name token of the erased contact: the search finds nobody.
    assert_eq!(tokens_of(contact.clone()).await, 0);
    let found = app
        .get_ok(agent, &format!("/api/v1/contacts?q={name_word}"))
        .await;
    assert_eq!(found["contacts"], json!([]), "{found}");

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

/// POSTs a CSV import with an API key; the answer.
async fn import_csv(app: &TestApp, key: &str, query: &str, csv: String) -> crate::harness::Resp {
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/contacts/import{query}"))
        .header("host", crate::harness::HOST)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(csv))
        .unwrap();
    app.request(app.ip, req).await
}

/// A valid Brazilian mobile number per row index (São Paulo, nine digits).
fn mobile(i: usize) -> String {
    format!("+55 11 98{:03}-{:04}", i / 10_000, i % 10_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_rows_with_one_percent_bad_import_the_rest_and_report_each_bad_line() {
    let app = TestApp::new().await;
    let t = app.tenant("Acme").await;
    let (_, key) = app.api_key(&t, "agent").await;
    const ROWS: usize = 100_000;
    let mut csv = String::from("phone,name,labels,attr:city\n");
    let mut bad = Vec::new();
    for i in 0..ROWS {
        if i % 100 == 37 {
            csv.push_str(&format!("not-a-phone-{i},Bad Row {i},x,Nowhere\n"));
            bad.push(i as u64 + 2); // the header is line 1
        } else {
            csv.push_str(&format!("{},Person {i},customer;br,São Paulo\n", mobile(i)));
        }
    }
    let r = import_csv(&app, &key, "?mode=partial", csv).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["imported"], (ROWS - bad.len()) as u64);
    assert_eq!(r.body["updated"], 0);
    assert_eq!(r.body["committed"], true);
    let rejected = r.body["rejected"].as_array().unwrap();
    let lines: Vec<u64> = rejected
        .iter()
        .map(|x| x["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, bad, "each bad line, by number");
    assert!(
        rejected
            .iter()
            .all(|x| x["reason"].as_str().unwrap().starts_with("phone:")),
        "{}",
        rejected[0]
    );
    assert_eq!(app.count(t.id, "contacts").await, (ROWS - bad.len()) as i64);
    // A contact reads back whole.
    let one = app
        .get_ok(
            &Auth::Bearer(key.clone()),
            "/api/v1/contacts?q=%2B5511980000001",
        )
        .await;
    let c = &one["contacts"][0];
    assert_eq!(c["name"], "Person 1", "{one}");
    assert_eq!(c["labels"], json!(["customer", "br"]));
    assert_eq!(c["attributes"], json!({"city": "São Paulo"}));
    app.finish().await;
}

async fn all_or_nothing_imports_nothing_with_one_bad_line_on(app: TestApp) {
    let t = app.tenant("Acme").await;
    let (_, key) = app.api_key(&t, "agent").await;
    let mut csv = String::from("phone,name\n");
    for i in 0..50 {
        csv.push_str(&format!("{},Person {i}\n", mobile(i)));
    }
    csv.push_str("+55 11 1234,Too Short\n");
    let r = import_csv(&app, &key, "?mode=all_or_nothing", csv.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["committed"], false);
    assert_eq!(
        (r.body["imported"].clone(), r.body["updated"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(r.body["rejected"][0]["line"], 52);
    assert_eq!(app.count(t.id, "contacts").await, 0, "nothing imported");
    // Without the bad line, everything is.
    let good = csv.replace("+55 11 1234,Too Short\n", "");
    let r = import_csv(&app, &key, "?mode=all_or_nothing", good).await;
    assert_eq!(r.body["committed"], true, "{}", r.body);
    assert_eq!(r.body["imported"], 50);
    assert_eq!(app.count(t.id, "contacts").await, 50);
    assert_eq!(
        app.audit_actions(t.id)
            .await
            .iter()
            .filter(|a| *a == "contacts.imported")
            .count(),
        1,
        "one audited transaction; the refused import wrote nothing"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_imports_nothing_with_one_bad_line() {
    all_or_nothing_imports_nothing_with_one_bad_line_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_imports_nothing_with_one_bad_line_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    all_or_nothing_imports_nothing_with_one_bad_line_on(app).await;
}

async fn one_person_written_many_ways_is_one_contact_on(app: TestApp) {
    let t = app.tenant("Acme").await;
    let (_, key) = app.api_key(&t, "admin").await;
    let auth = Auth::Bearer(key.clone());
    let csv = "Telefone,name,labels,consent,consent_purpose,consent_source,consent_evidence,attributes\n\
        \"+55 11 98765-4321\",Ana,cliente,opted_in,marketing,web form,ticked box #12,\"{\"\"tier\"\":\"\"gold\"\"}\"\n\
        5511 8765 4321,Ana Maria,,,,,,\n\
        (11) 98765-4321,,vip;cliente,,,,,\n\
        \"+55 11 98765-4321\",,,opted_in,marketing,web form,ticked box #12,\n\
        +55 21 3456-7890,Loja Centro,,,,,,\n"
        .to_string();
    let r = import_csv(&app, &key, "?map=Telefone%3Dphone&region=BR", csv).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["rejected"], json!([]), "{}", r.body);
    assert_eq!(
        (r.body["imported"].clone(), r.body["updated"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(app.count(t.id, "contacts").await, 2);
    let found = app
        .get_ok(&auth, "/api/v1/contacts?q=%2B5511987654321")
        .await;
    let ana = &found["contacts"][0];
    assert_eq!(ana["phone"], "+5511987654321");
    assert_eq!(ana["name"], "Ana Maria");
    assert_eq!(ana["labels"], json!(["vip", "cliente"]));
    assert_eq!(ana["attributes"], json!({"tier": "gold"}));
    let ledger = app
        .get_ok(
            &auth,
            &format!("/api/v1/contacts/{}/consent", ana["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        ledger["events"].as_array().unwrap().len(),
        1,
        "the same consent once: {ledger}"
    );
    assert_eq!(ledger["events"][0]["source"], "web form");
    assert_eq!(ledger["events"][0]["evidence"], "ticked box #12");
    assert_eq!(ledger["current"]["marketing"], "opted_in");
    // The same file again changes nothing and duplicates nothing.
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brazilian_mobile_with_and_without_its_ninth_digit_is_one_contact() {
    one_person_written_many_ways_is_one_contact_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brazilian_mobile_with_and_without_its_ninth_digit_is_one_contact_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    one_person_written_many_ways_is_one_contact_on(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imports_back_into_another_tenant_and_bad_headers_are_refused() {
    let app = TestApp::new().await;
    let a = app.tenant("A").await;
    let b = app.tenant("B").await;
    let (_, ka) = app.api_key(&a, "admin").await;
    let (_, kb) = app.api_key(&b, "admin").await;
    let mut csv = String::from("phone,name,labels\n");
    for i in 0..30 {
        csv.push_str(&format!("{},=Person {i},=x;y\n", mobile(i)));
    }
    let r = import_csv(&app, &ka, "", csv).await;
    assert_eq!(r.body["imported"], 30, "{}", r.body);
    let export = app
        .call(
            Method::GET,
            "/api/v1/contacts/export",
            &Auth::Bearer(ka.clone()),
            None,
        )
        .await;
    let text = export.body.as_str().unwrap().to_string();
    let r = import_csv(&app, &kb, "?mode=all_or_nothing", text).await;
    assert_eq!(r.body["imported"], 30, "{}", r.body);
    let again = app
        .call(
            Method::GET,
            "/api/v1/contacts/export?format=json",
            &Auth::Bearer(kb.clone()),
            None,
        )
        .await;
    let names: Vec<&str> = again.body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"=Person 7"),
        "the neutralised cell read back: {names:?}"
    );
    assert!(again.body["contacts"][0]["labels"] == json!(["=x", "y"]));

    let r = import_csv(&app, &kb, "", "shoe size,name\n42,x\n".into()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "bad_request"),
        "{}",
        r.body
    );
    let r = import_csv(&app, &kb, "?mode=sometimes", "phone\n".into()).await;
    assert_eq!(r.code(), "invalid_query");
    // A role that may write contacts but not consent imports contacts, not consent.
    let role = app
        .call(
            Method::POST,
            "/api/v1/roles",
            &b.owner.auth,
            Some(json!({"name": "importer", "permissions": ["contacts.read", "contacts.write"]})),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let key = app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            &b.owner.auth,
            Some(json!({"name": "importer", "role_id": role.body["id"]})),
        )
        .await;
    let importer = key.body["key"].as_str().unwrap().to_string();
    let r = import_csv(&app, &importer, "", "phone,name\n+5511987650000,x\n".into()).await;
    assert_eq!(r.body["imported"], 1, "{}", r.body);
    let r = import_csv(
        &app,
        &importer,
        "",
        "phone,consent\n+5511987650000,opted_in\n".into(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    app.finish().await;
}

async fn retention_purges_what_is_past_the_policy_on(app: TestApp) {
    use confide_app::operator::store::import::DataSettings;
    let t = app.tenant("Acme").await;
    let other = app.tenant("Keeper").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "retention-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let p = person();
    // 2025-06-08 (old) and 2025-12-25 (a week before the clock's 2026-01-01).
    for (ts, wamid) in [("1749416383", "wamid.OLD"), ("1766620800", "wamid.NEW")] {
        let body = String::from_utf8(delivery("text.json", &p, "hello", wamid))
            .unwrap()
            .replace("1749416383", ts);
        assert_eq!(
            app.deliver(&ch, body.as_bytes()).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(app.count(t.id, "messages").await, 2);
    let sessions = app.count(t.id, "sessions").await;
    let other_sessions = app.count(other.id, "sessions").await;
    assert!(sessions >= 4, "the members' sessions");
    app.state
        .set_data_settings(
            t.id,
            DataSettings {
                retention_messages_days: Some(30),
                retention_security_days: Some(7),
                ..DataSettings::default()
            },
        )
        .await
        .unwrap();

    // Now: the June message is past 30 days, the December one is not; no session ended yet.
    let done = app.state.run_retention().await.unwrap();
    assert_eq!(done.len(), 1, "only the tenant with a policy");
    assert_eq!((done[0].1.messages, done[0].1.sessions), (1, 0));
    assert_eq!(app.count(t.id, "messages").await, 1);
    let left = app
        .get_ok(
            &t.members["agent"].auth,
            &format!(
                "/api/v1/conversations/{}/messages",
                conversation_of(&app, &t.members["agent"].auth, &p.name).await["id"]
                    .as_str()
                    .unwrap()
            ),
        )
        .await;
    assert_eq!(left["messages"].as_array().unwrap().len(), 1, "{left}");

    // Forty days on: the December message is past too, and the sessions (24 h at most) ended
    // more than seven days ago.
    app.clock.advance(time::Duration::days(40));
    let done = app.state.run_retention().await.unwrap();
    assert_eq!(
        (done[0].1.messages, done[0].1.sessions),
        (1, sessions as u64)
    );
    assert_eq!(app.count(t.id, "messages").await, 0);
    assert_eq!(app.count(t.id, "sessions").await, 0);
    assert_eq!(
        app.count(other.id, "sessions").await,
        other_sessions,
        "no policy, nothing purged"
    );
    let purges: Vec<Value> = app
        .audit_entries(t.id)
        .await
        .into_iter()
        .filter(|e| e.action == "retention.purged")
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect();
    assert_eq!(purges.len(), 2);
    assert_eq!(purges[0]["messages"], 1);
    assert_eq!(purges[1]["sessions"], sessions);
    assert!(matches!(
        app.state.operator_store().audit_verify(t.id).await.unwrap(),
        confide_app::operator::store::audit::Verification::Intact { .. }
    ));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_what_is_past_the_policy_and_keeps_the_rest() {
    retention_purges_what_is_past_the_policy_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_what_is_past_the_policy_and_keeps_the_rest_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    retention_purges_what_is_past_the_policy_on(app).await;
}
