//! A simulator with a standard number, users and templates; a webhook receiver that records what
//! it gets; small Graph client helpers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use confide_core::clock::ManualClock;
use hmac::{Hmac, KeyInit, Mac};
use meta_sim::{
    NumberConfig, SimConfig, SimHandle, TemplateCategory, TemplateConfig, TemplateStatus,
    UserConfig, WebhookConfig,
};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

pub const PNID: &str = "106540352242922";
pub const DISPLAY: &str = "15550783881";
pub const WABA: &str = "102290129340398";
pub const TOKEN: &str = "EAAGm0PX4ZCpsBAtest";
pub const SECRET: &str = "test-app-secret";
pub const VERIFY: &str = "verify-me";

pub const SHEENA: &str = "US.13491208655302741918";
pub const SHEENA_PHONE: &str = "16505551234";
pub const PABLO: &str = "BR.1502576394655843";
pub const PABLO_PHONE: &str = "5511987654321";

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn signature(&self) -> String {
        self.headers
            .get("x-hub-signature-256")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Checks the signature over the exact bytes, independently of the simulator's code.
    pub fn assert_signed(&self, secret: &str) {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(self.signature(), expected, "signature over the raw bytes");
        assert_eq!(
            self.headers.get("content-type").unwrap(),
            "application/json"
        );
    }

    pub fn changes(&self) -> Vec<Value> {
        let v = self.json();
        assert_eq!(v["object"], "whatsapp_business_account");
        v["entry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["changes"].as_array().unwrap().clone())
            .collect()
    }
}

#[derive(Clone)]
struct RxState {
    tx: mpsc::UnboundedSender<Received>,
    replies: Arc<Mutex<VecDeque<u16>>>,
}

/// A webhook receiver on 127.0.0.1:0.
pub struct Receiver {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Received>,
    replies: Arc<Mutex<VecDeque<u16>>>,
    got: Vec<Received>,
}

async fn on_post(State(s): State<RxState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let code = s.replies.lock().unwrap().pop_front().unwrap_or(200);
    let _ = s.tx.send(Received { headers, body });
    StatusCode::from_u16(code).unwrap()
}

async fn on_get(
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, String) {
    if q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && q.get("hub.verify_token").map(String::as_str) == Some(VERIFY)
    {
        (
            StatusCode::OK,
            q.get("hub.challenge").cloned().unwrap_or_default(),
        )
    } else {
        (StatusCode::FORBIDDEN, String::new())
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let replies = Arc::new(Mutex::new(VecDeque::new()));
        let app = Router::new()
            .route("/webhook", post(on_post).get(on_get))
            .with_state(RxState {
                tx,
                replies: replies.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/webhook"),
            rx,
            replies,
            got: Vec::new(),
        }
    }

    /// The next answers (then 200 again).
    pub fn reply_with(&self, codes: &[u16]) {
        self.replies.lock().unwrap().extend(codes.iter().copied());
    }

    /// Everything received so far (accumulates).
    pub fn received(&mut self) -> Vec<Received> {
        while let Ok(r) = self.rx.try_recv() {
            self.got.push(r);
        }
        self.got.clone()
    }

    /// All changes received, flattened in arrival order.
    pub fn changes(&mut self) -> Vec<Value> {
        self.received().iter().flat_map(Received::changes).collect()
    }

    /// All `statuses[]` items received, in arrival order, with their change value.
    pub fn statuses(&mut self) -> Vec<(Value, Value)> {
        self.changes()
            .into_iter()
            .filter(|c| c["field"] == "messages")
            .flat_map(|c| {
                let value = c["value"].clone();
                value["statuses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |s| (s, value.clone()))
            })
            .collect()
    }

    pub fn statuses_of(&mut self, wamid: &str) -> Vec<(Value, Value)> {
        self.statuses()
            .into_iter()
            .filter(|(s, _)| s["id"] == wamid)
            .collect()
    }
}

pub fn number(callback: Option<&str>) -> NumberConfig {
    let mut n = NumberConfig::new(PNID, DISPLAY, WABA, TOKEN, SECRET).with_verify_token(VERIFY);
    n.callback_url = callback.map(str::to_owned);
    n
}

pub fn base_config(seed: u64, callback: Option<&str>) -> SimConfig {
    SimConfig {
        seed,
        numbers: vec![number(callback)],
        users: vec![
            UserConfig::with_phone(SHEENA, "Sheena Nelson", SHEENA_PHONE),
            UserConfig::with_username(
                PABLO,
                "Pablo Morales",
                "pablomorales",
                Some(PABLO_PHONE.into()),
            ),
        ],
        templates: vec![
            TemplateConfig::new(
                WABA,
                "order_confirmation",
                "en_US",
                TemplateCategory::Utility,
                TemplateStatus::Approved,
                "Hi {{1}}, your order {{2}} is confirmed.",
            ),
            TemplateConfig::new(
                WABA,
                "winter_sale",
                "en_US",
                TemplateCategory::Marketing,
                TemplateStatus::Approved,
                "Everything {{1}} off this week!",
            ),
            TemplateConfig::new(
                WABA,
                "old_promo",
                "en_US",
                TemplateCategory::Marketing,
                TemplateStatus::Paused,
                "Old promo {{1}}",
            ),
            TemplateConfig::new(
                WABA,
                "login_code",
                "en_US",
                TemplateCategory::Authentication,
                TemplateStatus::Approved,
                "{{1}} is your verification code.",
            ),
        ],
        webhooks: WebhookConfig::fast(),
        ..SimConfig::default()
    }
}

pub struct Env {
    pub sim: SimHandle,
    pub clock: Arc<ManualClock>,
    pub rx: Receiver,
    pub http: reqwest::Client,
}

/// A simulator at 2026-01-01 with the standard setup and a receiver as the callback.
pub async fn env() -> Env {
    env_with(|_| {}).await
}

pub async fn env_with(tweak: impl FnOnce(&mut SimConfig)) -> Env {
    let rx = Receiver::start().await;
    let clock = Arc::new(ManualClock::at_epoch_2026());
    let mut cfg = base_config(7, Some(&rx.url));
    tweak(&mut cfg);
    let sim = meta_sim::Sim::start(cfg, clock.clone()).await.unwrap();
    Env {
        sim,
        clock,
        rx,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

impl Env {
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/v24.0/{path}", self.sim.base_url()))
            .json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .get(format!("{}/v24.0/{path}", self.sim.base_url()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// `POST /{PNID}/messages` with the right token.
    pub async fn send(&self, body: Value) -> (u16, Value) {
        self.post(&format!("{PNID}/messages"), Some(TOKEN), &body)
            .await
    }

    pub async fn send_text(&self, to: &str, text: &str) -> (u16, Value) {
        self.send(serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"body": text}
        }))
        .await
    }

    pub async fn send_template(
        &self,
        to: &str,
        name: &str,
        lang: &str,
        params: &[&str],
    ) -> (u16, Value) {
        let parameters: Vec<Value> = params
            .iter()
            .map(|p| serde_json::json!({"type": "text", "text": p}))
            .collect();
        self.send(serde_json::json!({
            "messaging_product": "whatsapp",
            "to": to,
            "type": "template",
            "template": {"name": name, "language": {"code": lang},
                         "components": [{"type": "body", "parameters": parameters}]}
        }))
        .await
    }

    /// Waits for every webhook to be acknowledged (bounded so a bug cannot hang the suite).
    pub async fn idle(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(20), self.sim.wait_idle())
            .await
            .expect("webhooks were not all acknowledged");
    }
}

/// Asserts Meta's error shape and returns `(code, subcode)`.
pub fn error_code(body: &Value) -> (i64, Option<i64>) {
    let e = &body["error"];
    assert_eq!(e["type"], "OAuthException", "{body}");
    assert!(e["message"].is_string());
    assert!(
        e["fbtrace_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    (e["code"].as_i64().unwrap(), e["error_subcode"].as_i64())
}
