//! C6: the authorization matrix, generated from the route table: every route × {owner, admin,
//! agent, viewer, a custom role, each role's API key, a platform admin, no credentials}, each
//! cell checked against what the route declares.

use crate::harness::{Auth, Resp, TestApp};
use axum::http::{Method, StatusCode};
use confide_core::permissions::{BuiltinRole, Permission};
use confide_server::api::route_specs;
use confide_server::api::table::Access;
use std::collections::BTreeSet;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Unauthenticated,
    Forbidden,
    Allowed,
}

fn outcome(r: &Resp) -> Outcome {
    match (r.status, r.code()) {
        (StatusCode::UNAUTHORIZED, "unauthenticated") => Outcome::Unauthenticated,
        (
            StatusCode::FORBIDDEN,
            "forbidden" | "csrf" | "password_change_required" | "two_factor_required",
        ) => Outcome::Forbidden,
        _ => Outcome::Allowed,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    User,
    ApiKey,
    PlatformAdmin,
}

fn expected(access: Access, caller: Caller, perms: &BTreeSet<Permission>) -> Outcome {
    use Outcome::*;
    match (access, caller) {
        (Access::Public, _) => Allowed,
        (_, Caller::Nobody) => Unauthenticated,
        (Access::Platform | Access::PlatformAccount, Caller::PlatformAdmin) => Allowed,
        (Access::Platform | Access::PlatformAccount, _) => Forbidden,
        // A platform admin's cookie is no tenant credential.
        (_, Caller::PlatformAdmin) => Unauthenticated,
        (Access::Account, Caller::ApiKey) => Forbidden,
        (Access::Account | Access::Authenticated, _) => Allowed,
        (Access::Perm(p), _) => {
            if perms.contains(&p) {
                Allowed
            } else {
                Forbidden
            }
        }
    }
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "0190a7a4-0000-7000-8000-000000000000")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_declares_access_and_only_sign_in_is_public() {
    let specs = route_specs();
    assert!(specs.len() >= 20, "the table lists the API");
    let public: Vec<_> = specs
        .iter()
        .filter(|s| s.access == Access::Public)
        .map(|s| (s.method.clone(), s.path))
        .collect();
    assert_eq!(
        public,
        vec![
            (Method::POST, "/api/v1/session"),
            (Method::POST, "/api/v1/platform/session"),
            (Method::GET, "/api/v1/openapi.json"),
        ],
        "only sign-in and the OpenAPI document may be public"
    );
    for s in &specs {
        assert!(s.path.starts_with("/api/v1/"), "{s:?}");
    }
    let mut seen = BTreeSet::new();
    for s in &specs {
        assert!(
            seen.insert((s.method.to_string(), s.path)),
            "declared twice: {s:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_every_route_every_role() {
    let app = TestApp::new().await;
    let t = app.tenant("Matrix").await;
    let (_, admin_email, admin_password) = super::platform::platform_admin(&app).await;
    let mut callers: Vec<(String, Caller, BTreeSet<Permission>)> = vec![
        ("nobody".into(), Caller::Nobody, BTreeSet::new()),
        (
            "platform admin".into(),
            Caller::PlatformAdmin,
            BTreeSet::new(),
        ),
    ];
    let custom: BTreeSet<Permission> = [Permission::InboxRead, Permission::ApiKeysManage]
        .into_iter()
        .collect();
    for role in ["owner", "admin", "agent", "viewer", "support-lead"] {
        let perms = BuiltinRole::ALL
            .iter()
            .find(|r| r.name() == role)
            .map(|r| r.permissions())
            .unwrap_or_else(|| custom.clone());
        callers.push((format!("{role} user"), Caller::User, perms.clone()));
        callers.push((format!("{role} api key"), Caller::ApiKey, perms));
    }
    let mut keys = std::collections::BTreeMap::new();
    for role in ["owner", "admin", "agent", "viewer", "support-lead"] {
        keys.insert(role.to_string(), app.api_key(&t, role).await.1);
    }
    let mut cells = 0;
    for spec in route_specs() {
        for (name, caller, perms) in &callers {
            // A fresh credential per cell: some routes end the session they are called with.
            let auth = match caller {
                Caller::Nobody => Auth::None,
                Caller::PlatformAdmin => {
                    super::platform::platform_login(&app, &admin_email, &admin_password).await
                }
                Caller::ApiKey => Auth::Bearer(keys[name.trim_end_matches(" api key")].clone()),
                Caller::User => {
                    let role = name.trim_end_matches(" user");
                    let m = if role == "owner" {
                        &t.owner
                    } else {
                        &t.members[role]
                    };
                    app.login(&m.email, &m.password).await
                }
            };
            let body = (spec.method != Method::GET && spec.method != Method::DELETE)
                .then(|| serde_json::json!({}));
            let r = app
                .call(spec.method.clone(), &concrete(spec.path), &auth, body)
                .await;
            let want = expected(spec.access, *caller, perms);
            assert_eq!(
                outcome(&r),
                want,
                "{} {} as {name}: got {} {}",
                spec.method,
                spec.path,
                r.status,
                r.body
            );
            cells += 1;
        }
    }
    assert_eq!(cells, route_specs().len() * callers.len());
}
