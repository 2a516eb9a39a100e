//! Message templates, per channel, as Graph lists them (synced) and as status webhooks update
//! them. Template text is the business's own wording, not personal data: stored in clear.

use crate::error::StoreError;
use crate::scope::Scope;
use confide_core::ids::{ChannelId, TemplateId};
use sqlx::Row;

/// A template as Graph describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateDef {
    pub name: String,
    pub language: String,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    pub category: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, ...
    pub status: String,
    /// Placeholders in the body (`{{1}}`, or `{{name}}` for named parameters).
    pub body_params: i64,
    /// Meta's components (header, body, footer, buttons) as JSON.
    pub components: serde_json::Value,
}

/// A stored template.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTemplate {
    pub id: TemplateId,
    pub channel: ChannelId,
    pub def: TemplateDef,
    pub updated_at: i64,
}

impl<'s> Scope<'s> {
    /// The tenant's templates.
    pub fn templates(&mut self) -> Templates<'_, 's> {
        Templates { scope: self }
    }
}

/// What can be done to the tenant's templates, in the scope's transaction.
pub struct Templates<'a, 's> {
    scope: &'a mut Scope<'s>,
}

const COLUMNS: &str = "template_id, channel_id, name, language, category, status, body_params, components, updated_at";

impl Templates<'_, '_> {
    /// Records a template of `channel` as Graph lists it (by name and language); true when it
    /// was new.
    pub async fn upsert(
        &mut self,
        channel: ChannelId,
        def: &TemplateDef,
    ) -> Result<bool, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let now = self.scope.now();
        let components = def.components.to_string();
        let updated = sqlx::query(
            "UPDATE templates SET category = $1, status = $2, body_params = $3, components = $4, updated_at = $5 \
             WHERE tenant_id = $6 AND channel_id = $7 AND name = $8 AND language = $9",
        )
        .bind(def.category.clone())
        .bind(def.status.clone())
        .bind(def.body_params)
        .bind(components.clone())
        .bind(now)
        .bind(t.clone())
        .bind(channel.to_string())
        .bind(def.name.clone())
        .bind(def.language.clone())
        .execute(self.scope.conn())
        .await?
        .rows_affected();
        if updated > 0 {
            return Ok(false);
        }
        let id = TemplateId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        sqlx::query(
            "INSERT INTO templates (tenant_id, template_id, channel_id, name, language, category, status, body_params, components, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(channel.to_string())
        .bind(def.name.clone())
        .bind(def.language.clone())
        .bind(def.category.clone())
        .bind(def.status.clone())
        .bind(def.body_params)
        .bind(components)
        .bind(now)
        .execute(self.scope.conn())
        .await?;
        Ok(true)
    }

    /// Every template of the tenant, by channel, name and language.
    pub async fn list(&mut self) -> Result<Vec<StoredTemplate>, StoreError> {
        let rows = self
            .scope
            .tenant_rows(format!(
                "SELECT {COLUMNS} FROM templates WHERE tenant_id = $1 ORDER BY channel_id, name, language"
            ))
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The template `name` in `language` on `channel`, if Graph listed one.
    pub async fn find(
        &mut self,
        channel: ChannelId,
        name: &str,
        language: &str,
    ) -> Result<Option<StoredTemplate>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM templates WHERE tenant_id = $1 AND channel_id = $2 AND name = $3 AND language = $4"
        )))
        .bind(t)
        .bind(channel.to_string())
        .bind(name.to_string())
        .bind(language.to_string())
        .fetch_optional(self.scope.conn())
        .await?;
        row.as_ref().map(from_row).transpose()
    }
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredTemplate, StoreError> {
    let id: String = r.try_get(0)?;
    let channel: String = r.try_get(1)?;
    let components: String = r.try_get(7)?;
    Ok(StoredTemplate {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt("template id".into()))?,
        channel: channel
            .parse()
            .map_err(|_| StoreError::Corrupt("channel id".into()))?,
        def: TemplateDef {
            name: r.try_get(2)?,
            language: r.try_get(3)?,
            category: r.try_get(4)?,
            status: r.try_get(5)?,
            body_params: r.try_get(6)?,
            components: serde_json::from_str(&components)
                .map_err(|_| StoreError::Corrupt("template components".into()))?,
        },
        updated_at: r.try_get(8)?,
    })
}
