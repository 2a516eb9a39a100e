//! `message_statuses`: each delivery status Meta reports, recorded once per `(wamid, status)`.

use super::{AnyQuery, TableRow};

/// A status report to record.
pub(crate) struct StatusRecord<'a> {
    pub wamid: &'a str,
    pub status: &'a str,
    pub at: i64,
    /// The report's details as JSON text.
    pub details: Option<&'a str>,
}

impl TableRow for StatusRecord<'_> {
    const TABLE: &'static str = "message_statuses";
    const COLUMNS: &'static [&'static str] = &["tenant_id", "wamid", "status", "at", "details"];
    const ON_CONFLICT: &'static str = "ON CONFLICT DO NOTHING";

    fn bind<'q>(&self, q: AnyQuery<'q>, tenant: &str) -> AnyQuery<'q> {
        q.bind(tenant.to_string())
            .bind(self.wamid.to_string())
            .bind(self.status.to_string())
            .bind(self.at)
            .bind(self.details.map(str::to_string))
    }
}
