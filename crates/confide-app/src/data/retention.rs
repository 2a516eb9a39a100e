//! Retention (claim C14): per-tenant periods for messages and for security records (ended
//! sessions), applied by a scheduled job. Each tenant is purged in its own transaction under the
//! job's lease (one instance at a time on PostgreSQL), audited as `retention.purged` with the
//! counts, and the purged messages' media objects are deleted from the media store.

use crate::data::erasure::erase_media;
use crate::error::AppError;
use crate::media::store::MediaStore;
use crate::runtime::App;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::clock::SharedClock;
use confide_core::ids::TenantId;
use confide_store::Store;
use confide_store::erasure::Purged;
use confide_store::import::DataSettings;
use std::time::Duration;
use tokio::sync::watch;

const DAY_MICROS: i64 = 86_400 * 1_000_000;
/// How often the job runs.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// One pass of the job at `now` (Unix micros): every tenant with a retention period.
pub async fn run_once(
    store: &Store,
    media: &MediaStore,
    now: i64,
) -> Result<Vec<(TenantId, Purged)>, AppError> {
    let mut done = Vec::new();
    for (tenant, settings) in store.tenants_with_retention().await? {
        if let Some(p) = purge_tenant(store, media, tenant, &settings, now).await? {
            done.push((tenant, p));
        }
    }
    Ok(done)
}

async fn purge_tenant(
    store: &Store,
    media: &MediaStore,
    tenant: TenantId,
    settings: &DataSettings,
    now: i64,
) -> Result<Option<Purged>, AppError> {
    let cutoff = |days: Option<i64>| days.map(|d| now.saturating_sub(d.saturating_mul(DAY_MICROS)));
    let mut s = store.scope(tenant).await?;
    if !s.retention_lease().await? {
        return Ok(None);
    }
    let purged = s
        .purge(
            cutoff(settings.retention_messages_days),
            cutoff(settings.retention_security_days),
        )
        .await?;
    if purged.messages + purged.statuses + purged.sessions > 0 {
        s.audit(
            &AuditEvent::new(
                Actor::System,
                "retention.purged",
                format!("tenant:{tenant}"),
            )
            .with_details(serde_json::json!({
                "messages": purged.messages,
                "statuses": purged.statuses,
                "sessions": purged.sessions,
                "media": purged.media.len(),
                "messages_days": settings.retention_messages_days,
                "security_days": settings.retention_security_days,
            })),
        )
        .await?;
    }
    s.commit().await?;
    erase_media(media, &purged.media).await;
    Ok(Some(purged))
}

/// The scheduled job: a pass every [`INTERVAL`] until `stop`.
pub async fn worker(
    store: Store,
    media: MediaStore,
    clock: SharedClock,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match run_once(&store, &media, clock.now_micros()).await {
            Ok(done) => {
                let messages: u64 = done.iter().map(|(_, p)| p.messages).sum();
                if messages > 0 {
                    tracing::info!(
                        tenants = done.len(),
                        messages,
                        "retention purged expired data"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e.message, "retention pass failed; retrying at the next")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = stop.changed() => return,
        }
    }
}

impl App {
    /// One pass of the retention job now (tests, and the operator).
    pub async fn run_retention(&self) -> Result<Vec<(TenantId, Purged)>, AppError> {
        run_once(&self.store, &self.media, self.clock.now_micros()).await
    }

    /// Sets a tenant's data settings (the local operator's command and tests); audited as
    /// `tenant.data_settings_changed`.
    pub async fn set_data_settings(
        &self,
        tenant: TenantId,
        settings: DataSettings,
    ) -> Result<(), AppError> {
        set_data_settings(&self.store, tenant, settings).await
    }
}

/// Sets a tenant's data settings, audited (see [`App::set_data_settings`]).
pub async fn set_data_settings(
    store: &Store,
    tenant: TenantId,
    settings: DataSettings,
) -> Result<(), AppError> {
    let mut s = store.scope(tenant).await?;
    s.set_data_settings(&settings).await?;
    s.audit(
        &AuditEvent::new(
            Actor::Cli,
            "tenant.data_settings_changed",
            format!("tenant:{tenant}"),
        )
        .with_details(serde_json::json!({
            "default_region": settings.default_region,
            "retention_messages_days": settings.retention_messages_days,
            "retention_security_days": settings.retention_security_days,
        })),
    )
    .await?;
    s.commit().await?;
    Ok(())
}
