//! Message templates: listing every page of `GET /{WABA_ID}/message_templates` and creating one.

use std::collections::HashSet;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::de::string_or_number;
use super::error::GraphError;
use super::graph_client::{GraphClient, check_id};
use crate::send::{TemplateInfo, TemplateList, TemplateStatus};

/// `POST /{WABA_ID}/message_templates` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTemplate {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    pub status: TemplateStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

impl GraphClient {
    /// `GET /{WABA_ID}/message_templates`, every page: follows `paging.cursors.after` while
    /// `paging.next` says there is more, stopping on an empty page or a repeated cursor; fails with
    /// [`GraphError::TooManyPages`] beyond
    /// [`GraphClientOptions::max_template_pages`](super::GraphClientOptions::max_template_pages).
    /// The `next` URL itself is never fetched (only the cursor is used, on the configured base).
    pub async fn list_templates(&self, waba_id: &str) -> Result<Vec<TemplateInfo>, GraphError> {
        check_id("waba_id", waba_id)?;
        let mut all = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut after: Option<String> = None;
        let limit = self.opts.template_page_size.max(1).to_string();
        for _ in 0..self.opts.max_template_pages.max(1) {
            let mut url = self.endpoint(&[waba_id, "message_templates"])?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("limit", &limit);
                if let Some(a) = &after {
                    q.append_pair("after", a);
                }
            }
            let page: TemplateList = self.call(self.request(Method::GET, url)?).await?;
            let has_next = page.paging.as_ref().is_some_and(|p| p.next.is_some());
            let next = page.next_cursor().map(str::to_owned);
            let empty = page.data.is_empty();
            all.extend(page.data);
            match next {
                Some(c) if has_next && !empty && seen.insert(c.clone()) => after = Some(c),
                _ => return Ok(all),
            }
        }
        Err(GraphError::TooManyPages {
            pages: self.opts.max_template_pages.max(1),
        })
    }

    /// `POST /{WABA_ID}/message_templates` with Meta's template definition (`name`, `language`,
    /// `category`, `components`); the template starts `PENDING`.
    pub async fn create_template<B: Serialize + ?Sized>(
        &self,
        waba_id: &str,
        body: &B,
    ) -> Result<CreatedTemplate, GraphError> {
        check_id("waba_id", waba_id)?;
        let url = self.endpoint(&[waba_id, "message_templates"])?;
        self.call(self.request(Method::POST, url)?.json(body)).await
    }
}
