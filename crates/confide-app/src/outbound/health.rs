//! Channel health: whether Graph accepts a channel's token, in one place.
//!
//! - **Checked** in the background when a channel is created or its token changes: `GET
//!   /{phone_number_id}` with the token ([`ChannelHealthMonitor::check_in_background`]).
//! - **Observed** during use: every Graph answer a worker gets for a channel goes through
//!   [`ChannelHealthMonitor::observe`]; 190 / 0 (token), 10 / 200–299 (permission) and
//!   368 / 131031 (blocked account) stop the channel.
//!
//! A stopped channel makes no Graph call with its token (the media fetcher skips it, and the
//! send gate refuses its sends with `channel_disabled`, see `Channel::send_stop`) until an
//! administrator replaces the token, which resets its health to `unverified` and checks it
//! again. Stopping raises a `channel_stopped` security event and is audited.

use crate::ingest::directory::ChannelDirectory;
use crate::metrics::{Metrics, security_event};
use confide_core::ids::{ChannelId, TenantId};
use confide_store::channels::ChannelHealth;
use confide_store::{Store, StoreError};
use confide_whatsapp::client::GraphError;
use confide_whatsapp::egress::EgressPolicy;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// What a Graph answer says of the channel itself: its new health, the Graph code behind it and a
/// plain explanation; `None` when the answer says nothing about the channel (a transport error, a
/// per-message error, a server error).
pub fn judge(err: &GraphError) -> Option<(ChannelHealth, Option<i64>, String)> {
    match err {
        GraphError::Api { code, .. } if confide_core::send_gate::stops_channel(*code) => {
            let health = if matches!(code, 368 | 131031) {
                ChannelHealth::Blocked
            } else {
                ChannelHealth::TokenInvalid
            };
            let why = confide_whatsapp::errors::describe(*code)
                .unwrap_or("Meta refused the channel's requests");
            Some((health, Some(*code), format!("Meta error {code}: {why}")))
        }
        GraphError::Api {
            code: code @ (4 | 80007 | 130429),
            ..
        } => Some((
            ChannelHealth::RateLimited,
            Some(*code),
            format!(
                "Meta error {code}: {}",
                confide_whatsapp::errors::describe(*code).unwrap_or("rate limited")
            ),
        )),
        // A 401 or 403 with no Graph body (a proxy in front of Graph) still means "not this token".
        GraphError::Status {
            http_status: s @ (401 | 403),
            ..
        } => Some((
            ChannelHealth::TokenInvalid,
            None,
            format!("Graph answered HTTP {s} to the channel's token"),
        )),
        _ => None,
    }
}

/// Checks and records channel health. Cheap to clone.
#[derive(Clone)]
pub struct ChannelHealthMonitor {
    store: Store,
    egress: Arc<EgressPolicy>,
    channels: Arc<ChannelDirectory>,
    metrics: Arc<Metrics>,
    /// Background checks still running, and a signal when the count drops to zero.
    running: Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>,
}

impl ChannelHealthMonitor {
    pub fn new(
        store: Store,
        egress: Arc<EgressPolicy>,
        channels: Arc<ChannelDirectory>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            egress,
            channels,
            metrics,
            running: Arc::default(),
        }
    }

    /// Waits until no background check is running (for tests, and for a graceful stop).
    pub async fn idle(&self) {
        use std::sync::atomic::Ordering;
        loop {
            let notified = self.running.1.notified();
            if self.running.0.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Starts [`Self::check`] without waiting for it (a slow Graph must not slow the API).
    pub fn check_in_background(&self, tenant: TenantId, channel: ChannelId) {
        use std::sync::atomic::Ordering;
        let this = self.clone();
        self.running.0.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            if let Err(e) = this.check(tenant, channel).await {
                tracing::warn!(%tenant, %channel, error = %e, "channel health check failed");
            }
            if this.running.0.fetch_sub(1, Ordering::SeqCst) == 1 {
                this.running.1.notify_waiters();
            }
        });
    }

    /// Asks Graph for the channel's number with its token and records the answer. A transport
    /// failure leaves the health as it was (with the reason in its detail). Returns the health
    /// now recorded, or `None` if the channel is gone or its token changed during the check (the
    /// newer token's own check decides).
    pub async fn check(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<Option<ChannelHealth>, StoreError> {
        let (info, token) = {
            let mut s = self.store.read_scope(tenant).await?;
            let info = match s.get_channel(channel).await {
                Ok(c) => c,
                Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e),
            };
            let token = s.channel_secrets(channel).await?.access_token;
            (info, token)
        };
        let answer = match crate::outbound::graph::graph_client(
            &self.egress,
            &info.graph_base_url,
            token.clone(),
        ) {
            Ok(client) => client.phone_number(&info.phone_number_id).await.map(|_| ()),
            Err(e) => Err(GraphError::Disallowed(e.to_string())),
        };
        let (health, code, detail) = match &answer {
            Ok(()) => (ChannelHealth::Ok, None, None),
            Err(e) => match judge(e) {
                Some((h, code, why)) => (h, code, Some(why)),
                None => {
                    tracing::info!(%tenant, %channel, error = %e, "channel token check could not reach Graph");
                    let now =
                        ChannelHealth::parse(&info.health).unwrap_or(ChannelHealth::Unverified);
                    (
                        now,
                        info.health_code,
                        Some(format!("could not check with Graph: {e}")),
                    )
                }
            },
        };
        // The token may have changed while Graph answered; the new one has its own check.
        let mut s = self.store.scope(tenant).await?;
        match s.channel_secrets(channel).await {
            Ok(now) if now.access_token.expose_secret() == token.expose_secret() => {}
            Ok(_) | Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        }
        let previous = s
            .set_channel_health(channel, health, code, detail.as_deref())
            .await?;
        s.commit().await?;
        self.after_change(tenant, channel, previous, health);
        Ok(Some(health))
    }

    /// Records what a Graph answer during use says of the channel, if anything. Returns the
    /// health recorded, if it was.
    pub async fn observe(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        err: &GraphError,
    ) -> Result<Option<ChannelHealth>, StoreError> {
        let Some((health, code, detail)) = judge(err) else {
            return Ok(None);
        };
        let mut s = self.store.scope(tenant).await?;
        let previous = match s
            .set_channel_health(channel, health, code, Some(&detail))
            .await
        {
            Ok(p) => p,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        s.commit().await?;
        self.after_change(tenant, channel, previous, health);
        Ok(Some(health))
    }

    /// Records that a Graph call with the channel's token just worked, when its health said
    /// otherwise (a rate limit that passed, a check that could not reach Graph).
    pub async fn observe_success(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        recorded: ChannelHealth,
    ) -> Result<(), StoreError> {
        if recorded == ChannelHealth::Ok {
            return Ok(());
        }
        let mut s = self.store.scope(tenant).await?;
        match s
            .set_channel_health(channel, ChannelHealth::Ok, None, None)
            .await
        {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
        s.commit().await?;
        self.channels.invalidate(channel);
        Ok(())
    }

    fn after_change(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        previous: Option<ChannelHealth>,
        health: ChannelHealth,
    ) {
        self.channels.invalidate(channel);
        let was_sending = previous.is_none_or(|p| p.allows_sending());
        if was_sending && !health.allows_sending() {
            security_event(
                &self.metrics,
                "channel_stopped",
                &tenant.to_string(),
                &format!("channel:{channel} health:{}", health.as_str()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_whatsapp::errors::ErrorClass;

    fn api(code: i64) -> GraphError {
        GraphError::Api {
            http_status: 400,
            code,
            subcode: None,
            message: "x".into(),
            details: None,
            fbtrace_id: None,
            class: ErrorClass::Permanent,
        }
    }

    #[test]
    fn token_permission_and_block_codes_stop_the_channel_and_others_do_not() {
        for code in [0, 190, 10, 200, 250, 299] {
            let (h, c, _) = judge(&api(code)).unwrap();
            assert_eq!((h, c), (ChannelHealth::TokenInvalid, Some(code)), "{code}");
        }
        for code in [368, 131031] {
            let (h, c, _) = judge(&api(code)).unwrap();
            assert_eq!((h, c), (ChannelHealth::Blocked, Some(code)), "{code}");
        }
        for code in [4, 130429] {
            assert_eq!(judge(&api(code)).unwrap().0, ChannelHealth::RateLimited);
        }
        for code in [100, 131047, 131026, 131000, 131056] {
            assert!(judge(&api(code)).is_none(), "{code}");
        }
        assert!(
            judge(&GraphError::Transport {
                kind: confide_whatsapp::client::TransportKind::Connect,
                message: "refused".into()
            })
            .is_none()
        );
    }
}
