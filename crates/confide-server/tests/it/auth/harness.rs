//! An in-process server for the auth tests: a fresh database (SQLite, or PostgreSQL when
//! `CONFIDE_TEST_POSTGRES_URL` is set and the test runs on both), a [`ManualClock`], cheap
//! argon2 parameters, and helpers to sign in as each kind of principal.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use confide_core::audit::Actor;
use confide_core::clock::ManualClock;
use confide_core::email::Email;
use confide_core::entropy::OsEntropy;
use confide_core::ids::{RoleId, TenantId, UserId};
use confide_crypto::keyring::Keyring;
use confide_server::Config;
use confide_server::startup::{Application, Deps};
use confide_server::state::AppState;
use http_body_util::BodyExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::{ConnectOptions, Connection, Executor};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tower::ServiceExt;

pub const HOST: &str = "confide.test";
pub const ORIGIN: &str = "https://confide.test";

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Session {
        token: String,
        csrf: String,
    },
    Bearer(String),
    Platform {
        token: String,
        csrf: String,
    },
    /// A raw cookie header value (for replay attempts), no CSRF token.
    RawCookie(String),
}

impl Auth {
    pub fn token(&self) -> &str {
        match self {
            Auth::Session { token, .. } | Auth::Platform { token, .. } => token,
            Auth::Bearer(t) | Auth::RawCookie(t) => t,
            Auth::None => "",
        }
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    pub clock: Arc<ManualClock>,
    pub ip: IpAddr,
    pub db_url: String,
    counter: AtomicU32,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

pub struct Options {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub postgres: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            m_cost_kib: 64,
            t_cost: 1,
            postgres: false,
        }
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with(Options::default()).await.unwrap()
    }

    /// PostgreSQL, when `CONFIDE_TEST_POSTGRES_URL` is set (else `None`: the test is skipped).
    pub async fn postgres() -> Option<TestApp> {
        Self::with(Options {
            postgres: true,
            ..Options::default()
        })
        .await
    }

    pub async fn with(opts: Options) -> Option<TestApp> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            admin_listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        let mut pg = None;
        config.database_url = if opts.postgres {
            let Ok(admin) = std::env::var("CONFIDE_TEST_POSTGRES_URL") else {
                eprintln!("skipped: set CONFIDE_TEST_POSTGRES_URL to run the PostgreSQL variant");
                return None;
            };
            let name = format!(
                "confide_auth_{}",
                hex::encode(confide_core::entropy::random_array::<6>(&OsEntropy))
            );
            let mut conn = raw_connect(&admin).await;
            conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            conn.close().await.unwrap();
            let url = with_database(&admin, &name);
            pg = Some((admin, name));
            url
        } else {
            format!("sqlite://{}/confide.db", dir.path().display())
        };
        config.database.sqlite_synchronous = "normal".into();
        config.keyring_path = dir.path().join("keys/keyring.json");
        let clock = Arc::new(ManualClock::at_epoch_2026());
        let ring = Keyring::generate(clock.as_ref(), &OsEntropy);
        config.keyring = Some(SecretString::from(ring.to_json().unwrap().to_string()));
        config.password.m_cost_kib = opts.m_cost_kib;
        config.password.t_cost = opts.t_cost;
        let db_url = config.database_url.clone();
        let deps = Deps {
            clock: clock.clone(),
            entropy: Arc::new(OsEntropy),
        };
        let app = Application::build(config, deps).await.unwrap();
        let state = app.state().clone();
        let router = Application::public_router(state.clone());
        Some(TestApp {
            state,
            router,
            clock,
            ip: "203.0.113.10".parse().unwrap(),
            db_url,
            counter: AtomicU32::new(0),
            _dir: dir,
            pg,
        })
    }

    /// Drops the PostgreSQL test database.
    pub async fn finish(self) {
        self.state.store.close().await;
        if let Some((admin, name)) = &self.pg {
            let mut conn = raw_connect(admin).await;
            conn.execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await
            .unwrap();
        }
    }

    /// A raw connection to the database (as the login role: no row-level security).
    pub async fn raw(&self) -> sqlx::AnyConnection {
        raw_connect(&self.db_url).await
    }

    pub fn unique(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    pub async fn call(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Resp {
        self.call_from(self.ip, method, path, auth, body).await
    }

    pub async fn call_from(
        &self,
        ip: IpAddr,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Resp {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, HOST)
            .header(header::USER_AGENT, "confide-tests/1");
        if method != Method::GET {
            b = b.header(header::ORIGIN, ORIGIN);
        }
        match auth {
            Auth::None => {}
            Auth::Session { token, csrf } => {
                b = b
                    .header(
                        header::COOKIE,
                        format!("{}={token}", confide_server::auth::SESSION_COOKIE),
                    )
                    .header("x-csrf-token", csrf);
            }
            Auth::Platform { token, csrf } => {
                b = b
                    .header(
                        header::COOKIE,
                        format!("{}={token}", confide_server::auth::PLATFORM_COOKIE),
                    )
                    .header("x-csrf-token", csrf);
            }
            Auth::Bearer(k) => b = b.header(header::AUTHORIZATION, format!("Bearer {k}")),
            Auth::RawCookie(c) => b = b.header(header::COOKIE, c),
        }
        self.send(ip, b, body).await
    }

    /// Sends a prepared request (for tests that set their own headers).
    pub async fn send(
        &self,
        ip: IpAddr,
        b: axum::http::request::Builder,
        body: Option<Value>,
    ) -> Resp {
        let mut req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

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
            .store
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
            .store
            .read_scope(created.tenant_id)
            .await
            .unwrap();
        let roles: BTreeMap<String, RoleId> = s
            .list_roles()
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
        let mut page = self
            .state
            .store
            .audit_page(tenant, None, 500)
            .await
            .unwrap();
        page.reverse();
        page.into_iter().map(|e| e.action).collect()
    }
}

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

async fn raw_connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
