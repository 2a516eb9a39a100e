//! The in-process server every test module drives through its public router: a fresh database
//! (SQLite, or PostgreSQL when `CONFIDE_TEST_POSTGRES_URL` is set and the test asks for it), a
//! [`ManualClock`] tests move by hand, a generated keyring, cheap argon2 parameters, and helpers
//! to send requests, sign in as each kind of principal ([`principals`]) and deliver signed
//! webhooks ([`whatsapp`]).

mod database;
mod principals;
mod whatsapp;

pub use principals::{Tenant, session_of, set_cookie_value, strong_password};
pub use whatsapp::{FIXTURE_PHONE_NUMBER_ID, TestChannel, fixture, signed_delivery};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use confide_core::clock::ManualClock;
use confide_core::entropy::OsEntropy;
use confide_crypto::keyring::Keyring;
use confide_server::Config;
use confide_server::startup::{Application, Deps};
use confide_server::state::AppState;
use database::Database;
use http_body_util::BodyExt;
use secrecy::SecretString;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tower::ServiceExt;

pub const HOST: &str = "confide.test";

/// Graph origins on loopback ports nothing listens on (9, discard, and 1), which tests give
/// channels that never reach Meta. Listed in `graph_allowed_origins` next to Meta's, as an
/// operator lists a simulator, so the channels API accepts them; every other loopback address
/// stays refused. A meta-sim a test starts is listed when a channel is pointed at it
/// ([`TestApp::channel_for`]).
pub const UNREACHABLE_GRAPH_ORIGINS: [&str; 2] = ["http://127.0.0.1:9", "http://127.0.0.1:1"];
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

/// A response, read whole: the body as JSON (`Null` when empty, a string when not JSON).
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The error code of an error response (`""` for anything else).
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    /// The server's clock; it moves only when a test advances it.
    pub clock: Arc<ManualClock>,
    /// Where requests come from unless a test says otherwise.
    pub ip: IpAddr,
    counter: AtomicU32,
    db: Database,
    _dir: tempfile::TempDir,
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
    /// On SQLite, with the default options.
    pub async fn new() -> TestApp {
        Self::with(Options::default()).await.unwrap()
    }

    /// On PostgreSQL, when `CONFIDE_TEST_POSTGRES_URL` is set (else `None`: the test is skipped).
    pub async fn postgres() -> Option<TestApp> {
        Self::with(Options {
            postgres: true,
            ..Options::default()
        })
        .await
    }

    /// `None` only when PostgreSQL is asked for and `CONFIDE_TEST_POSTGRES_URL` is not set.
    pub async fn with(opts: Options) -> Option<TestApp> {
        Self::with_config(opts, |_| {}).await
    }

    /// Like [`TestApp::with`], with the configuration changed by `edit` before the server is
    /// built (e.g. `trusted_proxies`).
    pub async fn with_config(opts: Options, edit: impl FnOnce(&mut Config)) -> Option<TestApp> {
        Self::build(opts, edit).await.map(|(_, app)| app)
    }

    /// A server listening on loopback for real connections (TLS, timeouts, connection caps), with
    /// the configuration changed by `edit`: the test app handle and the running server.
    pub async fn running(edit: impl FnOnce(&mut Config)) -> (TestApp, Running) {
        let (server, app) = Self::build(Options::default(), edit).await.unwrap();
        let public = server.public_addr();
        let redirect = server.redirect_addr();
        let reloads = server.tls_reloads();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        (
            app,
            Running {
                public,
                redirect,
                reloads,
                stop: Some(stop),
            },
        )
    }

    async fn build(
        opts: Options,
        edit: impl FnOnce(&mut Config),
    ) -> Option<(Application, TestApp)> {
        let dir = tempfile::tempdir().unwrap();
        let db = if opts.postgres {
            Database::postgres().await?
        } else {
            Database::sqlite(dir.path())
        };
        let clock = Arc::new(ManualClock::at_epoch_2026());
        let ring = Keyring::generate(clock.as_ref(), &OsEntropy);
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            admin_listen: "127.0.0.1:0".parse().unwrap(),
            database_url: db.url.clone(),
            keyring_path: dir.path().join("keys/keyring.json"),
            keyring: Some(SecretString::from(ring.to_json().unwrap().to_string())),
            media_url: format!("file://{}/media", dir.path().display()),
            graph_allowed_origins: [confide_app::config::DEFAULT_GRAPH_ORIGIN]
                .into_iter()
                .chain(UNREACHABLE_GRAPH_ORIGINS)
                .map(str::to_string)
                .collect(),
            ..Config::default()
        };
        config.database.sqlite_synchronous = "normal".into();
        config.password.m_cost_kib = opts.m_cost_kib;
        config.password.t_cost = opts.t_cost;
        // The edge's limits and bans are for the tests about them (which turn them on): the
        // other suites send hundreds of requests from one address at a clock that stands still.
        config.rate_limits = confide_app::config::RateLimitsConfig::off();
        config.bans.threshold = 0;
        config.limits.sign_in_in_flight = 1_024;
        // Debug builds on a loaded machine: a 100,000-row import may take longer than the
        // production minute.
        config.limits.request_timeout_secs = 600;
        edit(&mut config);
        let deps = Deps {
            clock: clock.clone(),
            entropy: Arc::new(OsEntropy),
        };
        let app = Application::build(config, deps).await.unwrap();
        let state = app.state().clone();
        let router = Application::public_router(state.clone());
        Some((
            app,
            TestApp {
                state,
                router,
                clock,
                ip: "203.0.113.10".parse().unwrap(),
                counter: AtomicU32::new(0),
                db,
                _dir: dir,
            },
        ))
    }

    /// Closes the database (and drops a PostgreSQL test database).
    pub async fn finish(self) {
        self.state.operator_store().close().await;
        self.db.remove().await;
    }

    /// A raw connection to the database (as the login role: no row-level security).
    pub async fn raw(&self) -> sqlx::AnyConnection {
        database::raw_connect(&self.db.url).await
    }

    /// A number not handed out before by this app.
    pub fn unique(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// A GET that must answer 200; its body.
    pub async fn get_ok(&self, auth: &Auth, path: &str) -> Value {
        let r = self.call(Method::GET, path, auth, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        r.body
    }

    /// A call with an API key whose body is sent exactly as given (e.g. malformed JSON).
    pub async fn call_raw(&self, method: Method, path: &str, key: &str, body: &str) -> Resp {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.request(self.ip, req).await
    }

    pub async fn call(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Resp {
        self.call_from(self.ip, method, path, auth, body).await
    }

    /// An API call as a browser or integration makes it: the server's host, an origin on
    /// anything but GET, and the credentials of `auth`.
    pub async fn call_from(
        &self,
        ip: IpAddr,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Resp {
        self.call_with(ip, method, path, auth, body, &[]).await
    }

    /// [`TestApp::call_from`] with extra request headers (an `Idempotency-Key`, say).
    pub async fn call_with(
        &self,
        ip: IpAddr,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
        headers: &[(&str, &str)],
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
        for (name, value) in headers {
            b = b.header(*name, *value);
        }
        let resp = self.send(ip, b, body).await;
        // A channel created or given a new token is checked with Graph in the background; let
        // that settle so what a test reads next does not depend on timing.
        self.state.health.idle().await;
        resp
    }

    /// Sends a prepared request (for tests that set their own headers) with a JSON body.
    pub async fn send(
        &self,
        ip: IpAddr,
        b: axum::http::request::Builder,
        body: Option<Value>,
    ) -> Resp {
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.request(ip, req).await
    }

    /// Sends a request exactly as given, as if from `ip`.
    pub async fn request(&self, ip: IpAddr, req: Request<Body>) -> Resp {
        send_to(&self.router, ip, req).await
    }

    /// The local media directory (for scans of what is stored).
    pub fn media_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("media")
    }

    /// Serves the public router on a loopback port (for callers that need a real address, such
    /// as meta-sim fetching a media link); media links point there from now on.
    pub async fn serve_http(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router.clone();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        self.state
            .media_links
            .set_public_origin(format!("http://{addr}"));
        addr
    }

    /// Another server instance on the same database, with the same keyring and clock (as a
    /// second node behind a load balancer): its router and state (close its store when done).
    pub async fn second_instance(&self) -> (axum::Router, AppState) {
        self.second_instance_with(|_| {}).await
    }

    /// [`TestApp::second_instance`] with its configuration changed by `edit` (e.g. tighter
    /// limits once a test's tenants are set up).
    pub async fn second_instance_with(
        &self,
        edit: impl FnOnce(&mut Config),
    ) -> (axum::Router, AppState) {
        let mut config = (*self.state.config).clone();
        edit(&mut config);
        let deps = Deps {
            clock: self.clock.clone(),
            entropy: Arc::new(OsEntropy),
        };
        let app = Application::build(config, deps).await.unwrap();
        let state = app.state().clone();
        (Application::public_router(state.clone()), state)
    }
}

/// A server running on loopback ([`TestApp::running`]); told to stop when dropped (it finishes
/// once the test's [`TestApp`], which holds the application's queues, is gone too).
pub struct Running {
    pub public: SocketAddr,
    pub redirect: Option<SocketAddr>,
    /// The count of certificate reloads (TLS only).
    pub reloads: Option<tokio::sync::watch::Receiver<u64>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Sends a request to a router as if from `ip`, and reads the whole answer.
pub async fn send_to(router: &axum::Router, ip: IpAddr, mut req: Request<Body>) -> Resp {
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    // An event stream never ends: its status and headers are the answer (tests that read
    // events open the stream themselves).
    if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
    {
        return Resp {
            status,
            headers,
            body: Value::Null,
        };
    }
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
