//! WhatsApp channels and webhook deliveries: the shared webhook fixtures, a tenant with a
//! channel, and deliveries signed as Meta signs them.

use super::{Resp, TestApp};
use axum::body::Body;
use axum::http::{Request, header};
use confide_app::operator::store::channels::NewChannel;
use confide_core::audit::Actor;
use confide_core::email::Email;
use confide_core::ids::{ChannelId, TenantId};
use secrecy::SecretString;

/// The business number the webhook fixtures are addressed to.
pub const FIXTURE_PHONE_NUMBER_ID: &str = "106540352242922";

/// A delivery of `body` to `/webhooks/whatsapp/{channel}`, signed with `secret` as Meta does
/// (for tests that send it to a router of their choosing, e.g. a second instance).
pub fn signed_delivery(channel: &str, body: &[u8], secret: &str) -> Request<Body> {
    let sig = confide_whatsapp::signature::sign(body, secret.as_bytes());
    Request::post(format!("/webhooks/whatsapp/{channel}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-hub-signature-256", sig)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

/// A webhook fixture from the repository's `fixtures/webhooks`, byte for byte.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../fixtures/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub struct TestChannel {
    pub tenant: TenantId,
    pub channel: ChannelId,
    pub app_secret: String,
    pub verify_token: String,
}

impl TestApp {
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
            .operator_store()
            .create_tenant(name, &email, "$argon2id$unused", Actor::Cli)
            .await
            .unwrap()
            .tenant_id;
        self.channel_for(
            tenant,
            phone_number_id,
            &format!("secret-of-{name}"),
            graph_base_url,
        )
        .await
    }

    /// A channel of an existing tenant for `phone_number_id`, verified with `app_secret`. A
    /// `graph_base_url` on loopback (a meta-sim the test started) is listed in the server's egress
    /// guard, as `serve --demo` lists its own simulator; nothing else is.
    pub async fn channel_for(
        &self,
        tenant: TenantId,
        phone_number_id: &str,
        app_secret: &str,
        graph_base_url: &str,
    ) -> TestChannel {
        // Refused (and so not listed) unless it is a loopback origin.
        let _ = self.state.egress.list_local_simulator(graph_base_url);
        let verify_token = format!("verify-{app_secret}");
        let mut s = self.state.operator_store().scope(tenant).await.unwrap();
        let ch = s
            .create_channel(
                NewChannel {
                    phone_number_id: phone_number_id.to_string(),
                    waba_id: "102290129340398".into(),
                    display_phone_number: "15550783881".into(),
                    access_token: SecretString::from("EAAG-test-token"),
                    app_secret: SecretString::from(app_secret.to_string()),
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
            app_secret: app_secret.to_string(),
            verify_token,
        }
    }

    /// Delivers the named fixtures in order; each must be acknowledged (200).
    pub async fn deliver_fixtures(&self, ch: &TestChannel, names: &[&str]) {
        for name in names {
            let r = self.deliver(ch, &fixture(name)).await;
            assert_eq!(r.status, axum::http::StatusCode::OK, "{name}: {}", r.body);
        }
    }

    /// POSTs a delivery with the given signature header value (None: no header).
    pub async fn deliver_raw(
        &self,
        channel: ChannelId,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> Resp {
        let mut req = Request::post(format!("/webhooks/whatsapp/{channel}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        self.request(self.ip, req.body(Body::from(body)).unwrap())
            .await
    }

    /// POSTs a delivery signed with the channel's app secret, as Meta does.
    pub async fn deliver(&self, ch: &TestChannel, body: &[u8]) -> Resp {
        let sig = confide_whatsapp::signature::sign(body, ch.app_secret.as_bytes());
        self.deliver_raw(ch.channel, body.to_vec(), Some(sig)).await
    }

    /// Rows of a table for a tenant (a raw count, to prove nothing was stored).
    pub async fn count(&self, tenant: TenantId, table: &str) -> i64 {
        let mut s = self
            .state
            .operator_store()
            .read_scope(tenant)
            .await
            .unwrap();
        s.count_rows(table).await.unwrap()
    }
}
