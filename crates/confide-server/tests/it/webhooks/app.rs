//! An in-process server on a fresh database (SQLite; PostgreSQL when CONFIDE_TEST_POSTGRES_URL
//! is set and the test asks for it), driven through its router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use confide_core::audit::Actor;
use confide_core::clock::SystemClock;
use confide_core::email::Email;
use confide_core::entropy::OsEntropy;
use confide_core::ids::{ChannelId, TenantId};
use confide_crypto::keyring::Keyring;
use confide_server::Config;
use confide_server::startup::{Application, Deps};
use confide_server::state::AppState;
use confide_store::channels::NewChannel;
use http_body_util::BodyExt;
use secrecy::SecretString;
use std::sync::Arc;
use tower::ServiceExt;

pub const FIXTURE_PHONE_NUMBER_ID: &str = "106540352242922";

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    _dir: tempfile::TempDir,
    /// PostgreSQL: (admin url, database) to drop at the end.
    pg: Option<(String, String)>,
}

pub struct TestChannel {
    pub tenant: TenantId,
    pub channel: ChannelId,
    pub app_secret: String,
    pub verify_token: String,
}

async fn admin_exec(url: &str, sql: &str) {
    use sqlx::{ConnectOptions, Connection, Executor};
    use std::str::FromStr;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::any::AnyConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
        .await
        .unwrap();
    conn.close().await.unwrap();
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../../shared/fixtures/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/confide.db", dir.path().display());
        Self::open(url, dir, None).await
    }

    /// A fresh PostgreSQL database, when CONFIDE_TEST_POSTGRES_URL names a server.
    pub async fn postgres() -> Option<TestApp> {
        let Ok(admin) = std::env::var("CONFIDE_TEST_POSTGRES_URL") else {
            eprintln!("skipped: set CONFIDE_TEST_POSTGRES_URL to run the PostgreSQL webhook suite");
            return None;
        };
        let name = format!(
            "confide_wh_{}",
            hex::encode(confide_core::entropy::random_array::<6>(&OsEntropy))
        );
        admin_exec(&admin, &format!("CREATE DATABASE {name}")).await;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let url = format!("{base}/{name}");
        Some(Self::open(url, tempfile::tempdir().unwrap(), Some((admin, name))).await)
    }

    async fn open(
        database_url: String,
        dir: tempfile::TempDir,
        pg: Option<(String, String)>,
    ) -> TestApp {
        let ring = Keyring::generate(&SystemClock, &OsEntropy);
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            admin_listen: "127.0.0.1:0".parse().unwrap(),
            database_url,
            keyring_path: dir.path().join("keys/keyring.json"),
            media_url: format!("file://{}/media", dir.path().display()),
            keyring: Some(SecretString::from(ring.to_json().unwrap().to_string())),
            ..Config::default()
        };
        config.password.m_cost_kib = 64;
        config.password.t_cost = 1;
        let deps = Deps {
            clock: Arc::new(SystemClock),
            entropy: Arc::new(OsEntropy),
        };
        let app = Application::build(config, deps).await.unwrap();
        let state = app.state().clone();
        let router = Application::public_router(state.clone());
        TestApp {
            state,
            router,
            _dir: dir,
            pg,
        }
    }

    /// Closes the database (and drops a PostgreSQL test database).
    pub async fn finish(self) {
        self.state.store.close().await;
        if let Some((admin, name)) = &self.pg {
            admin_exec(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }

    pub async fn tenant_with_channel(&self, name: &str, phone_number_id: &str) -> TestChannel {
        self.tenant_with_channel_at(name, phone_number_id, "http://127.0.0.1:9")
            .await
    }

    /// A tenant whose channel talks to the Graph API at `graph_base_url` (a meta-sim).
    pub async fn tenant_with_channel_at(
        &self,
        name: &str,
        phone_number_id: &str,
        graph_base_url: &str,
    ) -> TestChannel {
        let email = Email::parse(&format!(
            "owner-{phone_number_id}@{}.test",
            name.to_lowercase()
        ))
        .unwrap();
        let tenant = self
            .state
            .store
            .create_tenant(name, &email, "$argon2id$unused", Actor::Cli)
            .await
            .unwrap()
            .tenant_id;
        let app_secret = format!("secret-of-{name}");
        let verify_token = format!("verify-{name}");
        let mut s = self.state.store.scope(tenant).await.unwrap();
        let ch = s
            .create_channel(
                NewChannel {
                    phone_number_id: phone_number_id.to_string(),
                    waba_id: "102290129340398".into(),
                    display_phone_number: "15550783881".into(),
                    access_token: SecretString::from("EAAG-test-token"),
                    app_secret: SecretString::from(app_secret.clone()),
                    verify_token: SecretString::from(verify_token.clone()),
                    graph_base_url: graph_base_url.into(),
                },
                Actor::Cli,
            )
            .await
            .unwrap();
        s.commit().await.unwrap();
        TestChannel {
            tenant,
            channel: ch.id,
            app_secret,
            verify_token,
        }
    }

    /// POSTs a delivery with the given signature header value (None: no header).
    pub async fn deliver_raw(
        &self,
        channel: ChannelId,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = Request::post(format!("/webhooks/whatsapp/{channel}"))
            .header("content-type", "application/json");
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// POSTs a delivery signed with the channel's app secret, as Meta does.
    pub async fn deliver(&self, ch: &TestChannel, body: &[u8]) -> (StatusCode, serde_json::Value) {
        let sig = confide_whatsapp::signature::sign(body, ch.app_secret.as_bytes());
        self.deliver_raw(ch.channel, body.to_vec(), Some(sig)).await
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        });
        (status, json)
    }

    /// Rows of a table for a tenant (a raw count, to prove nothing was stored).
    pub async fn count(&self, tenant: TenantId, table: &str) -> i64 {
        let mut s = self.state.store.read_scope(tenant).await.unwrap();
        s.count_rows(table).await.unwrap()
    }
}
