//! The OpenAPI document (`GET /api/v1/openapi.json`): generated from the route table, the error
//! codes and the handlers' types, and committed as `docs/openapi.json`.
//!
//! Regenerate the committed file after changing the API:
//!
//!     CONFIDE_UPDATE_OPENAPI=1 cargo test -p confide-server --test it openapi::

use crate::harness::{Auth, TestApp};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use confide_app::Code;
use confide_server::api::openapi;
use confide_server::api::route_specs;
use confide_server::api::table::Access;
use confide_server::error::status_of;
use http_body_util::BodyExt;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use tower::ServiceExt;

const PATH: &str = "/api/v1/openapi.json";

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// The document as served, byte for byte.
async fn served_bytes(app: &TestApp) -> (StatusCode, Option<String>, String) {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(PATH)
        .header(header::HOST, crate::harness::HOST)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 10], 40_000))));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

async fn served(app: &TestApp) -> Value {
    let r = app.call(Method::GET, PATH, &Auth::None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn operation<'a>(doc: &'a Value, method: &Method, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is not in the document");
    op
}

#[tokio::test]
async fn openapi_json_is_public_json_openapi_3_1() {
    let app = TestApp::new().await;
    let (status, content_type, text) = served_bytes(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1"), "{version}");
    assert_eq!(doc["info"]["title"], "Confide API");
    // The same through the harness, without credentials.
    assert_eq!(served(&app).await, doc);
    app.finish().await;
}

#[tokio::test]
async fn openapi_every_route_has_metadata() {
    let problems = openapi::problems();
    assert!(
        problems.is_empty(),
        "add the routes to api::openapi::table_ops: {problems:#?}"
    );
}

#[tokio::test]
async fn openapi_lists_every_route_of_the_table_with_its_access() {
    let app = TestApp::new().await;
    let doc = served(&app).await;
    let specs = route_specs();
    assert!(
        specs
            .iter()
            .any(|s| s.method == Method::GET && s.path == PATH && s.access == Access::Public),
        "the document is a public route of the table"
    );
    let mut ids = std::collections::BTreeSet::new();
    for spec in &specs {
        let op = operation(&doc, &spec.method, spec.path);
        let what = format!("{} {}", spec.method, spec.path);
        assert!(op.get("x-undocumented").is_none(), "{what}");
        assert!(!op["summary"].as_str().unwrap().is_empty(), "{what}");
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_string()),
            "{what}"
        );
        assert!(!op["responses"].as_object().unwrap().is_empty(), "{what}");
        // The path's parameters are declared.
        if spec.path.contains("{id}") {
            assert!(
                op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == "id" && p["in"] == "path" && p["required"] == true),
                "{what}"
            );
            assert!(op["responses"]["404"].is_object(), "{what}");
        }
        let security = op["security"].as_array().unwrap();
        let schemes: Vec<Vec<&str>> = security
            .iter()
            .map(|r| r.as_object().unwrap().keys().map(String::as_str).collect())
            .collect();
        let state_change = spec.method != Method::GET;
        let cookie = |name: &'static str| {
            if state_change {
                vec!["csrf_token", name]
            } else {
                vec![name]
            }
        };
        let (access, want): (&str, Vec<Vec<&str>>) = match spec.access {
            Access::Public => ("public", vec![]),
            Access::Account => ("account", vec![cookie("session_cookie")]),
            Access::Authenticated => (
                "authenticated",
                vec![cookie("session_cookie"), vec!["api_key"]],
            ),
            Access::Perm(p) => {
                assert_eq!(op["x-permission"], p.as_str(), "{what}");
                assert!(
                    op["description"].as_str().unwrap().contains(p.as_str()),
                    "{what}"
                );
                (
                    "permission",
                    vec![cookie("session_cookie"), vec!["api_key"]],
                )
            }
            Access::Platform => ("platform", vec![cookie("platform_cookie")]),
            Access::PlatformAccount => ("platform_account", vec![cookie("platform_cookie")]),
        };
        assert_eq!(op["x-access"], access, "{what}");
        assert_eq!(schemes, want, "{what}");
        if spec.access != Access::Public {
            assert_eq!(
                op["responses"]["401"]["$ref"], "#/components/responses/Unauthenticated",
                "{what}"
            );
            assert_eq!(
                op["responses"]["403"]["$ref"], "#/components/responses/Forbidden",
                "{what}"
            );
        }
    }
    // Each security scheme the operations name is declared.
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for name in ["session_cookie", "api_key", "platform_cookie", "csrf_token"] {
        assert!(schemes.contains_key(name), "{name}");
    }
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    assert_eq!(
        schemes["session_cookie"]["name"],
        confide_server::auth::SESSION_COOKIE
    );
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    app.finish().await;
}

#[tokio::test]
async fn openapi_lists_health_and_webhook_routes() {
    let app = TestApp::new().await;
    let doc = served(&app).await;
    let extra = openapi::extra_routes();
    for (method, path) in [
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/webhooks/whatsapp/{channel_id}"),
        (Method::POST, "/webhooks/whatsapp/{channel_id}"),
    ] {
        assert!(extra.contains(&(method.clone(), path)), "{method} {path}");
        let op = operation(&doc, &method, path);
        assert_eq!(op["security"], serde_json::json!([]), "{method} {path}");
    }
    let receive = operation(&doc, &Method::POST, "/webhooks/whatsapp/{channel_id}");
    let params = receive["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "channel_id" && p["in"] == "path")
    );
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "X-Hub-Signature-256" && p["in"] == "header")
    );
    assert!(receive["responses"]["401"].is_object());
    assert!(receive["responses"]["413"].is_object());
    // The routes outside the table answer where the document says.
    let r = app.call(Method::GET, "/healthz", &Auth::None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    app.finish().await;
}

#[tokio::test]
async fn openapi_lists_every_error_code_with_its_status() {
    let app = TestApp::new().await;
    let doc = served(&app).await;
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], serde_json::json!(["error"]));
    let inner = &error["properties"]["error"];
    assert_eq!(inner["required"], serde_json::json!(["code", "message"]));
    let enumerated: Vec<&str> = inner["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let listed = doc["components"]["x-error-codes"].as_array().unwrap();
    assert_eq!(listed.len(), Code::ALL.len());
    for code in Code::ALL {
        let s = code.as_str();
        assert!(enumerated.contains(&s), "{s} is not in the Error schema");
        let status = status_of(code.kind()).as_u16();
        assert!(
            listed.iter().any(|e| e["code"] == s
                && e["status"] == status
                && e["description"] == code.description()),
            "{s} ({status}) is not in x-error-codes"
        );
        // The shared response of its status names it.
        let responses = doc["components"]["responses"].as_object().unwrap();
        assert!(
            responses.values().any(|r| {
                r["description"]
                    .as_str()
                    .unwrap()
                    .starts_with(&status.to_string())
                    && r["x-error-codes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|c| c == s)
            }),
            "{s}: no shared {status} response lists it"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn openapi_describes_request_bodies_and_query_parameters() {
    let app = TestApp::new().await;
    let doc = served(&app).await;
    let schemas = &doc["components"]["schemas"];
    // Every body is a schema of components, and each body route refers to one.
    for spec in route_specs() {
        let op = operation(&doc, &spec.method, spec.path);
        if let Some(r) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                schemas[name].is_object(),
                "{} {}: {r}",
                spec.method,
                spec.path
            );
        }
    }
    let body = |method: Method, path: &str| {
        let op = operation(&doc, &method, path);
        let r = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no JSON body"));
        schemas[r.strip_prefix("#/components/schemas/").unwrap()].clone()
    };
    let channel = body(Method::POST, "/api/v1/channels");
    for field in [
        "phone_number_id",
        "waba_id",
        "display_phone_number",
        "access_token",
        "app_secret",
        "verify_token",
    ] {
        assert!(
            channel["required"]
                .as_array()
                .unwrap()
                .contains(&Value::from(field)),
            "{field}"
        );
    }
    assert!(channel["properties"]["graph_base_url"].is_object());
    let credentials = body(Method::POST, "/api/v1/session");
    assert!(credentials["properties"]["totp"].is_object());
    for (method, path, fields) in [
        (Method::PATCH, "/api/v1/channels/{id}", &["status"][..]),
        (
            Method::POST,
            "/api/v1/contacts",
            &["phone", "labels", "attributes"][..],
        ),
        (
            Method::PATCH,
            "/api/v1/contacts/{id}",
            &["phone", "name"][..],
        ),
        (
            Method::POST,
            "/api/v1/contacts/{id}/consent",
            &["purpose", "status"][..],
        ),
        (
            Method::POST,
            "/api/v1/conversations",
            &["contact_id", "channel_id"][..],
        ),
        (
            Method::PATCH,
            "/api/v1/conversations/{id}",
            &["status", "assignee"][..],
        ),
        (Method::POST, "/api/v1/users", &["email", "role_id"][..]),
        (Method::PATCH, "/api/v1/users/{id}", &["reset_password"][..]),
        (Method::POST, "/api/v1/roles", &["permissions"][..]),
        (Method::POST, "/api/v1/api-keys", &["name", "role_id"][..]),
        (Method::POST, "/api/v1/support-grants", &["hours"][..]),
        (
            Method::PUT,
            "/api/v1/security",
            &["require_2fa", "access"][..],
        ),
        (Method::POST, "/api/v1/me/password", &["new_password"][..]),
        (
            Method::POST,
            "/api/v1/platform/tenants",
            &["owner_email"][..],
        ),
    ] {
        let s = body(method.clone(), path);
        for f in fields {
            assert!(s["properties"][f].is_object(), "{method} {path}: {f}");
        }
    }
    for (path, names) in [
        ("/api/v1/contacts", &["q", "label", "cursor", "limit"][..]),
        (
            "/api/v1/conversations",
            &["status", "assignee", "label", "q", "cursor", "limit"][..],
        ),
        (
            "/api/v1/conversations/{id}/messages",
            &["cursor", "limit"][..],
        ),
        ("/api/v1/audit", &["action", "cursor", "limit"][..]),
    ] {
        let params = operation(&doc, &Method::GET, path)["parameters"]
            .as_array()
            .unwrap()
            .clone();
        for n in names {
            assert!(
                params.iter().any(|p| p["name"] == *n && p["in"] == "query"),
                "GET {path}: {n}"
            );
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn openapi_document_is_deterministic() {
    let a = openapi::document_json().unwrap();
    let b = openapi::document_json().unwrap();
    assert_eq!(a, b);
    assert!(a.ends_with("}\n"));
}

/// The served document is `docs/openapi.json`, byte for byte. With `CONFIDE_UPDATE_OPENAPI=1`
/// the file is rewritten instead.
#[tokio::test]
async fn openapi_served_document_equals_docs_openapi_json() {
    let app = TestApp::new().await;
    let (status, _, served) = served_bytes(&app).await;
    assert_eq!(status, StatusCode::OK);
    let path = committed_path();
    if std::env::var("CONFIDE_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(&path, &served).unwrap();
        eprintln!("wrote {}", path.display());
    } else {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != served {
            let diff = committed
                .lines()
                .zip(served.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| {
                    format!(
                        "first difference at line {}:\n  docs: {a}\n  served: {b}",
                        i + 1
                    )
                })
                .unwrap_or_else(|| {
                    format!(
                        "one is a prefix of the other ({} and {} lines)",
                        committed.lines().count(),
                        served.lines().count()
                    )
                });
            panic!(
                "docs/openapi.json is not the served document ({diff}).\nRegenerate it: \
                 CONFIDE_UPDATE_OPENAPI=1 cargo test -p confide-server --test it openapi::"
            );
        }
    }
    app.finish().await;
}
