//! Contacts and consent (C19, C22): `GET /api/v1/contacts/{id}` for contacts made by real webhook
//! deliveries, and the consent ledger `GET/POST /api/v1/contacts/{id}/consent`: WhatsApp's STOP
//! shows as an opt-out, an opt-in recorded through the API changes the current consent, every
//! append is audited in the same transaction without the evidence, and bad bodies are refused
//! with codes.

use crate::harness::{Auth, FIXTURE_PHONE_NUMBER_ID, Resp, Tenant, TestApp, TestChannel};
use axum::http::{Method, StatusCode};
use confide_core::audit::Actor;
use serde_json::{Value, json};

const MISSING: &str = "0190a7a4-0000-7000-8000-000000000000";
const EVIDENCE: &str = "Ticked the newsletter box on paper form #4411 at the counter";

/// A tenant with members of each role and the fixtures' channel, after a text from Sheena, her
/// STOP (WhatsApp's user preferences) and a text from Pablo (no phone).
async fn tenant_with_contacts(app: &TestApp) -> (Tenant, TestChannel) {
    let t = app.tenant("Acme").await;
    let ch = app
        .channel_for(
            t.id,
            FIXTURE_PHONE_NUMBER_ID,
            "contacts-app-secret",
            "http://127.0.0.1:9",
        )
        .await;
    app.deliver_fixtures(
        &ch,
        &[
            "text.json",
            "user-preferences-stop.json",
            "text-username-no-phone.json",
        ],
    )
    .await;
    (t, ch)
}

/// The id of the contact named `name`, from the inbox.
async fn contact_id(app: &TestApp, auth: &Auth, name: &str) -> String {
    let all = app.get_ok(auth, "/api/v1/conversations").await;
    all["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {all}"))["contact"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn post_consent(app: &TestApp, auth: &Auth, id: &str, body: Value) -> Resp {
    app.call(
        Method::POST,
        &format!("/api/v1/contacts/{id}/consent"),
        auth,
        Some(body),
    )
    .await
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn reads_contacts_and_records_consent(app: &TestApp) {
    let (t, _) = tenant_with_contacts(app).await;
    let viewer = &t.members["viewer"].auth;
    let agent = &t.members["agent"].auth;
    let sheena = contact_id(app, viewer, "Sheena Nelson").await;
    let pablo = contact_id(app, viewer, "Pablo Morales").await;

    // The contacts, as the webhooks made them, decrypted.
    let c = app
        .get_ok(viewer, &format!("/api/v1/contacts/{sheena}"))
        .await;
    assert_eq!(
        keys(&c),
        [
            "attributes",
            "created_at",
            "id",
            "labels",
            "name",
            "phone",
            "updated_at",
            "username",
            "wa_user_id"
        ]
    );
    assert_eq!(c["id"], sheena);
    assert_eq!(c["phone"], "+16505551234");
    assert_eq!(c["wa_user_id"], "US.13491208655302741918");
    assert_eq!(c["name"], "Sheena Nelson");
    assert_eq!(c["labels"], json!([]));
    assert_eq!(c["attributes"], json!({}));
    assert!(c["created_at"].as_str().unwrap().ends_with('Z'), "{c}");
    assert!(c["updated_at"].is_string(), "{c}");
    let p = app
        .get_ok(viewer, &format!("/api/v1/contacts/{pablo}"))
        .await;
    assert_eq!(p["phone"], Value::Null, "the phone was withheld");
    assert_eq!(p["username"], "pablomorales");
    assert_eq!(p["name"], "Pablo Morales");
    assert!(p["wa_user_id"].is_string(), "{p}");

    // Sheena's ledger: WhatsApp's STOP, recorded by Meta.
    let path = format!("/api/v1/contacts/{sheena}/consent");
    let ledger = app.get_ok(viewer, &path).await;
    let events = ledger["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{ledger}");
    let stop = &events[0];
    assert_eq!(
        keys(stop),
        [
            "actor",
            "created_at",
            "evidence",
            "id",
            "purpose",
            "source",
            "status"
        ]
    );
    assert_eq!(stop["purpose"], "marketing");
    assert_eq!(stop["status"], "opted_out");
    assert_eq!(stop["source"], "whatsapp_user_preferences");
    assert_eq!(stop["actor"], "meta");
    assert_eq!(
        stop["evidence"],
        "User requested to stop marketing messages"
    );
    assert_eq!(stop["created_at"], "2025-06-08T20:59:43Z");
    assert_eq!(
        ledger["current"],
        json!({"marketing": "opted_out", "utility": null, "service": null})
    );
    // Pablo never said anything about consent.
    let none = app
        .get_ok(viewer, &format!("/api/v1/contacts/{pablo}/consent"))
        .await;
    assert_eq!(none["events"], json!([]));
    assert_eq!(
        none["current"],
        json!({"marketing": null, "utility": null, "service": null})
    );

    // An agent records an opt-in with evidence.
    let audit_before = app.audit_entries(t.id).await.len();
    let r = post_consent(
        app,
        agent,
        &sheena,
        json!({"purpose": "marketing", "status": "opted_in", "source": "paper_form", "evidence": EVIDENCE}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let agent_actor = format!("user:{}", t.members["agent"].user_id);
    assert_eq!(r.body["purpose"], "marketing");
    assert_eq!(r.body["status"], "opted_in");
    assert_eq!(r.body["source"], "paper_form");
    assert_eq!(r.body["evidence"], EVIDENCE);
    assert_eq!(r.body["actor"], agent_actor);
    let opt_in = r.body.clone();

    // The ledger grows (oldest first) and the current consent follows.
    let ledger = app.get_ok(viewer, &path).await;
    let events = ledger["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{ledger}");
    assert_eq!(&events[0], stop);
    assert_eq!(events[1], opt_in, "the stored event is what POST answered");
    assert_eq!(
        ledger["current"],
        json!({"marketing": "opted_in", "utility": null, "service": null})
    );

    // Audited, in the same transaction: the purpose only, never the free-text source or the
    // evidence (review finding 6: the audit keeps ids and enumerated values).
    let entries = app.audit_entries(t.id).await;
    assert_eq!(entries.len(), audit_before + 1);
    let e = entries.last().unwrap();
    assert_eq!(e.action, "consent.opted_in");
    assert_eq!(e.actor, agent_actor);
    assert_eq!(e.target, format!("contact:{sheena}"));
    let details: Value = serde_json::from_str(&e.details).unwrap();
    assert_eq!(details, json!({"purpose": "marketing"}));
    assert!(!e.details.contains("paper_form"), "{}", e.details);

    // With an API key: the key is the actor.
    let (key_id, key) = app.api_key(&t, "agent").await;
    let r = post_consent(
        app,
        &Auth::Bearer(key),
        &sheena,
        json!({"purpose": "utility", "status": "opted_out", "source": "crm_sync"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["actor"], format!("api_key:{key_id}"));
    assert_eq!(r.body["evidence"], Value::Null);
    let ledger = app.get_ok(viewer, &path).await;
    assert_eq!(ledger["events"].as_array().unwrap().len(), 3);
    assert_eq!(
        ledger["current"],
        json!({"marketing": "opted_in", "utility": "opted_out", "service": null})
    );
    let entries = app.audit_entries(t.id).await;
    let e = entries.last().unwrap();
    assert_eq!(e.action, "consent.opted_out");
    assert_eq!(e.actor, format!("api_key:{key_id}"));
    assert_eq!(
        serde_json::from_str::<Value>(&e.details).unwrap(),
        json!({"purpose": "utility"})
    );

    // The evidence (and the contact's phone and name) is nowhere in the audit log.
    for e in &entries {
        let text = format!("{e:?}");
        for secret in [EVIDENCE, "User requested to stop", "16505551234", "Sheena"] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }

    // Unknown, malformed and foreign ids are not found.
    let other = app.tenant("Other").await;
    let foreign = {
        let mut s = app.state.operator_store().scope(other.id).await.unwrap();
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
        k.id.to_string()
    };
    let body = json!({"purpose": "marketing", "status": "opted_in", "source": "x"});
    for id in [MISSING, "not-an-id", foreign.as_str()] {
        for path in [
            format!("/api/v1/contacts/{id}"),
            format!("/api/v1/contacts/{id}/consent"),
        ] {
            let r = app.call(Method::GET, &path, viewer, None).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, "not_found"),
                "{path}"
            );
        }
        let r = post_consent(app, agent, id, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{id}"
        );
    }
    let mut s = app
        .state
        .operator_store()
        .read_scope(other.id)
        .await
        .unwrap();
    assert!(
        s.consent()
            .history(foreign.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    s.commit().await.unwrap();
    assert_eq!(app.audit_entries(t.id).await.len(), entries.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_read_and_consent_ledger_after_webhooks() {
    let app = TestApp::new().await;
    reads_contacts_and_records_consent(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_read_and_consent_ledger_after_webhooks_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    reads_contacts_and_records_consent(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_consent_refuses_bad_bodies_with_codes() {
    let app = TestApp::new().await;
    let (t, _) = tenant_with_contacts(&app).await;
    let agent = &t.members["agent"].auth;
    let sheena = contact_id(&app, agent, "Sheena Nelson").await;
    let path = format!("/api/v1/contacts/{sheena}/consent");
    let (_, key) = app.api_key(&t, "agent").await;
    let before = app.get_ok(agent, &path).await;
    let audit_before = app.audit_entries(t.id).await.len();
    let ok = json!({"purpose": "marketing", "status": "opted_in", "source": "api"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let cases = [
        (
            with("purpose", json!("promotions")),
            unprocessable,
            "invalid_purpose",
        ),
        (
            with("purpose", json!("Marketing")),
            unprocessable,
            "invalid_purpose",
        ),
        (with("purpose", json!("")), unprocessable, "invalid_purpose"),
        (without("purpose"), unprocessable, "invalid_purpose"),
        (
            with("status", json!("subscribed")),
            unprocessable,
            "invalid_status",
        ),
        (
            with("status", json!("opted-in")),
            unprocessable,
            "invalid_status",
        ),
        (without("status"), unprocessable, "invalid_status"),
        (without("source"), unprocessable, "invalid_source"),
        (with("source", json!("")), unprocessable, "invalid_source"),
        (
            with("source", json!("   ")),
            unprocessable,
            "invalid_source",
        ),
        (
            with("source", json!("s".repeat(101))),
            unprocessable,
            "invalid_source",
        ),
        (
            with("source", json!("line\nbreak")),
            unprocessable,
            "invalid_source",
        ),
        (
            with("evidence", json!("e".repeat(2_001))),
            unprocessable,
            "invalid_evidence",
        ),
        (
            with("evidence", json!("é".repeat(2_001))),
            unprocessable,
            "invalid_evidence",
        ),
        (
            with("purpose", json!(7)),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            with("evidence", json!(["x"])),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            with("actor", json!("meta")),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (json!("opted_in"), StatusCode::BAD_REQUEST, "invalid_json"),
    ];
    for (body, status, code) in cases {
        let r = post_consent(&app, agent, &sheena, body.clone()).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {}", r.body);
    }
    let r = app
        .call_raw(Method::POST, &path, &key, "{\"purpose\":")
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    // Nothing was appended or audited.
    assert_eq!(app.get_ok(agent, &path).await, before);
    assert_eq!(app.audit_entries(t.id).await.len(), audit_before);

    // The limits themselves are accepted (in characters, not bytes).
    for body in [
        with("source", json!("s".repeat(100))),
        with("evidence", json!("é".repeat(2_000))),
        with("purpose", json!("service")),
    ] {
        let r = post_consent(&app, agent, &sheena, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.body);
    }
    assert_eq!(
        app.get_ok(agent, &path).await["events"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_need_contacts_read_and_consent_write() {
    let app = TestApp::new().await;
    let (mut t, _) = tenant_with_contacts(&app).await;
    for (name, perms) in [
        ("inbox-only", json!(["inbox.read"])),
        ("reader", json!(["contacts.read"])),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/roles",
                &t.owner.auth,
                Some(json!({"name": name, "permissions": perms})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        t.roles
            .insert(name.into(), r.body["id"].as_str().unwrap().parse().unwrap());
    }
    let sheena = contact_id(&app, &t.owner.auth, "Sheena Nelson").await;
    let contact = format!("/api/v1/contacts/{sheena}");
    let consent = format!("/api/v1/contacts/{sheena}/consent");
    let body = json!({"purpose": "marketing", "status": "opted_in", "source": "api"});
    let before = app.get_ok(&t.owner.auth, &consent).await;

    let inbox_only = app.add_member(&t, "inbox-only").await;
    let (_, inbox_key) = app.api_key(&t, "inbox-only").await;
    let reader = app.add_member(&t, "reader").await;
    let (_, reader_key) = app.api_key(&t, "reader").await;
    let forbidden = |r: &Resp, what: &str| {
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{what}: {}",
            r.body
        );
    };
    // Without contacts.read: nothing.
    for auth in [inbox_only.auth.clone(), Auth::Bearer(inbox_key)] {
        for path in [&contact, &consent] {
            forbidden(&app.call(Method::GET, path, &auth, None).await, path);
        }
        forbidden(
            &app.call(Method::POST, &consent, &auth, Some(body.clone()))
                .await,
            "POST",
        );
    }
    // contacts.read without consent.write: read, not record (nor does the viewer).
    for auth in [
        reader.auth.clone(),
        Auth::Bearer(reader_key),
        t.members["viewer"].auth.clone(),
    ] {
        for path in [&contact, &consent] {
            app.get_ok(&auth, path).await;
        }
        forbidden(
            &app.call(Method::POST, &consent, &auth, Some(body.clone()))
                .await,
            "POST",
        );
    }
    // No credentials.
    for (method, path) in [
        (Method::GET, &contact),
        (Method::GET, &consent),
        (Method::POST, &consent),
    ] {
        let b = (method == Method::POST).then(|| body.clone());
        let r = app.call(method, path, &Auth::None, b).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(app.get_ok(&t.owner.auth, &consent).await, before);
    // Owner, admin and agent record consent.
    for auth in [
        &t.owner.auth,
        &t.members["admin"].auth,
        &t.members["agent"].auth,
    ] {
        let r = post_consent(&app, auth, &sheena, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    app.finish().await;
}

// ---- the contact book: list, create, change ----

async fn post_contact(app: &TestApp, auth: &Auth, body: Value) -> Resp {
    app.call(Method::POST, "/api/v1/contacts", auth, Some(body))
        .await
}

async fn patch_contact(app: &TestApp, auth: &Auth, id: &str, body: Value) -> Resp {
    app.call(
        Method::PATCH,
        &format!("/api/v1/contacts/{id}"),
        auth,
        Some(body),
    )
    .await
}

fn ids_of(page: &Value) -> Vec<String> {
    page["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every contact of `path` (which has a `?`), walking pages of `limit`: their bodies in order.
async fn walk(app: &TestApp, auth: &Auth, path: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}&limit={limit}&cursor={c}"),
            None => format!("{path}&limit={limit}"),
        };
        let page = app.get_ok(auth, &url).await;
        let items = page["contacts"].as_array().unwrap();
        assert!(items.len() <= limit, "{page}");
        all.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(items.len(), limit, "a page before the last is full: {page}");
                cursor = Some(c.to_string());
            }
            None => return all,
        }
    }
    panic!("{path} never ended");
}

async fn manages_the_contact_book(app: &TestApp) {
    let (t, _) = tenant_with_contacts(app).await;
    let viewer = &t.members["viewer"].auth;
    let agent = &t.members["agent"].auth;
    let sheena = contact_id(app, viewer, "Sheena Nelson").await;
    let pablo = contact_id(app, viewer, "Pablo Morales").await;

    // Create: the phone is normalised, the contact answered whole, and audited by id only.
    app.clock.advance(time::Duration::seconds(1));
    let r = post_contact(
        app,
        agent,
        json!({"phone": "+44 20 7946 0958", "name": "  Ada Lovelace ", "labels": ["vip", "uk", "vip"],
               "attributes": {"tier": "gold", "n": 3}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ada = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        keys(&r.body),
        [
            "attributes",
            "created_at",
            "id",
            "labels",
            "name",
            "phone",
            "updated_at",
            "username",
            "wa_user_id"
        ]
    );
    assert_eq!(r.body["phone"], "+442079460958");
    assert_eq!(r.body["name"], "Ada Lovelace");
    assert_eq!(r.body["labels"], json!(["vip", "uk"]));
    assert_eq!(r.body["attributes"], json!({"tier": "gold", "n": 3}));
    assert_eq!(r.body["wa_user_id"], Value::Null);
    assert_eq!(
        app.get_ok(viewer, &format!("/api/v1/contacts/{ada}")).await,
        r.body
    );
    let entries = app.audit_entries(t.id).await;
    let e = entries.last().unwrap();
    assert_eq!(e.action, "contact.created");
    assert_eq!(e.actor, format!("user:{}", t.members["agent"].user_id));
    assert_eq!(e.target, format!("contact:{ada}"));

    // The same phone, however written, is a conflict; so is Sheena's (from WhatsApp).
    for phone in ["+442079460958", "00442079460958", "+16505551234"] {
        let r = post_contact(app, agent, json!({"phone": phone, "name": "Dup"})).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "conflict"),
            "{phone}: {}",
            r.body
        );
    }

    // More contacts, some in the same microsecond (ordered by id among themselves).
    let mut made = vec![ada.clone()];
    for (i, labels) in [
        json!(["vip"]),
        json!(["a_b"]),
        json!([]),
        json!(["VIP"]),
        json!(["x\",\"vip"]),
        json!(["vip", "50%"]),
    ]
    .into_iter()
    .enumerate()
    {
        if i % 2 == 0 {
            app.clock.advance(time::Duration::seconds(1));
        }
        let r = post_contact(
            app,
            agent,
            json!({"phone": format!("+3161234567{i}"), "name": format!("C{i}"), "labels": labels}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        made.push(r.body["id"].as_str().unwrap().to_string());
    }

    // The whole book, walked two at a time: everyone exactly once, newest first.
    let all = walk(app, viewer, "/api/v1/contacts?", 2).await;
    let mut got: Vec<String> = all
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let mut keys_seen: Vec<(String, String)> = all
        .iter()
        .map(|c| {
            (
                c["created_at"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = keys_seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(keys_seen, sorted, "newest first");
    keys_seen.dedup();
    assert_eq!(keys_seen.len(), all.len());
    got.sort();
    let mut want = made.clone();
    want.extend([sheena.clone(), pablo.clone()]);
    want.sort();
    assert_eq!(got, want, "every contact exactly once");
    // The last two were made in the same microsecond: either may come first.
    assert!(made[5..].contains(&all[0]["id"].as_str().unwrap().to_string()));
    // One page of everything, and the default page.
    let one = app.get_ok(viewer, "/api/v1/contacts?limit=200").await;
    assert_eq!(one["next_cursor"], Value::Null);
    assert_eq!(one["contacts"], json!(all));
    assert_eq!(app.get_ok(viewer, "/api/v1/contacts").await, one);

    // By label: exactly that label (not "VIP", not inside another label), paged correctly.
    let vip = walk(app, viewer, "/api/v1/contacts?label=vip", 1).await;
    let vip_ids: Vec<&str> = vip.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(vip_ids, [made[6].as_str(), made[1].as_str(), ada.as_str()]);
    let upper = app.get_ok(viewer, "/api/v1/contacts?label=VIP").await;
    assert_eq!(ids_of(&upper), [made[4].clone()]);
    let under = app.get_ok(viewer, "/api/v1/contacts?label=axb").await;
    assert_eq!(under["contacts"], json!([]));
    let under = app.get_ok(viewer, "/api/v1/contacts?label=a_b").await;
    assert_eq!(ids_of(&under), [made[2].clone()]);
    let pct = app.get_ok(viewer, "/api/v1/contacts?label=50%25").await;
    assert_eq!(ids_of(&pct), [made[6].clone()]);
    let none = app.get_ok(viewer, "/api/v1/contacts?label=nobody").await;
    assert_eq!(none, json!({"contacts": [], "next_cursor": null}));

    // q: an exact lookup by phone (however written) or by WhatsApp user id.
    for q in ["%2B16505551234", "16505551234", "%2B1%20(650)%20555-1234"] {
        let r = app.get_ok(viewer, &format!("/api/v1/contacts?q={q}")).await;
        assert_eq!(ids_of(&r), [sheena.as_str()], "{q}");
        assert_eq!(r["next_cursor"], Value::Null);
    }
    let r = app
        .get_ok(viewer, "/api/v1/contacts?q=US.13491208655302741918")
        .await;
    assert_eq!(ids_of(&r), [sheena.as_str()]);
    assert_eq!(r["contacts"][0]["name"], "Sheena Nelson");
    let r = app
        .get_ok(viewer, "/api/v1/contacts?q=%2B442079460958&label=uk")
        .await;
    assert_eq!(ids_of(&r), [ada.as_str()]);
    let r = app
        .get_ok(viewer, "/api/v1/contacts?q=%2B442079460958&label=nope")
        .await;
    assert_eq!(r["contacts"], json!([]));
    for q in ["%2B15550000000", "US.999"] {
        let r = app.get_ok(viewer, &format!("/api/v1/contacts?q={q}")).await;
        assert_eq!(r["contacts"], json!([]), "{q}");
    }
    // Words of a name are found (through keyed tokens: names stay sealed); what is no word of
    // any name finds nobody, and a q without a letter or digit is not a search.
    for q in ["Sheena", "sheena%20nelson", "NEL"] {
        let r = app.get_ok(viewer, &format!("/api/v1/contacts?q={q}")).await;
        assert_eq!(ids_of(&r), [sheena.as_str()], "{q}");
    }
    for q in ["pablomorales", "us.123", "heena"] {
        let r = app.get_ok(viewer, &format!("/api/v1/contacts?q={q}")).await;
        assert_eq!(r["contacts"], json!([]), "{q}");
    }
    for q in ["%21%21%21", "-"] {
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/contacts?q={q}"),
                viewer,
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_query"),
            "{q}"
        );
    }
    for (q, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("cursor=nope", "invalid_cursor"),
        ("cursor=YzEuMS54", "invalid_cursor"),
    ] {
        let r = app
            .call(Method::GET, &format!("/api/v1/contacts?{q}"), viewer, None)
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, code), "{q}");
    }

    // PATCH: the changed fields, audited by name only.
    let before = app.audit_entries(t.id).await.len();
    app.clock.advance(time::Duration::seconds(1));
    let r = patch_contact(
        app,
        agent,
        &ada,
        json!({"name": "Augusta Ada King", "labels": ["vip", "uk", "patron"], "attributes": {"tier": "gold", "n": 3}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "Augusta Ada King");
    assert_eq!(r.body["labels"], json!(["vip", "uk", "patron"]));
    assert_eq!(r.body["phone"], "+442079460958");
    assert_ne!(r.body["updated_at"], r.body["created_at"]);
    assert_eq!(
        app.get_ok(viewer, &format!("/api/v1/contacts/{ada}")).await,
        r.body
    );
    let entries = app.audit_entries(t.id).await;
    assert_eq!(entries.len(), before + 1);
    let e = entries.last().unwrap();
    assert_eq!(e.action, "contact.updated");
    assert_eq!(e.target, format!("contact:{ada}"));
    assert_eq!(
        serde_json::from_str::<Value>(&e.details).unwrap(),
        json!({"fields": ["name", "labels"]})
    );
    let r = app.get_ok(viewer, "/api/v1/contacts?label=patron").await;
    assert_eq!(ids_of(&r), [ada.as_str()]);
    // A new phone moves the blind index; null clears the name.
    let r = patch_contact(
        app,
        agent,
        &ada,
        json!({"phone": "+44 20 7946 0000", "name": null}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["phone"], "+442079460000");
    assert_eq!(r.body["name"], Value::Null);
    let r = app
        .get_ok(viewer, "/api/v1/contacts?q=%2B442079460000")
        .await;
    assert_eq!(ids_of(&r), [ada.as_str()]);
    let r = app
        .get_ok(viewer, "/api/v1/contacts?q=%2B442079460958")
        .await;
    assert_eq!(r["contacts"], json!([]));
    // Another contact's phone is a conflict, and changes nothing.
    let audit_n = app.audit_entries(t.id).await.len();
    let r = patch_contact(
        app,
        agent,
        &ada,
        json!({"phone": "+16505551234", "name": "X"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    let now = app.get_ok(viewer, &format!("/api/v1/contacts/{ada}")).await;
    assert_eq!(now["phone"], "+442079460000");
    assert_eq!(now["name"], Value::Null);
    // Nothing changed: nothing written or audited.
    let r = patch_contact(app, agent, &ada, json!({"phone": "+442079460000"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, now);
    assert_eq!(app.audit_entries(t.id).await.len(), audit_n);
    // The audit log holds no personal data.
    for e in app.audit_entries(t.id).await {
        let text = format!("{e:?}");
        for secret in ["Ada", "Lovelace", "442079460", "gold", "patron"] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }

    // Another tenant sees none of this, and cannot change it.
    let other = app.tenant("Other").await;
    let r = app.get_ok(&other.owner.auth, "/api/v1/contacts").await;
    assert_eq!(r, json!({"contacts": [], "next_cursor": null}));
    let r = app
        .get_ok(&other.owner.auth, "/api/v1/contacts?q=%2B16505551234")
        .await;
    assert_eq!(r["contacts"], json!([]));
    for id in [ada.as_str(), MISSING, "not-an-id"] {
        let r = patch_contact(app, &other.owner.auth, id, json!({"name": "pwned"})).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{id}"
        );
    }
    // Other's own contact with the same phone is fine: the blind index is per tenant.
    let r = post_contact(app, &other.owner.auth, json!({"phone": "+16505551234"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        app.get_ok(viewer, &format!("/api/v1/contacts/{ada}")).await,
        now
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_list_create_and_update() {
    let app = TestApp::new().await;
    manages_the_contact_book(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_list_create_and_update_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    manages_the_contact_book(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_create_and_update_refuse_bad_bodies_with_codes() {
    let app = TestApp::new().await;
    let (t, _) = tenant_with_contacts(&app).await;
    let agent = &t.members["agent"].auth;
    let sheena = contact_id(&app, agent, "Sheena Nelson").await;
    let (_, key) = app.api_key(&t, "agent").await;
    let book = app.get_ok(agent, "/api/v1/contacts").await;
    let audit_before = app.audit_entries(t.id).await.len();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let bad = StatusCode::BAD_REQUEST;
    let big = "x".repeat(16 * 1024);
    let cases = [
        (
            json!({"phone": "6505551234x"}),
            unprocessable,
            "invalid_phone",
        ),
        (
            json!({"phone": "0650555123"}),
            unprocessable,
            "invalid_phone",
        ),
        (json!({"phone": "+1234"}), unprocessable, "invalid_phone"),
        (json!({"phone": ""}), unprocessable, "invalid_phone"),
        (
            json!({"name": "n".repeat(201)}),
            unprocessable,
            "invalid_name",
        ),
        (json!({"labels": [""]}), unprocessable, "invalid_labels"),
        (json!({"labels": ["  "]}), unprocessable, "invalid_labels"),
        (
            json!({"labels": ["l".repeat(51)]}),
            unprocessable,
            "invalid_labels",
        ),
        (json!({"labels": [7]}), unprocessable, "invalid_labels"),
        (json!({"labels": "vip"}), unprocessable, "invalid_labels"),
        (
            json!({"labels": (0..51).map(|i| format!("l{i}")).collect::<Vec<_>>()}),
            unprocessable,
            "invalid_labels",
        ),
        (
            json!({"attributes": []}),
            unprocessable,
            "invalid_attributes",
        ),
        (
            json!({"attributes": "x"}),
            unprocessable,
            "invalid_attributes",
        ),
        (
            json!({"attributes": {"k": big}}),
            unprocessable,
            "invalid_attributes",
        ),
        (json!({"name": 7}), bad, "invalid_json"),
        (json!({"wa_user_id": "US.1"}), bad, "invalid_json"),
        (json!({"username": "x"}), bad, "invalid_json"),
        (json!(["x"]), bad, "invalid_json"),
    ];
    for (body, status, code) in &cases {
        let r = post_contact(&app, agent, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (*status, *code),
            "POST {body}: {}",
            r.body
        );
        let r = patch_contact(&app, agent, &sheena, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (*status, *code),
            "PATCH {body}: {}",
            r.body
        );
    }
    for (method, path) in [
        (Method::POST, "/api/v1/contacts".to_string()),
        (Method::PATCH, format!("/api/v1/contacts/{sheena}")),
    ] {
        let r = app.call_raw(method, &path, &key, "{\"name\":").await;
        assert_eq!((r.status, r.code()), (bad, "invalid_json"), "{path}");
    }
    // Nothing was created, changed or audited.
    assert_eq!(app.get_ok(agent, "/api/v1/contacts").await, book);
    assert_eq!(app.audit_entries(t.id).await.len(), audit_before);

    // The limits themselves are accepted (labels in characters, attributes in bytes).
    let label = "é".repeat(50);
    let labels: Vec<String> = (0..50).map(|i| format!("{i}{}", "l".repeat(48))).collect();
    let fits = "x".repeat(16 * 1024 - r#"{"k":""}"#.len());
    for body in [
        json!({"labels": [label]}),
        json!({"labels": labels}),
        json!({"attributes": {"k": fits}}),
        json!({"name": "n".repeat(200)}),
        json!({}),
    ] {
        let r = post_contact(&app, agent, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.body);
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_book_needs_contacts_read_and_contacts_write() {
    let app = TestApp::new().await;
    let (mut t, _) = tenant_with_contacts(&app).await;
    for (name, perms) in [
        ("inbox-only", json!(["inbox.read"])),
        ("reader", json!(["contacts.read"])),
        ("writer", json!(["contacts.write"])),
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/roles",
                &t.owner.auth,
                Some(json!({"name": name, "permissions": perms})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        t.roles
            .insert(name.into(), r.body["id"].as_str().unwrap().parse().unwrap());
    }
    let sheena = contact_id(&app, &t.owner.auth, "Sheena Nelson").await;
    let one = format!("/api/v1/contacts/{sheena}");
    let before = app.get_ok(&t.owner.auth, "/api/v1/contacts").await;
    let forbidden = |r: &Resp, what: &str| {
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{what}: {}",
            r.body
        );
    };
    let create = json!({"phone": "+15550001111", "name": "New"});
    let change = json!({"name": "Changed", "labels": ["x"]});
    let inbox_only = app.add_member(&t, "inbox-only").await;
    let (_, inbox_key) = app.api_key(&t, "inbox-only").await;
    let reader = app.add_member(&t, "reader").await;
    let (_, reader_key) = app.api_key(&t, "reader").await;
    let writer = app.add_member(&t, "writer").await;
    // Without contacts.read: no list; without contacts.write: no create or change.
    for auth in [
        inbox_only.auth.clone(),
        Auth::Bearer(inbox_key),
        writer.auth.clone(),
    ] {
        forbidden(
            &app.call(Method::GET, "/api/v1/contacts", &auth, None).await,
            "GET list",
        );
    }
    for auth in [
        inbox_only.auth.clone(),
        reader.auth.clone(),
        Auth::Bearer(reader_key.clone()),
        t.members["viewer"].auth.clone(),
    ] {
        forbidden(&post_contact(&app, &auth, create.clone()).await, "POST");
        forbidden(
            &patch_contact(&app, &auth, &sheena, change.clone()).await,
            "PATCH",
        );
    }
    app.get_ok(&Auth::Bearer(reader_key), "/api/v1/contacts")
        .await;
    app.get_ok(&t.members["viewer"].auth, "/api/v1/contacts")
        .await;
    for (method, path) in [
        (Method::GET, "/api/v1/contacts"),
        (Method::POST, "/api/v1/contacts"),
        (Method::PATCH, one.as_str()),
    ] {
        let b = (method != Method::GET).then(|| create.clone());
        let r = app.call(method, path, &Auth::None, b).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(app.get_ok(&t.owner.auth, "/api/v1/contacts").await, before);
    // contacts.write alone creates and changes; so do the agent, admin and owner.
    let r = post_contact(&app, &writer.auth, create.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = patch_contact(&app, &writer.auth, &sheena, change.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (i, auth) in [
        &t.owner.auth,
        &t.members["admin"].auth,
        &t.members["agent"].auth,
    ]
    .into_iter()
    .enumerate()
    {
        let r = post_contact(&app, auth, json!({"phone": format!("+1555000222{i}")})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = patch_contact(&app, auth, &sheena, json!({"labels": [format!("l{i}")]})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    app.finish().await;
}
