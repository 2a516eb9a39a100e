//! The team finding its way: unread counts in the conversation list (reset as a conversation is
//! opened), and contact search by words of a name although names are sealed (keyed name
//! tokens; no name in clear on disk). Each on SQLite and PostgreSQL.

use crate::harness::{FIXTURE_PHONE_NUMBER_ID, TestApp, fixture};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

/// Sheena's text, with its wamid and Unix time.
fn text_at(wamid: &str, unix: i64) -> Vec<u8> {
    String::from_utf8(fixture("text.json"))
        .unwrap()
        .replace("wamid.TEXT0001", wamid)
        .replace(
            "\"timestamp\":\"1749416383\"",
            &format!("\"timestamp\":\"{unix}\""),
        )
        .into_bytes()
}

async fn unread_counts_on(app: TestApp) {
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "unread-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let agent = &t.members["agent"].auth;
    let list = app.get_ok(agent, "/api/v1/conversations").await;
    assert_eq!(list["unread_conversations"], 0, "{list}");
    for (wamid, at) in [("wamid.U1", 1_749_416_383), ("wamid.U2", 1_749_416_390)] {
        let r = app.deliver(&ch, &text_at(wamid, at)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let list = app.get_ok(agent, "/api/v1/conversations").await;
    assert_eq!(list["conversations"][0]["unread"], 2, "{list}");
    assert_eq!(list["unread_conversations"], 1, "{list}");
    let id = list["conversations"][0]["id"].as_str().unwrap().to_string();

    // Opening it (the inbox's mark-read) resets it, for everyone on the team.
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{id}/read"),
            agent,
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let owner_view = app.get_ok(&t.owner.auth, "/api/v1/conversations").await;
    assert_eq!(owner_view["conversations"][0]["unread"], 0, "{owner_view}");
    assert_eq!(owner_view["unread_conversations"], 0, "{owner_view}");
    let one = app
        .get_ok(agent, &format!("/api/v1/conversations/{id}"))
        .await;
    assert_eq!(one["unread"], 0, "{one}");

    // A new message is unread again; the team's own reply is not counted.
    let r = app.deliver(&ch, &text_at("wamid.U3", 1_749_416_400)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.clock
        .set(confide_core::clock::from_micros(1_749_416_460_000_000));
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{id}/messages"),
            agent,
            Some(json!({"type": "text", "text": "Looking into it."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let list = app.get_ok(agent, "/api/v1/conversations").await;
    assert_eq!(list["conversations"][0]["unread"], 1, "{list}");
    assert_eq!(list["unread_conversations"], 1, "{list}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_list_counts_unread_customer_messages_until_opened() {
    unread_counts_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_list_counts_unread_customer_messages_until_opened_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    unread_counts_on(app).await;
}

fn names(page: &Value) -> Vec<String> {
    let mut v: Vec<String> = page["contacts"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

async fn name_search_on(app: TestApp) {
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "names-secret",
            "http://127.0.0.1:9",
        )
        .await;
    let agent = &t.members["agent"].auth;
    // Names from the API, an import and WhatsApp's profile.
    for (name, phone) in [
        ("María Fernández", "+34600111222"),
        ("Mario Rossi", "+393331112222"),
        ("Zoë O'Brien", "+353861112222"),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/contacts",
                agent,
                Some(json!({"name": name, "phone": phone})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let (_, key) = app.api_key(&t, "agent").await;
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/contacts/import")
        .header("host", crate::harness::HOST)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(
            "phone,name\n+4915112345678,Jürgen Groß\n",
        ))
        .unwrap();
    let r = app.request(app.ip, req).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(r.body["imported"], 1, "{}", r.body);
    let r = app.deliver(&ch, &fixture("text.json")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let search = |q: &str| {
        let path = format!("/api/v1/contacts?q={}", urlencode(q));
        let app = &app;
        async move { names(&app.get_ok(agent, &path).await) }
    };
    assert_eq!(search("maria").await, ["María Fernández"]);
    assert_eq!(search("MAR").await, ["Mario Rossi", "María Fernández"]);
    assert_eq!(search("fernandez maría").await, ["María Fernández"]);
    assert_eq!(search("zoe").await, ["Zoë O'Brien"]);
    assert_eq!(search("brien").await, ["Zoë O'Brien"]);
    assert_eq!(search("gross").await, ["Jürgen Groß"]);
    assert_eq!(search("jurgen").await, ["Jürgen Groß"]);
    assert_eq!(search("sheena nel").await, ["Sheena Nelson"]);
    assert!(search("ria").await.is_empty(), "no match inside a word");
    assert!(
        search("maria rossi").await.is_empty(),
        "every word must match"
    );

    // A renamed contact is found by the new name only.
    let mario = app.get_ok(agent, "/api/v1/contacts?q=rossi").await["contacts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/contacts/{mario}"),
            agent,
            Some(json!({"name": "Mario Bianchi"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(search("rossi").await.is_empty());
    assert_eq!(search("bianchi").await, ["Mario Bianchi"]);
    // A changed WhatsApp profile name too.
    let renamed = String::from_utf8(fixture("text.json"))
        .unwrap()
        .replace("Sheena Nelson", "Sheena Okafor")
        .replace("wamid.TEXT0001", "wamid.RENAMED");
    let r = app.deliver(&ch, renamed.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(search("okafor").await, ["Sheena Okafor"]);
    assert!(search("nelson").await.is_empty());

    // Another tenant's contacts are not found.
    let other = app.tenant("Other").await;
    let page = app
        .get_ok(&other.members["agent"].auth, "/api/v1/contacts?q=maria")
        .await;
    assert_eq!(page["contacts"], json!([]), "{page}");
    // No name word is stored in clear (SQLite: the database's files).
    let url = app.state.config.database_url.clone();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let dir = std::path::Path::new(path.split('?').next().unwrap())
            .parent()
            .unwrap()
            .to_path_buf();
        let mut db = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                db.extend(std::fs::read(entry.path()).unwrap());
            }
        }
        for word in [
            b"Fernandez".as_slice(),
            b"fernandez",
            b"Bianchi",
            b"bianchi",
            b"okafor",
            b"Okafor",
        ] {
            assert!(
                !db.windows(word.len()).any(|w| w == word),
                "{} in the database files",
                String::from_utf8_lossy(word)
            );
        }
    }
    app.finish().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_found_by_words_of_their_sealed_names() {
    name_search_on(TestApp::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_found_by_words_of_their_sealed_names_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    name_search_on(app).await;
}
