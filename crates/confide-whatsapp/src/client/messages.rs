//! Sending: `POST /{PHONE_NUMBER_ID}/messages` for a message or a mark-read.

use confide_core::send_gate::Dispatch;
use reqwest::Method;

use super::error::GraphError;
use super::graph_client::{GraphClient, check_id};
use crate::send::{MarkRead, OutboundMessage, SendResponse};

impl GraphClient {
    /// `POST /{PHONE_NUMBER_ID}/messages`: the message is *accepted* (its outcome comes later as
    /// status webhooks). The body is validated first; the answer must carry a wamid.
    ///
    /// Only a [`Dispatch`] opens this door: a permit from the send gate bound to the outbox
    /// entry being sent. Without one, nothing compiles:
    ///
    /// ```compile_fail,E0061
    /// # async fn f(client: &confide_whatsapp::client::GraphClient, m: &confide_whatsapp::send::OutboundMessage) {
    /// client.send("106540352242922", m).await;
    /// # }
    /// ```
    pub async fn send(
        &self,
        _dispatch: &Dispatch,
        phone_number_id: &str,
        message: &OutboundMessage,
    ) -> Result<SendResponse, GraphError> {
        check_id("phone_number_id", phone_number_id)?;
        message.validate()?;
        let url = self.endpoint(&[phone_number_id, "messages"])?;
        let resp: SendResponse = self
            .call(self.request(Method::POST, url)?.json(message))
            .await?;
        if resp.wamid().is_none_or(str::is_empty) {
            return Err(GraphError::Decode(
                "the send answer carries no message id".into(),
            ));
        }
        Ok(resp)
    }

    /// Marks an inbound message (and those before it) as read.
    pub async fn mark_read(&self, phone_number_id: &str, wamid: &str) -> Result<(), GraphError> {
        check_id("phone_number_id", phone_number_id)?;
        let body = MarkRead::new(wamid)?;
        let url = self.endpoint(&[phone_number_id, "messages"])?;
        self.expect_success(self.request(Method::POST, url)?.json(&body))
            .await
    }
}
