//! `conversations`: opening one (at most one is open per contact and channel: a unique index, so
//! a second open row is not inserted), and moving its last-message and last-inbound times
//! forward, never back.

use super::{AnyQuery, Ph, TableRow, statement};
use crate::backend::Backend;
use confide_core::ids::ConversationId;

/// An open conversation to insert.
pub(crate) struct ConversationRow {
    pub id: String,
    pub contact: String,
    pub channel: String,
    /// Created, and its last message time until one is stored.
    pub at: i64,
}

impl TableRow for ConversationRow {
    const TABLE: &'static str = "conversations";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "conversation_id",
        "contact_id",
        "channel_id",
        "status",
        "last_message_at",
        "created_at",
    ];
    const ON_CONFLICT: &'static str = "ON CONFLICT DO NOTHING";

    fn bind<'q>(&self, q: AnyQuery<'q>, tenant: &str) -> AnyQuery<'q> {
        q.bind(tenant.to_string())
            .bind(self.id.clone())
            .bind(self.contact.clone())
            .bind(self.channel.clone())
            .bind("open".to_string())
            .bind(self.at)
            .bind(self.at)
    }
}

/// Moves each conversation's times forward: `(conversation, last message at, last inbound at)`,
/// a `None` inbound time leaving it as it is.
pub(crate) fn touch<'q>(
    backend: Backend,
    tenant: &str,
    touches: &[(ConversationId, i64, Option<i64>)],
) -> AnyQuery<'q> {
    let mut ph = Ph::new(backend);
    let values = ph.rows(touches.len(), 3);
    let sql = format!(
        "UPDATE conversations SET \
         last_message_at = CASE WHEN last_message_at > v.column2 THEN last_message_at ELSE v.column2 END, \
         last_inbound_at = CASE WHEN v.column3 IS NULL THEN last_inbound_at \
                                WHEN last_inbound_at > v.column3 THEN last_inbound_at ELSE v.column3 END \
         FROM (VALUES {values}) AS v WHERE conversations.tenant_id = {} AND conversations.conversation_id = v.column1",
        ph.one()
    );
    touches
        .iter()
        .fold(statement(sql, touches.len()), |q, (conv, last, inbound)| {
            q.bind(conv.to_string()).bind(*last).bind(*inbound)
        })
        .bind(tenant.to_string())
}
