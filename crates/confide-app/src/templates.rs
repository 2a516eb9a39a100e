//! Message templates: synced from Graph (every page of `GET /{WABA_ID}/message_templates`, per
//! channel), kept current by status webhooks (`ingest`), and read by the send gate and the
//! composer.

use crate::error::{AppError, Code};
use crate::outbound::graph::graph_client;
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::permissions::Permission;
use confide_core::send_gate::{Template, TemplateCategory, TemplateStatus};
use confide_whatsapp::send::TemplateInfo;
use serde_json::json;
use std::collections::BTreeSet;

pub use confide_store::templates::{StoredTemplate, TemplateDef};

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub channels: usize,
    pub templates: usize,
    pub new: usize,
    /// Channels Graph could not be asked (each logged, and named in the channel's health).
    pub failed_channels: usize,
}

/// The distinct placeholders of a template text: `{{1}}`, `{{2}}`, ... or `{{name}}`.
pub fn placeholders(text: &str) -> usize {
    let mut seen = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            seen.insert(name.to_string());
        }
        rest = &after[end + 2..];
    }
    seen.len()
}

/// Graph's description of a template, as stored: the body's placeholders are its parameters.
pub fn definition(info: &TemplateInfo) -> TemplateDef {
    let body = info
        .components
        .iter()
        .find(|c| c.kind.eq_ignore_ascii_case("BODY"))
        .and_then(|c| c.text.as_deref())
        .unwrap_or_default();
    TemplateDef {
        name: info.name.clone(),
        language: info.language.clone(),
        category: info.category.clone().unwrap_or_else(|| "UTILITY".into()),
        status: info.status.as_str().to_string(),
        body_params: i64::try_from(placeholders(body)).unwrap_or(i64::MAX),
        components: serde_json::to_value(&info.components).unwrap_or(json!([])),
    }
}

/// The send gate's view of a stored template; `None` when its category or status is one the
/// gate does not know (it is then refused as not approved).
pub fn gate_template(t: &StoredTemplate) -> Option<Template> {
    Some(Template {
        name: t.def.name.clone(),
        language: t.def.language.clone(),
        category: t.def.category.parse::<TemplateCategory>().ok()?,
        status: t.def.status.parse::<TemplateStatus>().ok()?,
        param_count: usize::try_from(t.def.body_params).ok()?,
    })
}

impl App {
    /// The tenant's templates (every channel), for the composer and the API.
    pub async fn list_templates(&self, p: &Principal) -> Result<Vec<StoredTemplate>, AppError> {
        p.require(Permission::InboxRead)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let list = s.templates().list().await?;
        s.commit().await?;
        Ok(list)
    }

    /// Asks Graph for every channel's templates (all pages) and records them; audited.
    pub async fn sync_templates(&self, p: &Principal) -> Result<SyncReport, AppError> {
        p.require(Permission::TemplatesManage)?;
        let mut report = SyncReport::default();
        let mut s = self.store.read_scope(p.tenant).await?;
        let channels = s.list_channels().await?;
        let mut sources = Vec::new();
        for c in &channels {
            sources.push((c.clone(), s.channel_secrets(c.id).await?.access_token));
        }
        s.commit().await?;
        for (channel, token) in sources {
            report.channels += 1;
            let listed = match graph_client(&self.egress, &channel.graph_base_url, token) {
                Ok(client) => client.list_templates(&channel.waba_id).await,
                Err(e) => {
                    tracing::warn!(channel = %channel.id, error = %e, "template sync: unusable Graph address");
                    report.failed_channels += 1;
                    continue;
                }
            };
            let infos = match listed {
                Ok(infos) => infos,
                Err(e) => {
                    tracing::warn!(channel = %channel.id, error = %e, "template sync failed for a channel");
                    if let Err(err) = self.health.observe(p.tenant, channel.id, &e).await {
                        tracing::error!(error = %err, "could not record the channel's health");
                    }
                    report.failed_channels += 1;
                    continue;
                }
            };
            let mut s = self.store.scope(p.tenant).await?;
            for info in &infos {
                report.templates += 1;
                if s.templates().upsert(channel.id, &definition(info)).await? {
                    report.new += 1;
                }
            }
            s.commit().await?;
        }
        let mut s = self.store.scope(p.tenant).await?;
        s.audit(
            &AuditEvent::new(
                p.actor(),
                "templates.synced",
                format!("tenant:{}", p.tenant),
            )
            .with_details(json!({
                "channels": report.channels,
                "templates": report.templates,
                "new": report.new,
                "failed_channels": report.failed_channels,
            })),
        )
        .await?;
        s.commit().await?;
        if report.channels > 0 && report.failed_channels == report.channels {
            return Err(AppError::new(
                Code::Unavailable,
                "Graph could not be asked for templates on any channel; see each channel's health.",
            ));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_count_distinct_positional_and_named_parameters() {
        assert_eq!(placeholders("Hi {{1}}, your order {{2}} ships {{3}}."), 3);
        assert_eq!(placeholders("{{1}} and again {{1}}"), 1);
        assert_eq!(placeholders("Hello {{first_name}}, {{ order_id }}"), 2);
        assert_eq!(placeholders("No parameters."), 0);
        assert_eq!(placeholders("Broken {{1} and {{}}"), 0);
    }
}
