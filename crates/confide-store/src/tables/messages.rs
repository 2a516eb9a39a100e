//! `messages`: a message, stored once per `(tenant, wamid)` (Meta's retries and duplicates insert
//! nothing), and its current status, which only ever moves forward.

use super::{AnyQuery, Ph, TableRow, statement};
use crate::backend::Backend;

/// A message row, its body already sealed.
pub(crate) struct MessageRow<'a> {
    pub id: String,
    pub conversation: String,
    pub direction: &'static str,
    pub wamid: Option<&'a str>,
    pub kind: &'a str,
    pub body_ct: Vec<u8>,
    pub status: &'a str,
    pub at: i64,
}

impl TableRow for MessageRow<'_> {
    const TABLE: &'static str = "messages";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "message_id",
        "conversation_id",
        "direction",
        "wamid",
        "kind",
        "body_ct",
        "status",
        "created_at",
    ];
    const ON_CONFLICT: &'static str = "ON CONFLICT (tenant_id, wamid) DO NOTHING";

    fn bind<'q>(&self, q: AnyQuery<'q>, tenant: &str) -> AnyQuery<'q> {
        q.bind(tenant.to_string())
            .bind(self.id.clone())
            .bind(self.conversation.clone())
            .bind(self.direction.to_string())
            .bind(self.wamid.map(str::to_string))
            .bind(self.kind.to_string())
            .bind(self.body_ct.clone())
            .bind(self.status.to_string())
            .bind(self.at)
    }
}

/// Moves messages' statuses forward: `(wamid, status, rank)`, applied only where the stored rank
/// is lower (a late `delivered` never replaces `read`). One entry per wamid.
pub(crate) fn advance_status<'q>(
    backend: Backend,
    tenant: &str,
    moves: &[(&str, &str, i64)],
) -> AnyQuery<'q> {
    let mut ph = Ph::new(backend);
    let values = ph.rows(moves.len(), 3);
    let sql = format!(
        "UPDATE messages SET status = v.column2, status_rank = v.column3 FROM (VALUES {values}) AS v \
         WHERE messages.tenant_id = {} AND messages.wamid = v.column1 AND messages.status_rank < v.column3",
        ph.one()
    );
    moves
        .iter()
        .fold(statement(sql, moves.len()), |q, (wamid, status, rank)| {
            q.bind(wamid.to_string())
                .bind(status.to_string())
                .bind(*rank)
        })
        .bind(tenant.to_string())
}
