//! The OpenAPI 3.1 document of the API (`GET /api/v1/openapi.json`, committed as
//! `docs/openapi.json` and diffed in CI), generated from the code:
//!
//! - the operations are the routes of [`super::table()`], walked one by one, each with the security
//!   requirement and permission its [`Access`] declares, plus the routes outside the table
//!   (`/healthz`, `/readyz`, the WhatsApp webhook);
//! - what the table does not know (a summary, the request body and query types, the answers) comes
//!   from [`table_ops`], a lookup keyed by (method, path): a route without an entry still appears,
//!   marked `x-undocumented`, and [`problems`] (checked by a test) names it;
//! - request bodies and query parameters are the handlers' own types (`utoipa::ToSchema`,
//!   `utoipa::IntoParams`);
//! - errors are one `Error` schema whose `code` enumerates [`Code::ALL`], one shared response per
//!   [`Kind`] (its status from [`status_of`], the one mapping the server uses) and the
//!   `x-error-codes` extension of `components`: every code with its status and description.
//!
//! The JSON is canonical (object keys sorted, pretty-printed, a trailing newline), so the served
//! bytes and the committed file compare exactly.

use super::table::{Access, Verb};
use crate::auth::{CSRF_HEADER, PLATFORM_COOKIE, SESSION_COOKIE};
use crate::error::{ApiError, status_of};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use confide_app::{Code, Kind};
use confide_core::permissions::Permission;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use utoipa::openapi::extensions::{Extensions, ExtensionsBuilder};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, ResponsesBuilder, SecurityRequirement,
};

mod routes;
use routes::{Content, Op, TAGS, extra_ops, op, string, table_ops};

/// `GET /api/v1/openapi.json`: this document (public; built once per process).
pub async fn serve() -> Result<Response, ApiError> {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = match DOCUMENT.get() {
        Some(text) => text.as_str(),
        None => {
            let text = document_json().map_err(|e| {
                tracing::error!(error = %e, "the OpenAPI document does not serialize");
                ApiError::internal()
            })?;
            DOCUMENT.get_or_init(|| text).as_str()
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// The document as served and committed: canonical JSON, pretty-printed, with a trailing newline.
pub fn document_json() -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&document()?)?;
    text.push('\n');
    Ok(text)
}

/// The document as a JSON value with its object keys sorted (utoipa keeps extensions in hash
/// maps, whose order changes from one process to the next).
pub fn document() -> Result<Value, serde_json::Error> {
    Ok(canonical(serde_json::to_value(build().0)?))
}

/// What is wrong with the metadata: a route of the table without an entry in [`table_ops`], an
/// entry naming no route, an operation id used twice, two body types with one schema name.
/// Empty when the document covers the API.
pub fn problems() -> Vec<String> {
    build().1
}

/// The routes outside the route table that the document lists: (method, path).
pub fn extra_routes() -> Vec<(Method, &'static str)> {
    extra_ops()
        .into_iter()
        .map(|o| (o.method, o.path))
        .collect()
}

/// Who may call an operation.
#[derive(Clone, Copy)]
enum Guard {
    /// A route of the table, behind the guard for its access.
    Table(Access),
    /// A route outside the table that authenticates itself (a webhook) or not at all.
    Open,
}

const SESSION: &str = "session_cookie";
const API_KEY: &str = "api_key";
const PLATFORM: &str = "platform_cookie";
const CSRF: &str = "csrf_token";

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn http_method(m: &Method) -> Option<HttpMethod> {
    Some(match *m {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        Method::TRACE => HttpMethod::Trace,
        _ => return None,
    })
}

fn no_scopes() -> Vec<String> {
    Vec::new()
}

/// The security requirement an access implies (alternatives; each one all of its schemes).
fn security_of(guard: Guard, method: &Method) -> Vec<SecurityRequirement> {
    let cookie = |scheme: &str| {
        let r = SecurityRequirement::new(scheme, no_scopes());
        if changes_state(method) {
            r.add(CSRF, no_scopes())
        } else {
            r
        }
    };
    match guard {
        Guard::Open | Guard::Table(Access::Public) => Vec::new(),
        Guard::Table(Access::Account) => vec![cookie(SESSION)],
        Guard::Table(Access::Authenticated | Access::Perm(_)) => vec![
            cookie(SESSION),
            SecurityRequirement::new(API_KEY, no_scopes()),
        ],
        Guard::Table(Access::Platform | Access::PlatformAccount) => vec![cookie(PLATFORM)],
    }
}

/// `x-access` and, for a permission, `x-permission`, and a sentence for the description.
fn access_of(guard: Guard, method: &Method) -> (&'static str, Option<Permission>, String) {
    match guard {
        Guard::Open => (
            "public",
            None,
            "No session: open to anyone (a webhook authenticates by its signature).".into(),
        ),
        Guard::Table(Access::Public) if changes_state(method) => (
            "public",
            None,
            "Public: no credentials. A browser's call must come from this origin (`Origin`/`Referer`), else 403 `csrf`.".into(),
        ),
        Guard::Table(Access::Public) => ("public", None, "Public: no credentials.".into()),
        Guard::Table(Access::Account) => (
            "account",
            None,
            "The signed-in member's own account (session cookie only: API keys and support sessions get 403 `forbidden`), allowed even while they owe a password change or 2FA enrolment.".into(),
        ),
        Guard::Table(Access::Authenticated) => (
            "authenticated",
            None,
            "Any principal of the tenant: a session cookie or an API key.".into(),
        ),
        Guard::Table(Access::Perm(p)) => (
            "permission",
            Some(p),
            format!(
                "Requires the `{}` permission ({}): a session cookie or an API key.",
                p.as_str(),
                p.description().trim_end_matches('.')
            ),
        ),
        Guard::Table(Access::Platform) => (
            "platform",
            None,
            "A platform administrator (platform cookie) who has changed their one-time password.".into(),
        ),
        Guard::Table(Access::PlatformAccount) => (
            "platform_account",
            None,
            "A platform administrator (platform cookie), even one who still owes a password change.".into(),
        ),
    }
}

/// The name of a kind's shared response in `components.responses`.
fn kind_name(kind: Kind) -> String {
    format!("{kind:?}")
}

/// Every kind that has codes, in the order of [`Code::ALL`].
fn kinds() -> Vec<Kind> {
    let mut out: Vec<Kind> = Vec::new();
    for c in Code::ALL {
        if !out.contains(&c.kind()) {
            out.push(c.kind());
        }
    }
    out
}

fn status_u16(kind: Kind) -> u16 {
    status_of(kind).as_u16()
}

/// The error kinds an operation may answer with.
fn error_kinds(guard: Guard, o: &Op) -> Vec<Kind> {
    let mut out = Vec::new();
    if let Guard::Table(access) = guard {
        if access != Access::Public {
            out.push(Kind::Unauthenticated);
            out.push(Kind::Forbidden);
        } else if changes_state(&o.method) {
            out.push(Kind::Forbidden);
        }
        if o.body.is_some() || o.query.is_some() {
            out.push(Kind::BadRequest);
        }
        if o.path.contains('{') {
            out.push(Kind::NotFound);
        }
        out.push(Kind::Internal);
        out.push(Kind::Unavailable);
    }
    out.extend(o.errors.iter().map(|c| c.kind()));
    out
}

/// The path parameters of a path template (`{id}` and the like).
fn path_params(path: &str) -> Vec<Parameter> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let description = match (name, i.checked_sub(1).and_then(|j| segments.get(j))) {
            ("channel_id", _) => "The channel's id (its `webhook_path`).".to_string(),
            (_, Some(collection)) => {
                let what = collection.strip_suffix('s').unwrap_or(collection);
                format!(
                    "The {}'s id. An id of another tenant is 404 `not_found`.",
                    what.replace('-', " ")
                )
            }
            (_, None) => "An id.".to_string(),
        };
        out.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(string()))
                .build(),
        );
    }
    out
}

fn error_ref() -> Ref {
    Ref::from_schema_name("Error")
}

/// The `Error` schema: `{"error":{"code","message"}}` with every code.
fn error_schema() -> ObjectBuilder {
    let mut codes: Vec<&str> = Vec::new();
    for c in Code::ALL {
        if !codes.contains(&c.as_str()) {
            codes.push(c.as_str());
        }
    }
    let inner = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "code",
            string()
                .description(Some(
                    "A stable snake_case code (see `x-error-codes` in `components`).",
                ))
                .enum_values(Some(codes)),
        )
        .required("code")
        .property(
            "message",
            string().description(Some("A plain sentence for the person calling.")),
        )
        .required("message");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "Every error answer: a stable code and a plain message (details go to the server log with the request id, never here).",
        ))
        .property("error", inner)
        .required("error")
}

/// The shared response of one kind: its status and every code of that kind.
fn kind_response(kind: Kind) -> utoipa::openapi::Response {
    let status = status_of(kind);
    let codes: Vec<String> = Code::ALL
        .iter()
        .filter(|c| c.kind() == kind)
        .map(|c| format!("`{}`: {}", c.as_str(), c.description()))
        .collect();
    let listed: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| c.kind() == kind)
        .map(|c| c.as_str())
        .collect();
    let response = if kind == Kind::TooManyRequests {
        ResponseBuilder::new().header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        )
    } else {
        ResponseBuilder::new()
    };
    response
        .description(format!(
            "{} {}. The code is one of:\n\n- {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            codes.join("\n- ")
        ))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(error_ref())).build(),
        )
        .extensions(Some(
            ExtensionsBuilder::new()
                .add("x-error-codes", json!(listed))
                .build(),
        ))
        .build()
}

fn object_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// The document, and what is wrong with its metadata (see [`problems`]).
fn build() -> (OpenApi, Vec<String>) {
    let mut problems = Vec::new();
    let mut paths = Paths::new();
    let mut schemas: BTreeMap<String, RefOr<Schema>> = BTreeMap::new();
    let mut ids = BTreeSet::new();

    let mut add_schema = |problems: &mut Vec<String>, name: String, schema: RefOr<Schema>| {
        match schemas.get(&name) {
            Some(existing) if *existing != schema => {
                problems.push(format!("two different schemas are named {name}"));
            }
            Some(_) => {}
            None => {
                schemas.insert(name, schema);
            }
        }
    };

    let table_specs = super::table().specs().to_vec();
    let mut known = table_ops();
    let mut entries: Vec<(Guard, Op)> = Vec::new();
    for spec in &table_specs {
        let found = known
            .iter()
            .position(|o| o.method == spec.method && o.path == spec.path);
        let o = match found {
            Some(i) => known.swap_remove(i),
            None => {
                problems.push(format!(
                    "{} {} has no entry in api::openapi::table_ops",
                    spec.method, spec.path
                ));
                let mut o = op(Verb::Get, spec.path, "", "", "");
                o.method = spec.method.clone();
                o
            }
        };
        entries.push((Guard::Table(spec.access), o));
    }
    for stale in &known {
        problems.push(format!(
            "api::openapi::table_ops describes {} {}, which is not in the route table",
            stale.method, stale.path
        ));
    }
    entries.extend(extra_ops().into_iter().map(|o| (Guard::Open, o)));

    for (guard, o) in entries {
        let Some(method) = http_method(&o.method) else {
            problems.push(format!("{} {}: no OpenAPI method", o.method, o.path));
            continue;
        };
        let undocumented = o.id.is_empty();
        if !undocumented && !ids.insert(o.id) {
            problems.push(format!("operation id {} is used twice", o.id));
        }
        let (access, permission, access_text) = access_of(guard, &o.method);
        let mut description = String::new();
        if !o.description.is_empty() {
            description.push_str(o.description);
            description.push_str("\n\n");
        }
        description.push_str(&access_text);
        if !o.errors.is_empty() {
            let named: Vec<String> = o
                .errors
                .iter()
                .map(|c| format!("`{}` ({})", c.as_str(), status_u16(c.kind())))
                .collect();
            description.push_str(&format!("\n\nNotable errors: {}.", named.join(", ")));
        }

        let mut ext = ExtensionsBuilder::new().add("x-access", access);
        if let Some(p) = permission {
            ext = ext.add("x-permission", p.as_str());
        }
        if !o.errors.is_empty() {
            let listed: Vec<Value> = o
                .errors
                .iter()
                .map(|c| json!({"code": c.as_str(), "status": status_u16(c.kind())}))
                .collect();
            ext = ext.add("x-error-codes", listed);
        }
        if undocumented {
            ext = ext.add("x-undocumented", true);
        }

        let mut parameters = path_params(o.path);
        if let Some(q) = o.query {
            parameters.extend(q());
        }
        parameters.extend(o.params.iter().cloned());

        let mut responses = ResponsesBuilder::new();
        let mut statuses = BTreeSet::new();
        for a in &o.answers {
            statuses.insert(a.status);
            let r = ResponseBuilder::new().description(a.description);
            let r = match a.content {
                Content::Json => r.content(
                    "application/json",
                    ContentBuilder::new().schema(Some(object_schema())).build(),
                ),
                Content::Text => r.content(
                    "text/plain",
                    ContentBuilder::new().schema(Some(string())).build(),
                ),
                Content::Empty => r,
            };
            responses = responses.response(a.status.to_string(), r.build());
        }
        if o.answers.is_empty() {
            responses = responses.response(
                "200",
                ResponseBuilder::new().description("Success (undocumented)."),
            );
        }
        for kind in error_kinds(guard, &o) {
            let status = status_u16(kind);
            if statuses.insert(status) {
                responses = responses
                    .response(status.to_string(), Ref::from_response_name(kind_name(kind)));
            }
        }

        let mut operation = OperationBuilder::new()
            .summary(Some(if undocumented {
                format!("{} {} (undocumented)", o.method, o.path)
            } else {
                o.summary.to_string()
            }))
            .description(Some(description))
            .parameters(Some(parameters))
            .responses(responses.build())
            .securities(Some(security_of(guard, &o.method)))
            .extensions(Some(ext.build()));
        if !undocumented {
            operation = operation.operation_id(Some(o.id)).tag(o.tag);
        }
        if let Some(body) = o.body {
            let b = body();
            add_schema(&mut problems, b.name.clone(), b.schema);
            for (name, schema) in b.refs {
                add_schema(&mut problems, name, schema);
            }
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(b.name)))
                            .build(),
                    )
                    .build(),
            ));
        }
        paths.add_path_operation(o.path, vec![method], operation.build());
    }

    add_schema(&mut problems, "Error".into(), error_schema().into());
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "A team member's session, set by `POST /api/v1/session`. A state change also sends the session's `csrf_token` in `x-csrf-token` and a same-origin `Origin` (or `Referer`).",
            ))),
        )
        .security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <api key>` (from `POST /api/v1/api-keys`): no cookie, no CSRF token.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            PLATFORM,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                PLATFORM_COOKIE,
                "A platform administrator's session, set by `POST /api/v1/platform/session`; state changes need `x-csrf-token` and a same-origin `Origin` as for the session cookie.",
            ))),
        )
        .security_scheme(
            CSRF,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                CSRF_HEADER,
                "The `csrf_token` of the cookie's session, on every cookie-authenticated state change (with a same-origin `Origin` or `Referer`), else 403 `csrf`.",
            ))),
        );
    for kind in kinds() {
        components = components.response(kind_name(kind), kind_response(kind));
    }
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    let error_codes: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "code": c.as_str(),
                "status": status_u16(c.kind()),
                "description": c.description(),
            })
        })
        .collect();
    let permissions: Vec<Value> = Permission::ALL
        .iter()
        .map(|p| json!({"name": p.as_str(), "description": p.description()}))
        .collect();
    let extensions: Extensions = ExtensionsBuilder::new()
        .add("x-error-codes", error_codes)
        .add("x-permissions", permissions)
        .build();
    let components = components.extensions(Some(extensions)).build();

    let info = InfoBuilder::new()
        .title("Confide API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The HTTP API of Confide, a self-hosted WhatsApp Business inbox. JSON under `/api/v1`, authenticated by a session cookie (with CSRF protection on state changes) or `Authorization: Bearer <api key>`. Unauthenticated is 401 `unauthenticated`, lacking a permission 403 `forbidden`, another tenant's id 404 `not_found`. Errors are always `{\"error\":{\"code\",\"message\"}}`; `components.x-error-codes` lists every code with its status. Generated from the code: `GET /api/v1/openapi.json`.",
        ))
        .build();
    let tags = TAGS
        .iter()
        .map(|(name, d)| TagBuilder::new().name(*name).description(Some(*d)).build());
    let doc = OpenApiBuilder::new()
        .info(info)
        .paths(paths)
        .components(Some(components))
        .tags(Some(tags))
        .build();
    (doc, problems)
}

/// `v` with the keys of every object sorted.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect::<Map<String, Value>>())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        v => v,
    }
}
