//! Channels: a tenant's WhatsApp business numbers. Secrets (access token, app secrets, verify
//! token) are sealed before they reach the database and are never returned by listings.

use crate::error::StoreError;
use crate::scope::Scope;
use crate::store::Store;
use confide_core::audit::{Actor, AuditEvent};
use confide_core::ids::{ChannelId, TenantId};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sqlx::Row;

const TABLE: &str = "channels";

/// A channel to create.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_phone_number: String,
    pub access_token: SecretString,
    pub app_secret: SecretString,
    pub verify_token: SecretString,
    pub graph_base_url: String,
}

/// A channel as the API shows it: no secrets.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Channel {
    pub id: ChannelId,
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_phone_number: String,
    pub graph_base_url: String,
    pub status: String,
    /// True while a second app secret is accepted (rotation in progress).
    pub rotating_secret: bool,
    pub created_at: i64,
    /// How Graph last found the channel: `ok`, `unverified`, `token_invalid`, `blocked`,
    /// `rate_limited` (see [`ChannelHealth`]).
    pub health: String,
    /// The last Graph error, in plain words.
    pub health_detail: Option<String>,
    pub health_checked_at: Option<i64>,
    /// The Graph error code behind a `token_invalid` or `blocked` health.
    pub health_code: Option<i64>,
    /// How outbound media reaches Meta: `link` (a single-use signed link Meta fetches) or
    /// `upload` (sent to Graph's media endpoint first).
    pub media_delivery: String,
    /// When an incident (`confide incident revoke`) asked for the channel's secrets to be
    /// replaced; `None` once every one of them was.
    pub secrets_rotation_requested_at: Option<i64>,
    /// The secrets still to replace: `access_token`, `app_secret`, `verify_token`.
    pub secrets_rotation_pending: Vec<String>,
    /// The messaging-limit tier set for this number (`250` … `unlimited`); `None`: the
    /// operator's default.
    pub messaging_limit: Option<String>,
}

/// Every secret of a channel, as an incident marks them for rotation.
pub const ROTATABLE_SECRETS: &str = "access_token,app_secret,verify_token";

impl Channel {
    /// Whether an incident asked for secrets that are not replaced yet.
    pub fn rotation_required(&self) -> bool {
        self.secrets_rotation_requested_at.is_some()
    }

    /// Whether webhooks may still come signed with an app secret an incident exposed.
    pub fn app_secret_compromised(&self) -> bool {
        self.rotation_required()
            && self
                .secrets_rotation_pending
                .iter()
                .any(|s| s == "app_secret")
    }

    /// Why this channel must not send, as the send gate sees it: disabled by an administrator,
    /// or stopped by a Graph error (token refused, permission lost, account blocked) until its
    /// token is replaced and checked again. `None` while it may send.
    pub fn send_stop(&self) -> Option<confide_core::send_gate::ChannelStop> {
        use confide_core::send_gate::ChannelStop;
        if self.status != "active" {
            return Some(ChannelStop::Admin);
        }
        let health = ChannelHealth::parse(&self.health)?;
        (!health.allows_sending()).then(|| {
            ChannelStop::MetaError(self.health_code.unwrap_or(match health {
                ChannelHealth::Blocked => 368,
                _ => 190,
            }))
        })
    }

    /// The send gate's view of the channel.
    pub fn gate_health(&self) -> confide_core::send_gate::ChannelHealth {
        match self.send_stop() {
            Some(stop) => confide_core::send_gate::ChannelHealth::Stopped(stop),
            None => confide_core::send_gate::ChannelHealth::Active,
        }
    }
}

/// A channel's health as Graph reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelHealth {
    /// The token works.
    Ok,
    /// Not checked yet (new channel, or the token just changed).
    Unverified,
    /// Graph refused the token or its permissions (190, 10, 200–299).
    TokenInvalid,
    /// The number or account is blocked or locked (368, 131031).
    Blocked,
    /// Graph asked us to slow down.
    RateLimited,
}

impl ChannelHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelHealth::Ok => "ok",
            ChannelHealth::Unverified => "unverified",
            ChannelHealth::TokenInvalid => "token_invalid",
            ChannelHealth::Blocked => "blocked",
            ChannelHealth::RateLimited => "rate_limited",
        }
    }

    /// Whether sends may go out: only a channel whose token is not known to be refused.
    pub fn allows_sending(self) -> bool {
        !matches!(self, ChannelHealth::TokenInvalid | ChannelHealth::Blocked)
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => ChannelHealth::Ok,
            "unverified" => ChannelHealth::Unverified,
            "token_invalid" => ChannelHealth::TokenInvalid,
            "blocked" => ChannelHealth::Blocked,
            "rate_limited" => ChannelHealth::RateLimited,
            _ => return None,
        })
    }
}

/// A channel's secrets, decrypted for the webhook check and the Graph client only.
pub struct ChannelSecrets {
    pub access_token: SecretString,
    pub app_secret: SecretString,
    pub app_secret_next: Option<SecretString>,
    pub verify_token: SecretString,
}

const COLUMNS: &str = "channel_id, phone_number_id, waba_id, display_phone_number, graph_base_url, status, \
                       app_secret_next_ct IS NOT NULL AS rotating, created_at, health, health_detail, health_checked_at, health_code, media_delivery, \
                       secrets_rotation_requested_at, secrets_rotation_pending, messaging_limit";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Channel, StoreError> {
    let id: String = r.try_get(0)?;
    let rotating: i64 = r
        .try_get::<i64, _>(6)
        .or_else(|_| r.try_get::<bool, _>(6).map(i64::from))?;
    Ok(Channel {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt("channel id".into()))?,
        phone_number_id: r.try_get(1)?,
        waba_id: r.try_get(2)?,
        display_phone_number: r.try_get(3)?,
        graph_base_url: r.try_get(4)?,
        status: r.try_get(5)?,
        rotating_secret: rotating != 0,
        created_at: r.try_get(7)?,
        health: r.try_get(8)?,
        health_detail: r.try_get(9)?,
        health_checked_at: r.try_get(10)?,
        health_code: r.try_get(11)?,
        media_delivery: r.try_get(12)?,
        secrets_rotation_requested_at: r.try_get(13)?,
        secrets_rotation_pending: r
            .try_get::<Option<String>, _>(14)?
            .map(|p| {
                p.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        messaging_limit: r.try_get(15)?,
    })
}

impl Scope<'_> {
    pub async fn create_channel(
        &mut self,
        new: NewChannel,
        actor: Actor,
    ) -> Result<Channel, StoreError> {
        let id = ChannelId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
        let row = id.to_string();
        let now = self.now();
        let token = self.seal_str(
            TABLE,
            "access_token",
            &row,
            new.access_token.expose_secret(),
        )?;
        let secret = self.seal_str(TABLE, "app_secret", &row, new.app_secret.expose_secret())?;
        let verify = self.seal_str(
            TABLE,
            "verify_token",
            &row,
            new.verify_token.expose_secret(),
        )?;
        let t = self.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO channels (tenant_id, channel_id, phone_number_id, waba_id, display_phone_number, access_token_ct, \
             app_secret_ct, verify_token_ct, graph_base_url, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $10)",
        )
        .bind(t.clone())
        .bind(row.clone())
        .bind(new.phone_number_id)
        .bind(new.waba_id)
        .bind(new.display_phone_number)
        .bind(token)
        .bind(secret)
        .bind(verify)
        .bind(new.graph_base_url)
        .bind(now)
        .execute(self.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "a channel with this phone_number_id"))?;
        sqlx::query("INSERT INTO channel_routes (channel_id, tenant_id) VALUES ($1, $2)")
            .bind(row.clone())
            .bind(t)
            .execute(self.conn())
            .await?;
        self.audit(&AuditEvent::new(
            actor,
            "channel.created",
            format!("channel:{row}"),
        ))
        .await?;
        self.get_channel(id).await
    }

    pub async fn get_channel(&mut self, id: ChannelId) -> Result<Channel, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM channels WHERE tenant_id = $1 AND channel_id = $2 AND status <> 'deleted'"
        );
        let row = self.tenant_row(sql, id.to_string()).await?;
        from_row(&row)
    }

    pub async fn list_channels(&mut self) -> Result<Vec<Channel>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM channels WHERE tenant_id = $1 AND status <> 'deleted' ORDER BY created_at"
        );
        let rows = self.tenant_rows(sql).await?;
        rows.iter().map(from_row).collect()
    }

    /// Decrypts a channel's secrets.
    pub async fn channel_secrets(&mut self, id: ChannelId) -> Result<ChannelSecrets, StoreError> {
        let t = self.tenant_str().to_string();
        let r = sqlx::query(
            "SELECT access_token_ct, app_secret_ct, app_secret_next_ct, verify_token_ct FROM channels \
             WHERE tenant_id = $1 AND channel_id = $2",
        )
        .bind(t)
        .bind(id.to_string())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let row = id.to_string();
        let open = |col: &str, v: Vec<u8>| -> Result<SecretString, StoreError> {
            Ok(SecretString::from(self.open_string(TABLE, col, &row, &v)?))
        };
        let next: Option<Vec<u8>> = r.try_get(2)?;
        Ok(ChannelSecrets {
            access_token: open("access_token", r.try_get(0)?)?,
            app_secret: open("app_secret", r.try_get(1)?)?,
            app_secret_next: next.map(|v| open("app_secret_next", v)).transpose()?,
            verify_token: open("verify_token", r.try_get(3)?)?,
        })
    }
}

impl Store {
    /// The tenant that owns a channel, for routing a webhook (ids only; no tenant data read).
    pub async fn channel_tenant(&self, channel: ChannelId) -> Result<Option<TenantId>, StoreError> {
        let row = sqlx::query("SELECT tenant_id FROM channel_routes WHERE channel_id = $1")
            .bind(channel.to_string())
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => {
                let t: String = r.try_get(0)?;
                Ok(Some(
                    t.parse()
                        .map_err(|_| StoreError::Corrupt("tenant id".into()))?,
                ))
            }
            None => Ok(None),
        }
    }
}

/// What `PATCH /api/v1/channels/{id}` may change (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ChannelPatch {
    pub display_phone_number: Option<String>,
    pub access_token: Option<SecretString>,
    pub verify_token: Option<SecretString>,
    pub graph_base_url: Option<String>,
    /// `active` or `disabled` (a disabled channel sends nothing).
    pub status: Option<String>,
    /// `link` or `upload`.
    pub media_delivery: Option<String>,
    /// A messaging-limit tier; `Some(None)` returns to the operator's default.
    pub messaging_limit: Option<Option<String>>,
}

impl Scope<'_> {
    async fn set_column(
        &mut self,
        id: ChannelId,
        column: &'static str,
        value: ColumnValue,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE channels SET {column} = $1, updated_at = $2 WHERE tenant_id = $3 AND channel_id = $4 AND status <> 'deleted'"
        );
        let now = self.now();
        let t = self.tenant_str().to_string();
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let q = match value {
            ColumnValue::Text(v) => q.bind(v),
            ColumnValue::Bytes(v) => q.bind(v),
            ColumnValue::Null => q.bind(Option::<Vec<u8>>::None),
            ColumnValue::NullText => q.bind(Option::<String>::None),
            ColumnValue::NullInt => q.bind(Option::<i64>::None),
        };
        let res = q
            .bind(now)
            .bind(t)
            .bind(id.to_string())
            .execute(self.conn())
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Applies a patch (secrets sealed), audited.
    pub async fn update_channel(
        &mut self,
        id: ChannelId,
        patch: ChannelPatch,
        actor: Actor,
    ) -> Result<Channel, StoreError> {
        let row = id.to_string();
        self.get_channel(id).await?;
        let mut changed = Vec::new();
        if let Some(v) = patch.display_phone_number {
            self.set_column(id, "display_phone_number", ColumnValue::Text(v))
                .await?;
            changed.push("display_phone_number");
        }
        if let Some(v) = patch.graph_base_url {
            self.set_column(id, "graph_base_url", ColumnValue::Text(v))
                .await?;
            changed.push("graph_base_url");
        }
        if let Some(v) = patch.status {
            self.set_column(id, "status", ColumnValue::Text(v)).await?;
            changed.push("status");
        }
        if let Some(v) = patch.media_delivery {
            self.set_column(id, "media_delivery", ColumnValue::Text(v))
                .await?;
            changed.push("media_delivery");
        }
        if let Some(v) = patch.messaging_limit {
            let value = match v {
                Some(v) => ColumnValue::Text(v),
                None => ColumnValue::NullText,
            };
            self.set_column(id, "messaging_limit", value).await?;
            changed.push("messaging_limit");
        }
        if let Some(v) = patch.access_token {
            let ct = self.seal_str(TABLE, "access_token", &row, v.expose_secret())?;
            self.set_column(id, "access_token_ct", ColumnValue::Bytes(ct))
                .await?;
            // A new token has not been checked yet.
            self.set_column(
                id,
                "health",
                ColumnValue::Text(ChannelHealth::Unverified.as_str().into()),
            )
            .await?;
            self.set_column(id, "health_detail", ColumnValue::NullText)
                .await?;
            self.set_column(id, "health_code", ColumnValue::NullInt)
                .await?;
            changed.push("access_token");
        }
        if let Some(v) = patch.verify_token {
            let ct = self.seal_str(TABLE, "verify_token", &row, v.expose_secret())?;
            self.set_column(id, "verify_token_ct", ColumnValue::Bytes(ct))
                .await?;
            changed.push("verify_token");
        }
        let event = AuditEvent::new(actor.clone(), "channel.updated", format!("channel:{row}"))
            .with_details(serde_json::json!({"changed": changed}));
        self.audit(&event).await?;
        for secret in changed
            .iter()
            .filter(|c| ["access_token", "verify_token"].contains(c))
        {
            self.secret_replaced(id, secret, actor.clone()).await?;
        }
        self.notify_channel_changed(id).await?;
        self.get_channel(id).await
    }

    /// A secret was replaced: it is no longer pending after an incident; once none is, the
    /// channel's rotation is done (audited `channel.secrets_rotated`).
    async fn secret_replaced(
        &mut self,
        id: ChannelId,
        secret: &str,
        actor: Actor,
    ) -> Result<(), StoreError> {
        let c = self.get_channel(id).await?;
        if !c.rotation_required() {
            return Ok(());
        }
        let pending: Vec<&str> = c
            .secrets_rotation_pending
            .iter()
            .map(String::as_str)
            .filter(|s| *s != secret)
            .collect();
        if pending.is_empty() {
            self.set_column(id, "secrets_rotation_pending", ColumnValue::NullText)
                .await?;
            self.set_column(id, "secrets_rotation_requested_at", ColumnValue::NullInt)
                .await?;
            self.audit(&AuditEvent::new(
                actor,
                "channel.secrets_rotated",
                format!("channel:{id}"),
            ))
            .await?;
        } else {
            self.set_column(
                id,
                "secrets_rotation_pending",
                ColumnValue::Text(pending.join(",")),
            )
            .await?;
        }
        Ok(())
    }

    /// Starts an app-secret rotation: until it is finished, webhooks signed with either the
    /// current or the next secret verify.
    pub async fn begin_secret_rotation(
        &mut self,
        id: ChannelId,
        next: SecretString,
        actor: Actor,
    ) -> Result<Channel, StoreError> {
        let row = id.to_string();
        let ct = self.seal_str(TABLE, "app_secret_next", &row, next.expose_secret())?;
        self.set_column(id, "app_secret_next_ct", ColumnValue::Bytes(ct))
            .await?;
        self.audit(&AuditEvent::new(
            actor,
            "channel.secret_rotation_started",
            format!("channel:{row}"),
        ))
        .await?;
        self.notify_channel_changed(id).await?;
        self.get_channel(id).await
    }

    /// Finishes a rotation: the next secret becomes the only one.
    pub async fn finish_secret_rotation(
        &mut self,
        id: ChannelId,
        actor: Actor,
    ) -> Result<Channel, StoreError> {
        let row = id.to_string();
        let secrets = self.channel_secrets(id).await?;
        let Some(next) = secrets.app_secret_next else {
            return Err(StoreError::Conflict("no rotation in progress; a rotation"));
        };
        let ct = self.seal_str(TABLE, "app_secret", &row, next.expose_secret())?;
        self.set_column(id, "app_secret_ct", ColumnValue::Bytes(ct))
            .await?;
        self.set_column(id, "app_secret_next_ct", ColumnValue::Null)
            .await?;
        self.audit(&AuditEvent::new(
            actor.clone(),
            "channel.secret_rotation_finished",
            format!("channel:{row}"),
        ))
        .await?;
        self.secret_replaced(id, "app_secret", actor).await?;
        self.notify_channel_changed(id).await?;
        self.get_channel(id).await
    }

    /// Disconnects a channel: webhooks to it are no longer routed, its secrets are destroyed,
    /// and its conversations stay as history.
    pub async fn delete_channel(&mut self, id: ChannelId, actor: Actor) -> Result<(), StoreError> {
        let row = id.to_string();
        self.get_channel(id).await?;
        for (column, field) in [
            ("access_token_ct", "access_token"),
            ("app_secret_ct", "app_secret"),
            ("verify_token_ct", "verify_token"),
        ] {
            let ct = self.seal_str(TABLE, field, &row, "")?;
            self.set_column(id, column, ColumnValue::Bytes(ct)).await?;
        }
        self.set_column(id, "app_secret_next_ct", ColumnValue::Null)
            .await?;
        // The number may be connected again later (to this or another tenant).
        self.set_column(
            id,
            "phone_number_id",
            ColumnValue::Text(format!("deleted:{row}")),
        )
        .await?;
        self.set_column(id, "status", ColumnValue::Text("deleted".into()))
            .await?;
        sqlx::query("DELETE FROM channel_routes WHERE channel_id = $1")
            .bind(row.clone())
            .execute(self.conn())
            .await?;
        self.audit(&AuditEvent::new(
            actor,
            "channel.deleted",
            format!("channel:{row}"),
        ))
        .await?;
        self.notify_channel_changed(id).await?;
        Ok(())
    }
}

enum ColumnValue {
    Text(String),
    Bytes(Vec<u8>),
    Null,
    NullText,
    NullInt,
}

impl Scope<'_> {
    /// Records what Graph said of a channel (`code`: the Graph error code, if it answered with
    /// one). Audited when the health changes (with the old and new values and the code only);
    /// returns the previous health.
    pub async fn set_channel_health(
        &mut self,
        id: ChannelId,
        health: ChannelHealth,
        code: Option<i64>,
        detail: Option<&str>,
    ) -> Result<Option<ChannelHealth>, StoreError> {
        let before = self.get_channel(id).await?;
        let previous = ChannelHealth::parse(&before.health);
        let now = self.now();
        let t = self.tenant_str().to_string();
        sqlx::query(
            "UPDATE channels SET health = $1, health_detail = $2, health_checked_at = $3, \
             health_code = $4 WHERE tenant_id = $5 AND channel_id = $6 AND status <> 'deleted'",
        )
        .bind(health.as_str())
        .bind(detail.map(|d| d.chars().take(500).collect::<String>()))
        .bind(now)
        .bind(code)
        .bind(t)
        .bind(id.to_string())
        .execute(self.conn())
        .await?;
        self.notify_channel_changed(id).await?;
        if previous != Some(health) {
            self.audit(
                &AuditEvent::new(
                    Actor::System,
                    "channel.health_changed",
                    format!("channel:{id}"),
                )
                .with_details(serde_json::json!({
                    "from": before.health,
                    "to": health.as_str(),
                    "code": code,
                })),
            )
            .await?;
        }
        Ok(previous)
    }
}
