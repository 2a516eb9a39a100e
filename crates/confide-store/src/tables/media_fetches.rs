//! `media_fetches`: inbound media queued for the fetcher, once per message.

use super::{AnyQuery, TableRow};

/// A media object to fetch, due at once.
pub(crate) struct MediaFetchRow<'a> {
    pub message: String,
    pub channel: String,
    pub meta_media_id: &'a str,
    pub sha256: Option<&'a str>,
    pub mime_type: Option<&'a str>,
    /// Queued, and first due.
    pub at: i64,
}

impl TableRow for MediaFetchRow<'_> {
    const TABLE: &'static str = "media_fetches";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "message_id",
        "channel_id",
        "meta_media_id",
        "sha256",
        "mime_type",
        "status",
        "attempts",
        "next_attempt_at",
    ];
    const ON_CONFLICT: &'static str = "ON CONFLICT DO NOTHING";

    fn bind<'q>(&self, q: AnyQuery<'q>, tenant: &str) -> AnyQuery<'q> {
        q.bind(tenant.to_string())
            .bind(self.message.clone())
            .bind(self.channel.clone())
            .bind(self.meta_media_id.to_string())
            .bind(self.sha256.map(str::to_string))
            .bind(self.mime_type.map(str::to_string))
            .bind("pending".to_string())
            .bind(0i64)
            .bind(self.at)
    }
}
