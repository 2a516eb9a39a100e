//! Telling other instances that a channel changed. Webhook routing caches channels (with their
//! secrets) for a few seconds per instance; when a channel is updated, rotated or deleted, the
//! transaction that changes it also sends a PostgreSQL notification (delivered at commit, so
//! never for a change that rolled back), and every instance's listener drops its cached entry at
//! once. On SQLite there is one instance, which invalidates its own cache directly. The same
//! mechanism carries inbox events (`GET /api/v1/events`) to the other instances.

use crate::backend::Backend;
use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use confide_core::ids::ChannelId;

/// The PostgreSQL notification channel.
pub(crate) const CHANNEL_CHANGES: &str = "confide_channel_changes";

impl Scope<'_> {
    /// Announces, at commit, that `id` changed (no-op on SQLite).
    pub(crate) async fn notify_channel_changed(&mut self, id: ChannelId) -> Result<(), StoreError> {
        if self.store.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL_CHANGES)
                .bind(id.to_string())
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}

/// A subscription to channel changes made by any instance.
pub struct ChannelChanges {
    listener: sqlx::postgres::PgListener,
}

/// What a [`ChannelChanges`] heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelChange {
    /// This channel changed.
    One(ChannelId),
    /// Something changed that does not name a channel clearly: forget them all.
    All,
}

impl ChannelChanges {
    /// The next change. An error means the connection was lost: notifications may have been
    /// missed, so the caller forgets every cached channel and subscribes again.
    pub async fn recv(&mut self) -> Result<ChannelChange, StoreError> {
        let n = self.listener.try_recv().await?;
        Ok(match n {
            Some(n) => n
                .payload()
                .parse()
                .map(ChannelChange::One)
                .unwrap_or(ChannelChange::All),
            // The connection dropped and was re-established: anything may have been missed.
            None => ChannelChange::All,
        })
    }
}

impl Store {
    /// Subscribes to channel changes (`None` on SQLite, where there is one instance).
    pub async fn channel_changes(&self) -> Result<Option<ChannelChanges>, StoreError> {
        let Some(url) = self.listen_url() else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANNEL_CHANGES).await?;
        Ok(Some(ChannelChanges { listener }))
    }
}

/// The PostgreSQL notification channel of inbox events (`GET /api/v1/events` across instances).
const CHANNEL_EVENTS: &str = "confide_events";

/// The largest payload PostgreSQL takes in one notification is 8,000 bytes; callers keep under
/// this.
pub const MAX_EVENT_PAYLOAD: usize = 7_000;

/// A subscription to inbox events published by any instance (payloads as sent).
pub struct EventNotifications {
    listener: sqlx::postgres::PgListener,
}

impl EventNotifications {
    /// The next payload; `None` when the connection dropped and was re-established (events may
    /// have been missed meanwhile). An error means the connection is gone: subscribe again.
    pub async fn recv(&mut self) -> Result<Option<String>, StoreError> {
        Ok(self
            .listener
            .try_recv()
            .await?
            .map(|n| n.payload().to_string()))
    }
}

impl Store {
    /// Publishes inbox events (ids only, at most [`MAX_EVENT_PAYLOAD`] bytes) to every instance
    /// listening; no-op on SQLite, where there is one instance.
    pub async fn notify_events(&self, payload: &str) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL_EVENTS)
                .bind(payload.to_string())
                .execute(self.write_pool())
                .await?;
        }
        Ok(())
    }

    /// Subscribes to inbox events of every instance (`None` on SQLite).
    pub async fn event_notifications(&self) -> Result<Option<EventNotifications>, StoreError> {
        let Some(url) = self.listen_url() else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANNEL_EVENTS).await?;
        Ok(Some(EventNotifications { listener }))
    }
}
