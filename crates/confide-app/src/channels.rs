//! Channels (a tenant's WhatsApp business numbers): list, read, connect, change, delete, and
//! rotate the app secret with both secrets valid in between. Secrets are write-only: accepted,
//! sealed, never returned. A channel's Graph API must be one of the operator's
//! `graph_allowed_origins` (SSRF protection, C21); its token is checked with Graph in the
//! background whenever it is new ([`crate::outbound::health`]).

use crate::error::{AppError, Code};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::ids::ChannelId;
use confide_core::permissions::Permission;
use confide_whatsapp::egress::EgressPolicy;
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;

pub use confide_store::channels::{Channel, ChannelHealth};
use confide_store::channels::{ChannelPatch, NewChannel};

/// Meta's Graph API, the default for every channel (tests point channels at meta-sim).
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.facebook.com";

/// A channel to connect.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewChannelInput {
    /// Meta's phone number id (digits); unique within the tenant.
    pub phone_number_id: String,
    /// Meta's WhatsApp Business Account id (digits).
    pub waba_id: String,
    /// The number as people see it, e.g. `+1 555 0100`.
    pub display_phone_number: String,
    /// The Graph API access token (write-only: never returned).
    pub access_token: String,
    /// The Meta app secret that signs webhooks (write-only: never returned).
    pub app_secret: String,
    /// The token Meta echoes in the webhook verification handshake (write-only).
    pub verify_token: String,
    /// The Graph API origin; defaults to Meta's and must be one of the operator's
    /// `graph_allowed_origins`.
    pub graph_base_url: Option<String>,
}

/// What a change to a channel may set (absent: unchanged).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelChange {
    /// The number as people see it.
    pub display_phone_number: Option<String>,
    /// A new Graph API access token (write-only).
    pub access_token: Option<String>,
    /// A new webhook verify token (write-only).
    pub verify_token: Option<String>,
    /// A new Graph API origin, one of the operator's `graph_allowed_origins`.
    pub graph_base_url: Option<String>,
    /// `active` or `disabled`.
    pub status: Option<String>,
    /// How outbound media reaches Meta: `link` (default: a single-use signed link Meta fetches
    /// once) or `upload` (the file is uploaded to Graph's media endpoint first).
    pub media_delivery: Option<String>,
    /// The number's messaging-limit tier as WhatsApp Manager shows it: unique people reached
    /// outside a customer service window per rolling 24 hours, `250`, `2000`, `10000`,
    /// `100000` or `unlimited`; `default` returns to the operator's `outbound.messaging_limit`.
    /// A business-initiated send to a new person beyond it is refused (`messaging_limit`).
    pub messaging_limit: Option<String>,
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> AppError {
    AppError::invalid(Code::InvalidChannel, message)
}

/// Meta's ids are digits; anything else is a typo.
fn digits(field: &'static str, v: &str) -> Result<String, AppError> {
    let v = v.trim();
    if v.is_empty() || v.len() > 32 || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid(format!("{field} must be Meta's numeric id.")));
    }
    Ok(v.to_string())
}

fn secret(field: &'static str, v: String) -> Result<SecretString, AppError> {
    if v.trim().is_empty() || v.len() > 4096 {
        return Err(invalid(format!(
            "{field} is required (1 to 4096 characters)."
        )));
    }
    Ok(SecretString::from(v))
}

fn display_number(v: &str) -> Result<String, AppError> {
    let v = v.trim();
    if v.is_empty() || v.len() > 32 {
        return Err(invalid("display_phone_number is required."));
    }
    Ok(v.to_string())
}

/// The origin (`scheme://host:port`) of `graph_base_url`, compared exactly, must be listed in the
/// egress policy built from `graph_allowed_origins`; else `graph_origin_not_allowed`. A listed
/// origin with a query, fragment or credentials is `invalid_graph_base_url`.
pub fn graph_base_url(egress: &Arc<EgressPolicy>, v: Option<&str>) -> Result<String, AppError> {
    let url = v.unwrap_or(DEFAULT_GRAPH_BASE_URL).trim();
    if !egress.is_listed(url) {
        return Err(AppError::invalid(
            Code::GraphOriginNotAllowed,
            "graph_base_url is not one of the Graph API origins this server allows \
             (graph_allowed_origins); the default is Meta's https://graph.facebook.com.",
        ));
    }
    crate::outbound::graph::graph_client(egress, url, SecretString::from("validation")).map_err(
        |e| {
            AppError::invalid(
                Code::InvalidGraphBaseUrl,
                format!("graph_base_url is not a usable Graph API URL: {e}"),
            )
        },
    )?;
    Ok(url.trim_end_matches('/').to_string())
}

fn channel_id(id: &str) -> Result<ChannelId, AppError> {
    id.parse().map_err(|_| AppError::not_found())
}

impl App {
    /// Every channel of the caller's tenant.
    pub async fn list_channels(&self, p: &Principal) -> Result<Vec<Channel>, AppError> {
        p.require(Permission::InboxRead)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let channels = s.list_channels().await?;
        s.commit().await?;
        Ok(channels)
    }

    pub async fn get_channel(&self, p: &Principal, id: &str) -> Result<Channel, AppError> {
        p.require(Permission::InboxRead)?;
        let id = channel_id(id)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        Ok(s.get_channel(id).await?)
    }

    /// Connects a number; its token is then checked with Graph in the background.
    pub async fn create_channel(
        &self,
        p: &Principal,
        input: NewChannelInput,
    ) -> Result<Channel, AppError> {
        p.require(Permission::ChannelsManage)?;
        let new = NewChannel {
            display_phone_number: display_number(&input.display_phone_number)?,
            phone_number_id: digits("phone_number_id", &input.phone_number_id)?,
            waba_id: digits("waba_id", &input.waba_id)?,
            access_token: secret("access_token", input.access_token)?,
            app_secret: secret("app_secret", input.app_secret)?,
            verify_token: secret("verify_token", input.verify_token)?,
            graph_base_url: graph_base_url(&self.egress, input.graph_base_url.as_deref())?,
        };
        let mut s = self.store.scope(p.tenant).await?;
        let c = s.create_channel(new, p.actor()).await?;
        s.commit().await?;
        self.health.check_in_background(p.tenant, c.id);
        Ok(c)
    }

    /// Changes a channel; a new token or Graph origin is checked with Graph in the background.
    pub async fn update_channel(
        &self,
        p: &Principal,
        id: &str,
        change: ChannelChange,
    ) -> Result<Channel, AppError> {
        p.require(Permission::ChannelsManage)?;
        let id = channel_id(id)?;
        if let Some(status) = &change.status
            && !["active", "disabled"].contains(&status.as_str())
        {
            return Err(invalid("status must be active or disabled."));
        }
        let recheck = change.access_token.is_some() || change.graph_base_url.is_some();
        let patch = ChannelPatch {
            display_phone_number: change.display_phone_number.map(|d| d.trim().to_string()),
            access_token: change
                .access_token
                .map(|v| secret("access_token", v))
                .transpose()?,
            verify_token: change
                .verify_token
                .map(|v| secret("verify_token", v))
                .transpose()?,
            graph_base_url: change
                .graph_base_url
                .map(|u| graph_base_url(&self.egress, Some(&u)))
                .transpose()?,
            status: change.status,
            media_delivery: match change.media_delivery {
                Some(m) if m == "link" || m == "upload" => Some(m),
                Some(_) => return Err(invalid("media_delivery is link or upload.")),
                None => None,
            },
            messaging_limit: match change.messaging_limit.as_deref().map(str::trim) {
                None => None,
                Some("default") => Some(None),
                Some(v) => Some(Some(
                    confide_core::send_gate::MessagingLimit::parse(v)
                        .ok_or_else(|| {
                            invalid(
                                "messaging_limit is one of Meta's tiers (250, 2000, 10000, 100000, unlimited) or default.",
                            )
                        })?
                        .as_string(),
                )),
            },
        };
        let mut s = self.store.scope(p.tenant).await?;
        let c = s.update_channel(id, patch, p.actor()).await?;
        s.commit().await?;
        self.channels.invalidate(id);
        if recheck {
            self.health.check_in_background(p.tenant, id);
        }
        Ok(c)
    }

    /// Deletes a channel: its webhook URL stops verifying at once.
    pub async fn delete_channel(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::ChannelsManage)?;
        let id = channel_id(id)?;
        let mut s = self.store.scope(p.tenant).await?;
        s.delete_channel(id, p.actor()).await?;
        s.commit().await?;
        self.channels.invalidate(id);
        Ok(())
    }

    /// Starts an app-secret rotation: both secrets verify until [`App::finish_channel_rotation`].
    pub async fn rotate_channel_secret(
        &self,
        p: &Principal,
        id: &str,
        next: String,
    ) -> Result<Channel, AppError> {
        p.require(Permission::ChannelsManage)?;
        let id = channel_id(id)?;
        let next = secret("app_secret", next)?;
        let mut s = self.store.scope(p.tenant).await?;
        let c = s.begin_secret_rotation(id, next, p.actor()).await?;
        s.commit().await?;
        self.channels.invalidate(id);
        Ok(c)
    }

    /// Ends a rotation: only the new secret verifies.
    pub async fn finish_channel_rotation(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<Channel, AppError> {
        p.require(Permission::ChannelsManage)?;
        let id = channel_id(id)?;
        let mut s = self.store.scope(p.tenant).await?;
        let c = s.finish_secret_rotation(id, p.actor()).await?;
        s.commit().await?;
        self.channels.invalidate(id);
        Ok(c)
    }
}
