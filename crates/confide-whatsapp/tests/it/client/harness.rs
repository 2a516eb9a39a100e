//! What the client tests share: the ids and token of the test number, meta-sim started with a
//! client whose egress guard lists it, small stand-in servers on 127.0.0.1 that count their
//! requests, and assertions on errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use confide_core::clock::ManualClock;
use confide_whatsapp::ErrorClass;
use confide_whatsapp::client::{GraphClient, GraphClientOptions, GraphError};
use confide_whatsapp::egress::{EgressPolicy, EgressRefused};
use confide_whatsapp::send::*;
use meta_sim::{
    NumberConfig, SimConfig, SimHandle, TemplateCategory, TemplateConfig, UserConfig, WebhookConfig,
};
use secrecy::SecretString;
use serde_json::Value;

pub(super) const PNID: &str = "106540352242922";
pub(super) const WABA: &str = "102290129340398";
pub(super) const TOKEN: &str = "EAAGm0PX4ZCpsBAclientsecret";
pub(super) const SHEENA: &str = "US.13491208655302741918";
pub(super) const SHEENA_PHONE: &str = "+16505551234";
/// A customer with a username and a withheld phone number: reachable only by BSUID.
pub(super) const PABLO: &str = "BR.1502576394655843";

// ---------------------------------------------------------------- meta-sim

pub(super) struct Sim {
    pub(super) sim: SimHandle,
    pub(super) clock: Arc<ManualClock>,
    pub(super) client: GraphClient,
}

pub(super) fn sim_config() -> SimConfig {
    let tpl = |name: &str, cat, body: &str| {
        TemplateConfig::new(
            WABA,
            name,
            "en_US",
            cat,
            meta_sim::TemplateStatus::Approved,
            body,
        )
    };
    SimConfig {
        seed: 11,
        numbers: vec![NumberConfig::new(
            PNID,
            "15550783881",
            WABA,
            TOKEN,
            "app-secret",
        )],
        users: vec![
            UserConfig::with_phone(SHEENA, "Sheena Nelson", "16505551234"),
            UserConfig::with_username(PABLO, "Pablo Morales", "pablomorales", None),
        ],
        templates: vec![
            tpl(
                "order_confirmation",
                TemplateCategory::Utility,
                "Hi {{1}}, your order {{2}} is confirmed.",
            ),
            tpl(
                "winter_sale",
                TemplateCategory::Marketing,
                "Everything {{1}} off this week!",
            ),
            tpl(
                "shipping_update",
                TemplateCategory::Utility,
                "Your parcel {{1}} is on its way.",
            ),
            tpl(
                "login_code",
                TemplateCategory::Authentication,
                "{{1}} is your verification code.",
            ),
        ],
        webhooks: WebhookConfig::fast(),
        ..SimConfig::default()
    }
}

pub(super) fn token() -> SecretString {
    SecretString::from(TOKEN)
}

/// An egress guard listing `origins`: meta-sim and the stand-ins live on 127.0.0.1, which the
/// guard refuses unless listed.
pub(super) fn listing(origins: &[&str]) -> Arc<EgressPolicy> {
    Arc::new(EgressPolicy::new(origins).unwrap())
}

/// Default options whose egress guard lists `origin`.
pub(super) fn opts_for(origin: &str) -> GraphClientOptions {
    GraphClientOptions {
        egress: listing(&[origin]),
        ..GraphClientOptions::default()
    }
}

pub(super) async fn sim_with(opts: GraphClientOptions) -> Sim {
    let clock = Arc::new(ManualClock::at_epoch_2026());
    let sim = meta_sim::Sim::start(sim_config(), clock.clone())
        .await
        .unwrap();
    let opts = GraphClientOptions {
        egress: listing(&[sim.base_url()]),
        ..opts
    };
    let client = GraphClient::new(sim.base_url(), token(), opts).unwrap();
    Sim { sim, clock, client }
}

pub(super) async fn sim() -> Sim {
    sim_with(GraphClientOptions::default()).await
}

pub(super) fn order_confirmation(to: Recipient) -> OutboundMessage {
    let t = Template::new("order_confirmation", "en_US")
        .unwrap()
        .with(TemplateComponent::body(vec![
            Parameter::text("Sheena"),
            Parameter::text("#1042"),
        ]))
        .unwrap();
    OutboundMessage::template(to, t).unwrap()
}

/// Asserts an `Api` error and returns `(http, code, subcode, class)`.
pub(super) fn api(e: &GraphError) -> (u16, i64, Option<i64>, ErrorClass) {
    match e {
        GraphError::Api {
            http_status,
            code,
            subcode,
            class,
            message,
            ..
        } => {
            assert!(!message.is_empty());
            (*http_status, *code, *subcode, *class)
        }
        other => panic!("expected a Graph API error, got {other:?}"),
    }
}

/// Neither rendering of an error may contain the token.
pub(super) fn assert_no_token(e: &GraphError) {
    for s in [format!("{e}"), format!("{e:?}")] {
        assert!(!s.contains(TOKEN), "token leaked: {s}");
        assert!(!s.contains("clientsecret"), "token leaked: {s}");
    }
}

// ---------------------------------------------------------------- stand-ins

/// A stand-in server on 127.0.0.1:0 that counts every request it gets.
pub(super) struct Stub {
    pub(super) url: String,
    pub(super) hits: Arc<AtomicUsize>,
}

impl Stub {
    pub(super) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub(super) async fn stub<F>(handler: F) -> Stub
where
    F: Fn(Method, Uri, HeaderMap) -> Response + Clone + Send + Sync + 'static,
{
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let handler = handler.clone();
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            handler(method, uri, headers)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Stub {
        url: format!("http://{addr}"),
        hits,
    }
}

pub(super) fn json_response(status: u16, v: &Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

pub(super) fn client_for(base: &str) -> GraphClient {
    GraphClient::new(base, token(), opts_for(base)).unwrap()
}

pub(super) fn text_to_sheena() -> OutboundMessage {
    OutboundMessage::text(Recipient::bsuid(SHEENA).unwrap(), "hi", false).unwrap()
}

pub(super) fn refused(e: &GraphError) -> &EgressRefused {
    match e {
        GraphError::EgressRefused(r) => r,
        other => panic!("expected an egress refusal, got {other:?}"),
    }
}

/// What the Graph client's send takes: the send gate's permit (an agent reply inside the
/// window) bound to a queued message.
pub(super) fn dispatch() -> confide_core::send_gate::Dispatch {
    use confide_core::permissions::BuiltinRole;
    use confide_core::send_gate::{
        ChannelHealth, ConsentLedger, Content, SendFacts, SendPath, SendRequest, decide,
    };
    let id = |n: u8| format!("00000000-0000-7000-8000-0000000000{n:02}");
    let request = SendRequest {
        tenant: id(1).parse().unwrap(),
        channel: id(2).parse().unwrap(),
        contact: id(3).parse().unwrap(),
        conversation: None,
        path: SendPath::AgentReply,
        content: Content::Text,
    };
    let permissions = BuiltinRole::Agent.permissions();
    let ledger = ConsentLedger::new();
    let facts = SendFacts {
        permissions: &permissions,
        channel: ChannelHealth::Active,
        template: None,
        consent: &ledger,
        last_inbound_at: Some(0),
        reach: confide_core::send_gate::Reach::UNLIMITED,
    };
    decide(&request, &facts, 1)
        .unwrap()
        .dispatch(id(4).parse().unwrap())
}
