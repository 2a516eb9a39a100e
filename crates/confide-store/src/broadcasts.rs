//! Broadcasts: a template to an audience on a channel. The sends themselves are outbox entries
//! tagged with the broadcast; this module keeps the broadcast's row (sealed audience, counts of
//! refusals) and moves its queued sends when it is paused, resumed or cancelled.

use crate::error::StoreError;
use crate::scope::Scope;
use confide_core::ids::{BroadcastId, ChannelId};
use sqlx::Row;
use std::collections::BTreeMap;

/// A broadcast to record (its sends are queued separately, tagged with its id).
#[derive(Debug, Clone)]
pub struct NewBroadcast {
    pub channel: ChannelId,
    pub template: String,
    pub language: String,
    pub params: Vec<String>,
    pub purpose: String,
    /// `{"label": ...}` or `{"contact_ids": [...]}` (sealed).
    pub audience: serde_json::Value,
    pub recipients: i64,
    pub refused_no_consent: i64,
    pub refused_other: i64,
    pub created_by: String,
}

/// A broadcast with where its messages stand.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    pub id: BroadcastId,
    pub channel: ChannelId,
    pub template: String,
    pub language: String,
    pub params: Vec<String>,
    pub purpose: String,
    pub audience: serde_json::Value,
    /// `running`, `paused` or `cancelled`.
    pub state: String,
    pub recipients: i64,
    pub refused_no_consent: i64,
    pub refused_other: i64,
    pub created_by: String,
    pub created_at: i64,
    /// Its messages by status (`queued`, `sent`, `delivered`, `read`, `failed`, ...).
    pub counts: BTreeMap<String, i64>,
}

impl<'s> Scope<'s> {
    /// The tenant's broadcasts.
    pub fn broadcasts(&mut self) -> Broadcasts<'_, 's> {
        Broadcasts { scope: self }
    }
}

/// What can be done to the tenant's broadcasts, in the scope's transaction.
pub struct Broadcasts<'a, 's> {
    scope: &'a mut Scope<'s>,
}

const COLUMNS: &str = "broadcast_id, channel_id, template, language, params, purpose, audience_ct, state, recipients, refused_no_consent, refused_other, created_by, created_at";

impl Broadcasts<'_, '_> {
    /// A new id (the sends are queued with it before the row is written).
    pub fn new_id(&self) -> BroadcastId {
        BroadcastId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        )
    }

    /// Records a broadcast (`running`).
    pub async fn create(&mut self, id: BroadcastId, b: &NewBroadcast) -> Result<(), StoreError> {
        let audience = self.scope.seal_str(
            "broadcasts",
            "audience",
            &id.to_string(),
            &b.audience.to_string(),
        )?;
        let now = self.scope.now();
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO broadcasts (tenant_id, broadcast_id, channel_id, template, language, params, purpose, audience_ct, state, recipients, refused_no_consent, refused_other, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9, $10, $11, $12, $13)",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(b.channel.to_string())
        .bind(b.template.clone())
        .bind(b.language.clone())
        .bind(serde_json::json!(b.params).to_string())
        .bind(b.purpose.clone())
        .bind(audience)
        .bind(b.recipients)
        .bind(b.refused_no_consent)
        .bind(b.refused_other)
        .bind(b.created_by.clone())
        .bind(now)
        .execute(self.scope.conn())
        .await?;
        Ok(())
    }

    /// One broadcast with its counts; [`StoreError::NotFound`] unless it is the tenant's.
    pub async fn get(&mut self, id: BroadcastId) -> Result<Broadcast, StoreError> {
        let r = self
            .scope
            .tenant_row(
                format!(
                    "SELECT {COLUMNS} FROM broadcasts WHERE tenant_id = $1 AND broadcast_id = $2"
                ),
                id.to_string(),
            )
            .await?;
        let mut b = self.opened(&r)?;
        b.counts = self.counts(id).await?;
        Ok(b)
    }

    /// The tenant's broadcasts, newest first (at most 200), with their counts.
    pub async fn list(&mut self) -> Result<Vec<Broadcast>, StoreError> {
        let rows = self
            .scope
            .tenant_rows(format!(
                "SELECT {COLUMNS} FROM broadcasts WHERE tenant_id = $1 ORDER BY created_at DESC, broadcast_id DESC LIMIT 200"
            ))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut b = self.opened(r)?;
            b.counts = self.counts(b.id).await?;
            out.push(b);
        }
        Ok(out)
    }

    async fn counts(&mut self, id: BroadcastId) -> Result<BTreeMap<String, i64>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows = sqlx::query(
            "SELECT m.status, COUNT(*) FROM outbox o JOIN messages m ON m.tenant_id = o.tenant_id AND m.message_id = o.message_id \
             WHERE o.tenant_id = $1 AND o.broadcast_id = $2 GROUP BY m.status",
        )
        .bind(t)
        .bind(id.to_string())
        .fetch_all(self.scope.conn())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect()
    }

    /// Moves a broadcast to `state` (`paused`, `running`, `cancelled`) with its queued sends:
    /// paused sends wait, resumed ones are due again, cancelled ones fail with `reason`. False
    /// when it was not in a state that allows the move (a cancelled broadcast stays cancelled).
    pub async fn set_state(
        &mut self,
        id: BroadcastId,
        state: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let current = self.get(id).await?.state;
        let allowed = matches!(
            (current.as_str(), state),
            ("running", "paused") | ("paused", "running") | ("running" | "paused", "cancelled")
        );
        if !allowed {
            return Ok(false);
        }
        let t = self.scope.tenant_str().to_string();
        let b = id.to_string();
        let run = |sql: &'static str| sqlx::query(sql).bind(t.clone()).bind(b.clone());
        run("UPDATE broadcasts SET state = $3 WHERE tenant_id = $1 AND broadcast_id = $2")
            .bind(state.to_string())
            .execute(self.scope.conn())
            .await?;
        match state {
            "paused" => {
                run("UPDATE outbox SET state = 'paused' WHERE tenant_id = $1 AND broadcast_id = $2 AND state = 'pending'")
                    .execute(self.scope.conn())
                    .await?;
            }
            "running" => {
                run("UPDATE outbox SET state = 'pending' WHERE tenant_id = $1 AND broadcast_id = $2 AND state = 'paused'")
                    .execute(self.scope.conn())
                    .await?;
            }
            _ => {
                run("UPDATE messages SET status = 'failed', status_rank = 2, error_reason = $3 WHERE tenant_id = $1 AND message_id IN \
                     (SELECT message_id FROM outbox WHERE tenant_id = $1 AND broadcast_id = $2 AND state IN ('pending', 'paused'))")
                    .bind(reason.to_string())
                    .execute(self.scope.conn())
                    .await?;
                run("UPDATE outbox SET state = 'done' WHERE tenant_id = $1 AND broadcast_id = $2 AND state IN ('pending', 'paused')")
                    .execute(self.scope.conn())
                    .await?;
            }
        }
        Ok(true)
    }

    fn opened(&self, r: &sqlx::any::AnyRow) -> Result<Broadcast, StoreError> {
        let id: String = r.try_get(0)?;
        let channel: String = r.try_get(1)?;
        let params: String = r.try_get(4)?;
        let audience: Vec<u8> = r.try_get(6)?;
        let audience = self
            .scope
            .open_string("broadcasts", "audience", &id, &audience)?;
        Ok(Broadcast {
            id: id
                .parse()
                .map_err(|_| StoreError::Corrupt("broadcast id".into()))?,
            channel: channel
                .parse()
                .map_err(|_| StoreError::Corrupt("channel id".into()))?,
            template: r.try_get(2)?,
            language: r.try_get(3)?,
            params: serde_json::from_str(&params)
                .map_err(|_| StoreError::Corrupt("broadcast params".into()))?,
            purpose: r.try_get(5)?,
            audience: serde_json::from_str(&audience)
                .map_err(|_| StoreError::Corrupt("broadcast audience".into()))?,
            state: r.try_get(7)?,
            recipients: r.try_get(8)?,
            refused_no_consent: r.try_get(9)?,
            refused_other: r.try_get(10)?,
            created_by: r.try_get(11)?,
            created_at: r.try_get(12)?,
            counts: BTreeMap::new(),
        })
    }
}
