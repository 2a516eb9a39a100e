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
use confide_whatsapp::send::{TemplateComponentInfo, TemplateInfo};
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
    fn render_fills_positional_and_named_placeholders_and_names_the_missing() {
        let (t, m) = render("Hi {{1}}, order {{2}} ships {{1}}.", &json!(["Ana", 42]));
        assert_eq!((t.as_str(), m.len()), ("Hi Ana, order 42 ships Ana.", 0));
        let (t, m) = render("Hi {{name}}, {{when}}", &json!({"name": "Ana"}));
        assert_eq!(t, "Hi Ana, {{when}}");
        assert_eq!(m, vec!["when".to_string()]);
        let (t, m) = render("Hi {{1}} {{", &json!([]));
        assert_eq!((t.as_str(), m), ("Hi {{1}} {{", vec!["1".to_string()]));
    }

    #[test]
    fn placeholders_count_distinct_positional_and_named_parameters() {
        assert_eq!(placeholders("Hi {{1}}, your order {{2}} ships {{3}}."), 3);
        assert_eq!(placeholders("{{1}} and again {{1}}"), 1);
        assert_eq!(placeholders("Hello {{first_name}}, {{ order_id }}"), 2);
        assert_eq!(placeholders("No parameters."), 0);
        assert_eq!(placeholders("Broken {{1} and {{}}"), 0);
    }
}

/// A template rendered with the parameters a send would give it, as the customer would see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TemplatePreview {
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    /// The header's text, or `[IMAGE]`-style for a media header.
    pub header: Option<String>,
    pub body: String,
    pub footer: Option<String>,
    /// The buttons' labels.
    pub buttons: Vec<String>,
    /// Placeholders of the body that the parameters leave empty (the send would be refused).
    pub missing: Vec<String>,
}

/// What to preview: a template of a channel (the first channel with it when none is named),
/// and its body parameters, positional (`["a","b"]`) or named (`{"name":"a"}`).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub template: String,
    pub language: String,
    pub channel_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

/// `text` with `{{1}}`, `{{2}}`... (positional, 1-based) or `{{name}}` replaced; the names left
/// without a value.
pub fn render(text: &str, params: &serde_json::Value) -> (String, Vec<String>) {
    let value = |name: &str| -> Option<String> {
        let v = match params {
            serde_json::Value::Array(items) => {
                let i: usize = name.parse().ok()?;
                items.get(i.checked_sub(1)?)?
            }
            serde_json::Value::Object(map) => map.get(name)?,
            _ => return None,
        };
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = after[..end].trim();
        match value(name) {
            Some(v) => out.push_str(&v),
            None => {
                out.push_str(&rest[start..start + 2 + end + 2]);
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_string());
                }
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    (out, missing)
}

impl App {
    /// Renders a synced template with parameters, for the composer's preview.
    pub async fn preview_template(
        &self,
        p: &Principal,
        input: &PreviewInput,
    ) -> Result<TemplatePreview, AppError> {
        p.require(Permission::InboxRead)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let found = match &input.channel_id {
            Some(c) => {
                let channel = c.parse().map_err(|_| {
                    AppError::new(
                        Code::InvalidChannel,
                        "channel_id names no channel of this account.",
                    )
                })?;
                s.templates()
                    .find(channel, &input.template, &input.language)
                    .await?
            }
            None => s
                .templates()
                .list()
                .await?
                .into_iter()
                .find(|t| t.def.name == input.template && t.def.language == input.language),
        };
        let t = found.ok_or_else(|| {
            AppError::new(
                Code::TemplateNotApproved,
                "No template of that name and language; sync templates from Graph first.",
            )
        })?;
        let components: Vec<TemplateComponentInfo> =
            serde_json::from_value(t.def.components.clone()).unwrap_or_default();
        let part = |kind: &str| {
            components
                .iter()
                .find(|c| c.kind.eq_ignore_ascii_case(kind))
        };
        let (body, missing) = render(
            part("BODY")
                .and_then(|c| c.text.as_deref())
                .unwrap_or_default(),
            &input.params,
        );
        let header = part("HEADER").map(|h| match (&h.format, &h.text) {
            (Some(f), _) if !f.eq_ignore_ascii_case("TEXT") => format!("[{}]", f.to_uppercase()),
            (_, Some(text)) => text.clone(),
            _ => String::new(),
        });
        let footer = part("FOOTER").and_then(|f| f.text.clone());
        let buttons = part("BUTTONS")
            .map(|b| {
                b.buttons
                    .iter()
                    .filter_map(|x| x["text"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(TemplatePreview {
            name: t.def.name.clone(),
            language: t.def.language.clone(),
            status: t.def.status.clone(),
            category: t.def.category.clone(),
            header,
            body,
            footer,
            buttons,
            missing,
        })
    }
}
