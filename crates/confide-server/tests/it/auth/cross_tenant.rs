//! C7: tenant isolation through the API. With tenant A's session and A's API key, every route
//! that takes an id is called with tenant B's ids: each answers exactly as for an id that does
//! not exist (404, or the same refusal), and B's data is unchanged, compared before and after.
//!
//! Adding a route with an id: add its kind to [`id_of`] (the suite fails until you do), and what
//! B owns of that kind to [`Snapshot`].

use crate::harness::{Auth, Resp, Tenant, TestApp};
use axum::http::{Method, StatusCode};
use confide_server::api::route_specs;
use confide_server::api::table::Access;
use serde_json::{Value, json};

/// B's ids, one per kind of id a route takes.
struct Ids {
    user: String,
    role: String,
    api_key: String,
    session: String,
    support_grant: String,
    channel: String,
    conversation: String,
    contact: String,
    canned: String,
    broadcast: String,
    media: String,
    export: String,
}

/// The id of tenant B's object for a route template, or a panic naming the route, so a new
/// id-taking route cannot be left out of this suite.
fn id_of(path: &str, ids: &Ids) -> String {
    let kind = path
        .trim_start_matches("/api/v1/")
        .split('/')
        .next()
        .unwrap_or_default();
    match kind {
        "users" => ids.user.clone(),
        "roles" => ids.role.clone(),
        "api-keys" => ids.api_key.clone(),
        "sessions" => ids.session.clone(),
        "support-grants" => ids.support_grant.clone(),
        "channels" => ids.channel.clone(),
        "conversations" => ids.conversation.clone(),
        "contacts" => ids.contact.clone(),
        "canned-responses" => ids.canned.clone(),
        "broadcasts" => ids.broadcast.clone(),
        "media" => ids.media.clone(),
        "exports" => ids.export.clone(),
        other => {
            panic!("route {path} takes an id of kind {other:?}: add it to cross_tenant::id_of")
        }
    }
}

/// Bodies that would change something if the id resolved.
fn body_for(method: &Method, path: &str, a: &Tenant) -> Option<Value> {
    match (method.as_str(), path) {
        ("PATCH", p) if p.starts_with("/api/v1/users/") => Some(json!({
            "status": "disabled", "reset_password": true, "role_id": a.roles["viewer"].to_string()
        })),
        ("PATCH", p) if p.starts_with("/api/v1/roles/") => {
            Some(json!({"name": "pwned", "permissions": ["inbox.read"]}))
        }
        ("PATCH", p) if p.starts_with("/api/v1/channels/") => {
            Some(json!({"status": "disabled", "graph_base_url": "http://127.0.0.1:1"}))
        }
        ("PATCH", p) if p.starts_with("/api/v1/conversations/") => Some(json!({
            "status": "resolved", "assignee": a.owner.user_id.to_string()
        })),
        ("PATCH", p) if p.starts_with("/api/v1/contacts/") => Some(json!({
            "name": "pwned", "phone": "+15550009999", "labels": ["pwned"], "attributes": {"pwned": true}
        })),
        ("POST", p) if p.starts_with("/api/v1/conversations/") && p.ends_with("/notes") => {
            Some(json!({"text": "pwned"}))
        }
        ("PATCH", p) if p.starts_with("/api/v1/canned-responses/") => {
            Some(json!({"shortcut": "pwned", "text": "pwned"}))
        }
        ("POST", p) if p.starts_with("/api/v1/conversations/") && p.ends_with("/messages") => {
            Some(json!({"type": "text", "text": "pwned"}))
        }
        ("POST", p) if p.ends_with("/rotate-secret") => Some(json!({"app_secret": "pwned"})),
        ("POST", p) if p.starts_with("/api/v1/contacts/") && p.ends_with("/consent") => {
            Some(json!({
                "purpose": "marketing", "status": "opted_in", "source": "pwned", "evidence": "pwned"
            }))
        }
        ("GET" | "DELETE", _) => None,
        _ => Some(json!({})),
    }
}

/// Everything of B's that the routes could touch.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: String,
    roles: String,
    api_keys: String,
    sessions: String,
    grants: String,
    channels: String,
    channel_secrets: String,
    conversations: String,
    /// B's contact and its consent ledger.
    contact: String,
    /// B's notes and canned responses.
    tools: String,
    audit_entries: usize,
}

async fn snapshot(app: &TestApp, b: &Tenant, contact: &str) -> Snapshot {
    let contact: confide_core::ids::ContactId = contact.parse().unwrap();
    let mut s = app.state.operator_store().read_scope(b.id).await.unwrap();
    let users = s.users().list().await.unwrap();
    let mut sessions = Vec::new();
    for u in &users {
        sessions.extend(s.sessions().list(u.id).await.unwrap());
    }
    let snap = Snapshot {
        users: format!("{users:?}"),
        roles: format!("{:?}", s.roles().list().await.unwrap()),
        api_keys: format!("{:?}", s.api_keys().list().await.unwrap()),
        sessions: format!("{sessions:?}"),
        grants: format!("{:?}", s.list_support_grants().await.unwrap()),
        channels: format!("{:?}", s.list_channels().await.unwrap()),
        channel_secrets: {
            let mut all = String::new();
            for c in s.list_channels().await.unwrap() {
                let sec = s.channel_secrets(c.id).await.unwrap();
                use secrecy::ExposeSecret;
                all.push_str(&format!(
                    "{}|{}|{:?}|{};",
                    sec.access_token.expose_secret(),
                    sec.app_secret.expose_secret(),
                    sec.app_secret_next
                        .as_ref()
                        .map(|n| n.expose_secret().to_string()),
                    sec.verify_token.expose_secret()
                ));
            }
            all
        },
        conversations: {
            let page = s
                .inbox()
                .conversations(Default::default(), None, 200)
                .await
                .unwrap();
            let mut all = format!("{page:?}");
            for c in &page.items {
                let msgs = s.inbox().messages_page(c.id, None, 200).await.unwrap();
                all.push_str(&format!("{msgs:?}"));
            }
            all
        },
        tools: {
            let page = s
                .inbox()
                .conversations(Default::default(), None, 200)
                .await
                .unwrap();
            let mut all = format!(
                "{:?}{:?}",
                s.canned().list().await.unwrap(),
                s.broadcasts().list().await.unwrap()
            );
            for c in &page.items {
                all.push_str(&format!("{:?}", s.notes().list(c.id).await.unwrap()));
            }
            all
        },
        contact: format!(
            "{:?}{:?}",
            s.contacts().get(contact).await.unwrap(),
            s.consent().history(contact).await.unwrap()
        ),
        audit_entries: 0,
    };
    s.commit().await.unwrap();
    Snapshot {
        audit_entries: app
            .state
            .operator_store()
            .audit_page(b.id, None, 500)
            .await
            .unwrap()
            .len(),
        ..snap
    }
}

fn same_answer(with_b: &Resp, with_missing: &Resp, what: &str) {
    assert_eq!(
        with_b.status, with_missing.status,
        "{what}: {}",
        with_b.body
    );
    assert_eq!(with_b.body, with_missing.body, "{what}");
}

async fn run(app: &TestApp) {
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Bravo").await;
    let (_, a_key) = app.api_key(&a, "owner").await;
    let (b_key_id, _) = app.api_key(&b, "agent").await;
    let (_, admin_email, _) = super::platform::platform_admin(app).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/support-grants",
            &b.owner.auth,
            Some(json!({"platform_admin_email": admin_email, "role_id": b.roles["viewer"].to_string(), "hours": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let b_session = match &b.members["agent"].auth {
        Auth::Session { .. } => {
            let mut s = app.state.operator_store().read_scope(b.id).await.unwrap();
            let id = s.sessions().list(b.members["agent"].user_id).await.unwrap()[0].id;
            s.commit().await.unwrap();
            id.to_string()
        }
        _ => unreachable!(),
    };
    let channel = {
        let mut s = app.state.operator_store().scope(b.id).await.unwrap();
        let c = s
            .create_channel(
                confide_app::operator::store::channels::NewChannel {
                    phone_number_id: format!(
                        "77{}",
                        &b.id.to_string()[..8].replace(|c: char| !c.is_ascii_digit(), "1")
                    ),
                    waba_id: "1".into(),
                    display_phone_number: "15550001111".into(),
                    access_token: secrecy::SecretString::from("b-token"),
                    app_secret: secrecy::SecretString::from("b-secret"),
                    verify_token: secrecy::SecretString::from("b-verify"),
                    graph_base_url: "https://graph.facebook.com".into(),
                },
                confide_core::audit::Actor::Cli,
            )
            .await
            .unwrap();
        let contact = s
            .contacts()
            .create(
                confide_app::operator::store::contacts::NewContact {
                    name: Some("Secret customer of B".into()),
                    ..Default::default()
                },
                confide_core::audit::Actor::Cli,
            )
            .await
            .unwrap();
        let conv = s.inbox().open(contact.id, c.id).await.unwrap();
        s.inbox()
            .insert_message(
                conv,
                confide_app::operator::store::conversations::NewMessage {
                    direction: confide_app::operator::store::conversations::Direction::Inbound,
                    wamid: Some("wamid.B.SECRET".into()),
                    kind: "text".into(),
                    body: json!({"text": "for B only"}),
                    status: "received".into(),
                    at_micros: 1,
                },
            )
            .await
            .unwrap();
        s.consent()
            .append(
                contact.id,
                confide_app::operator::store::consent::NewConsent {
                    purpose: "marketing".into(),
                    status: "opted_out".into(),
                    source: "keyword".into(),
                    evidence: Some("STOP".into()),
                    actor: "meta".into(),
                    at_micros: 1,
                    dedupe_key: None,
                },
            )
            .await
            .unwrap();
        s.notes().add(conv, "user:b", "B's note").await.unwrap();
        let canned = s.canned().create("b-only", "B's reply").await.unwrap();
        let broadcast = s.broadcasts().new_id();
        s.broadcasts()
            .create(
                broadcast,
                &confide_app::operator::store::broadcasts::NewBroadcast {
                    channel: c.id,
                    template: "spring_sale".into(),
                    language: "en_US".into(),
                    params: vec![],
                    purpose: "marketing".into(),
                    audience: json!({"label": "vip"}),
                    recipients: 0,
                    refused_no_consent: 0,
                    refused_other: 0,
                    created_by: "user:b".into(),
                },
            )
            .await
            .unwrap();
        s.commit().await.unwrap();
        (
            c.id.to_string(),
            conv.to_string(),
            contact.id.to_string(),
            canned.id.to_string(),
            broadcast.to_string(),
        )
    };
    let (channel, conversation, b_contact, canned, broadcast) = channel;
    let (_, b_media_key) = app.api_key(&b, "agent").await;
    let (status, uploaded) =
        crate::media::upload(app, &b_media_key, "b.png", None, &crate::media::png(64)).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let r_export = app
        .call(
            Method::POST,
            "/api/v1/exports",
            &b.owner.auth,
            Some(json!({})),
        )
        .await;
    assert_eq!(r_export.status, StatusCode::ACCEPTED, "{}", r_export.body);
    let ids = Ids {
        export: r_export.body["id"].as_str().unwrap().to_string(),
        media: uploaded["id"].as_str().unwrap().to_string(),
        channel,
        conversation,
        contact: b_contact.clone(),
        canned,
        broadcast,
        user: b.members["agent"].user_id.to_string(),
        role: b.roles["support-lead"].to_string(),
        api_key: b_key_id,
        session: b_session,
        support_grant: r.body["id"].as_str().unwrap().to_string(),
    };
    let missing = "0190a7a4-0000-7000-8000-000000000000";
    let before = snapshot(app, &b, &b_contact).await;
    let mut calls = 0;
    for spec in route_specs().iter().filter(|s| s.path.contains("{id}")) {
        if matches!(spec.access, Access::Platform | Access::PlatformAccount) {
            continue; // tenant credentials never reach platform routes (see the matrix)
        }
        let b_path = spec.path.replace("{id}", &id_of(spec.path, &ids));
        let missing_path = spec.path.replace("{id}", missing);
        for (who, auth) in [
            (
                "A's owner session",
                app.login(&a.owner.email, &a.owner.password).await,
            ),
            ("A's owner API key", Auth::Bearer(a_key.clone())),
        ] {
            let body = body_for(&spec.method, spec.path, &a);
            let with_b = app
                .call(spec.method.clone(), &b_path, &auth, body.clone())
                .await;
            let with_missing = app
                .call(spec.method.clone(), &missing_path, &auth, body)
                .await;
            let what = format!("{} {b_path} with {who}", spec.method);
            same_answer(&with_b, &with_missing, &what);
            let key_refused_first = matches!(auth, Auth::Bearer(_))
                && (spec.access == Access::Account
                    || (spec.method == Method::PATCH && spec.path == "/api/v1/users/{id}"));
            if key_refused_first {
                // Routes about one's own sessions, and role grants or password resets (people
                // only), refuse keys before looking at any id: the same answer for every id.
                assert_eq!(with_b.status, StatusCode::FORBIDDEN, "{what}");
            } else {
                assert_eq!(
                    with_b.status,
                    StatusCode::NOT_FOUND,
                    "{what}: {}",
                    with_b.body
                );
                assert_eq!(with_b.code(), "not_found", "{what}");
            }
            calls += 1;
        }
    }
    assert!(calls >= 12, "every id route was tried ({calls})");
    // B's ids inside request bodies resolve to nothing either.
    let owner = app.login(&a.owner.email, &a.owner.password).await;
    for (path, body) in [
        (
            "/api/v1/users",
            json!({"email": "x1@alpha.test", "role_id": ids.role}),
        ),
        (
            "/api/v1/api-keys",
            json!({"name": "x", "role_id": ids.role}),
        ),
        (
            "/api/v1/support-grants",
            json!({"platform_admin_email": admin_email, "role_id": ids.role, "hours": 1}),
        ),
    ] {
        let with_b = app
            .call(Method::POST, path, &owner, Some(body.clone()))
            .await;
        let mut other = body.clone();
        other["role_id"] = json!(missing);
        let with_missing = app.call(Method::POST, path, &owner, Some(other)).await;
        same_answer(&with_b, &with_missing, path);
        assert_eq!(with_b.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    }
    // Nor do B's contact and channel, when A starts a conversation (A has a channel of its own).
    let a_channel = {
        let mut s = app.state.operator_store().scope(a.id).await.unwrap();
        let c = s
            .create_channel(
                confide_app::operator::store::channels::NewChannel {
                    phone_number_id: format!(
                        "88{}",
                        &a.id.to_string()[..8].replace(|c: char| !c.is_ascii_digit(), "1")
                    ),
                    waba_id: "1".into(),
                    display_phone_number: "15550002222".into(),
                    access_token: secrecy::SecretString::from("a-token"),
                    app_secret: secrecy::SecretString::from("a-secret"),
                    verify_token: secrecy::SecretString::from("a-verify"),
                    graph_base_url: "https://graph.facebook.com".into(),
                },
                confide_core::audit::Actor::Cli,
            )
            .await
            .unwrap();
        s.commit().await.unwrap();
        c.id.to_string()
    };
    for (with_b, with_missing, code) in [
        (
            json!({"contact_id": b_contact, "channel_id": a_channel}),
            json!({"contact_id": missing, "channel_id": a_channel}),
            "invalid_contact",
        ),
        (
            json!({"contact_id": b_contact, "channel_id": ids.channel}),
            json!({"contact_id": missing, "channel_id": missing}),
            "invalid_contact",
        ),
    ] {
        let with_b = app
            .call(Method::POST, "/api/v1/conversations", &owner, Some(with_b))
            .await;
        let with_missing = app
            .call(
                Method::POST,
                "/api/v1/conversations",
                &owner,
                Some(with_missing),
            )
            .await;
        same_answer(&with_b, &with_missing, "POST /api/v1/conversations");
        assert_eq!(
            (with_b.status, with_b.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    // B's channel with a contact of A's own.
    let a_contact = {
        let mut s = app.state.operator_store().scope(a.id).await.unwrap();
        let k = s
            .contacts()
            .create(
                confide_app::operator::store::contacts::NewContact {
                    name: Some("A's customer".into()),
                    ..Default::default()
                },
                confide_core::audit::Actor::Cli,
            )
            .await
            .unwrap();
        s.commit().await.unwrap();
        k.id.to_string()
    };
    let with_b = app
        .call(
            Method::POST,
            "/api/v1/conversations",
            &owner,
            Some(json!({"contact_id": a_contact, "channel_id": ids.channel})),
        )
        .await;
    let with_missing = app
        .call(
            Method::POST,
            "/api/v1/conversations",
            &owner,
            Some(json!({"contact_id": a_contact, "channel_id": missing})),
        )
        .await;
    same_answer(&with_b, &with_missing, "POST /api/v1/conversations");
    assert_eq!(
        (with_b.status, with_b.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_channel")
    );
    // B's conversations are not in A's inbox either.
    let r = app
        .call(Method::GET, "/api/v1/conversations", &owner, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        !r.body.to_string().contains(&ids.conversation),
        "{}",
        r.body
    );
    assert_eq!(r.body["conversations"], json!([]));
    // Nor B's contacts in A's contact book.
    let r = app
        .call(Method::GET, "/api/v1/contacts", &owner, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.to_string().contains(&b_contact), "{}", r.body);
    let after = snapshot(app, &b, &b_contact).await;
    assert_eq!(before, after, "tenant B changed");
    // And B's own credentials still work: nothing of theirs was revoked.
    let r = app
        .call(Method::GET, "/api/v1/me", &b.members["agent"].auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_tenant_ids_are_not_found_and_change_nothing() {
    let app = TestApp::new().await;
    run(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_tenant_ids_are_not_found_and_change_nothing_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    run(&app).await;
    app.finish().await;
}

/// The second wall: the tables added for identity (recovery codes, support grants and sessions)
/// carry PostgreSQL row-level security, so a raw query as the application role sees only the
/// tenant set for the transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_tables_have_row_level_security_on_postgres() {
    use sqlx::{Connection, Row};
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let a = app.tenant("RlsA").await;
    let b = app.tenant("RlsB").await;
    let (_, email, _) = super::platform::platform_admin(&app).await;
    for t in [&a, &b] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/support-grants",
                &t.owner.auth,
                Some(json!({"platform_admin_email": email, "role_id": t.roles["viewer"].to_string(), "hours": 1})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut conn = app.raw().await;
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE confide_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    for table in [
        "support_grants",
        "support_sessions",
        "recovery_codes",
        "sessions",
        "api_keys",
        "roles",
        "users",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&mut *tx)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(n, 0, "{table} without a tenant shows nothing");
    }
    sqlx::query("SELECT set_config('confide.tenant_id', $1, true)")
        .bind(a.id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let rows = sqlx::query("SELECT tenant_id FROM support_grants")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].try_get::<String, _>(0).unwrap(), a.id.to_string());
    tx.rollback().await.unwrap();
    drop(conn);
    app.finish().await;
}
