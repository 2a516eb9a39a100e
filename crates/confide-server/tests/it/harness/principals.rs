//! Signing in: tenants with a member of each role, API keys, the session a sign-in set.

use super::{Auth, Resp, TestApp};
use axum::http::{Method, StatusCode, header};
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::entropy::OsEntropy;
use confide_core::ids::{RoleId, TenantId, UserId};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub password: String,
    /// The session from the member's first sign-in (kept across the password change).
    pub auth: Auth,
}

pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub owner: Member,
    pub roles: BTreeMap<String, RoleId>,
    /// admin, agent, viewer, support-lead.
    pub members: BTreeMap<String, Member>,
}

impl TestApp {
    pub async fn login_raw(
        &self,
        ip: IpAddr,
        email: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Resp {
        let mut body = json!({"email": email, "password": password});
        if let Some(t) = totp {
            body["totp"] = json!(t);
        }
        self.call_from(ip, Method::POST, "/api/v1/session", &Auth::None, Some(body))
            .await
    }

    /// Signs in (must succeed) and returns the session.
    pub async fn login(&self, email: &str, password: &str) -> Auth {
        let r = self.login_raw(self.ip, email, password, None).await;
        assert_eq!(r.status, StatusCode::OK, "login {email}: {}", r.body);
        session_of(&r)
    }

    /// A tenant whose owner has changed the one-time password, with the built-in roles, a
    /// custom role, and a user of each role.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let n = self.unique();
        let owner_email = format!("owner{n}@{}.test", name.to_lowercase());
        let otp = format!("one-time-{n}-pass-word");
        let hash = self.state.auth.hasher.hash(&otp, &OsEntropy).unwrap();
        let created = self
            .state
            .operator_store()
            .create_tenant(
                name,
                &Email::parse(&owner_email).unwrap(),
                &hash,
                Actor::Cli,
            )
            .await
            .unwrap();
        let first = self.login(&owner_email, &otp).await;
        let owner_password = strong_password(n);
        let r = self
            .call(
                Method::POST,
                "/api/v1/me/password",
                &first,
                Some(json!({"current_password": otp, "new_password": owner_password})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let mut s = self
            .state
            .operator_store()
            .read_scope(created.tenant_id)
            .await
            .unwrap();
        let roles: BTreeMap<String, RoleId> = s
            .roles()
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.name, r.id))
            .collect();
        s.commit().await.unwrap();
        let mut t = Tenant {
            id: created.tenant_id,
            name: name.to_string(),
            owner: Member {
                user_id: created.owner_user_id,
                email: owner_email,
                password: owner_password,
                auth: first,
            },
            roles,
            members: BTreeMap::new(),
        };
        let r = self
            .call(
                Method::POST,
                "/api/v1/roles",
                &t.owner.auth,
                Some(json!({"name": "support-lead", "permissions": ["inbox.read", "api_keys.manage"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        t.roles.insert(
            "support-lead".into(),
            r.body["id"].as_str().unwrap().parse().unwrap(),
        );
        for role in ["admin", "agent", "viewer", "support-lead"] {
            let m = self.add_member(&t, role).await;
            t.members.insert(role.to_string(), m);
        }
        t
    }

    /// Invites a member with `role` and signs them in with their own password.
    pub async fn add_member(&self, t: &Tenant, role: &str) -> Member {
        let n = self.unique();
        let email = format!("{role}{n}@{}.test", t.name.to_lowercase());
        let r = self
            .call(
                Method::POST,
                "/api/v1/users",
                &t.owner.auth,
                Some(json!({"email": email, "role_id": t.roles[role].to_string()})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let user_id: UserId = r.body["user"]["id"].as_str().unwrap().parse().unwrap();
        let otp = r.body["one_time_password"].as_str().unwrap().to_string();
        let first = self.login(&email, &otp).await;
        let password = strong_password(n);
        let r = self
            .call(
                Method::POST,
                "/api/v1/me/password",
                &first,
                Some(json!({"current_password": otp, "new_password": password})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        Member {
            user_id,
            email,
            password,
            auth: first,
        }
    }

    /// An API key of the tenant with `role`, made by the owner.
    pub async fn api_key(&self, t: &Tenant, role: &str) -> (String, String) {
        let r = self
            .call(
                Method::POST,
                "/api/v1/api-keys",
                &t.owner.auth,
                Some(json!({"name": format!("{role} key"), "role_id": t.roles[role].to_string()})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (
            r.body["id"].as_str().unwrap().to_string(),
            r.body["key"].as_str().unwrap().to_string(),
        )
    }

    /// The tenant's audit actions, oldest first.
    pub async fn audit_actions(&self, tenant: TenantId) -> Vec<String> {
        self.audit_entries(tenant)
            .await
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    /// The tenant's audit entries (up to 500), oldest first, straight from the store.
    pub async fn audit_entries(&self, tenant: TenantId) -> Vec<confide_core::audit::AuditEntry> {
        let mut page = self
            .state
            .operator_store()
            .audit_page(tenant, None, 500)
            .await
            .unwrap();
        page.reverse();
        page
    }
}

/// A password that passes the policy.
pub fn strong_password(n: u32) -> String {
    format!("violet harbor tundra lantern {n}")
}

/// The session a sign-in response established.
pub fn session_of(r: &Resp) -> Auth {
    Auth::Session {
        token: set_cookie_value(r, confide_server::auth::SESSION_COOKIE).expect("a session cookie"),
        csrf: r.body["csrf_token"].as_str().unwrap().to_string(),
    }
}

pub fn set_cookie_value(r: &Resp, name: &str) -> Option<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}
