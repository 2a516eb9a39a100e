//! `GET /{waba_id}/message_templates` (paged) and `POST` (creates a PENDING template).

use axum::response::Response;
use base64::Engine as _;
use serde_json::Value;

use super::auth::authorize_waba;
use super::error::GraphError;
use super::request::{Req, ok_json};
use crate::config::{TemplateCategory, TemplateConfig, TemplateStatus};
use crate::state::Shared;
use crate::templates::valid_name;
use crate::wire::Node;

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 1000;
/// Templates a WhatsApp Business Account may hold (Meta's limit for a verified business).
const MESSAGE_TEMPLATE_LIMIT: u64 = 6000;

fn cursor(index: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(index.to_string())
}

fn parse_cursor(c: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    std::str::from_utf8(&raw).ok()?.parse().ok()
}

pub(super) fn list(shared: &Shared, waba: &str, req: &Req<'_>) -> Result<Response, GraphError> {
    let now = shared.now();
    let st = shared.lock();
    authorize_waba(&st, req.token.as_deref(), waba, "get", now)?;
    let limit = match req.query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| GraphError::param("Param limit must be a number between 1 and 1000."))?,
    };
    let start = match (req.query.get("after"), req.query.get("before")) {
        (Some(c), _) => parse_cursor(c)
            .map(|i| i + 1)
            .ok_or_else(|| GraphError::param("Param after is not a valid cursor."))?,
        // The page that ends just before this cursor.
        (None, Some(c)) => parse_cursor(c)
            .map(|i| i.saturating_sub(limit))
            .ok_or_else(|| GraphError::param("Param before is not a valid cursor."))?,
        (None, None) => 0,
    };
    let q = |k: &str| req.query.get(k).map(String::as_str);
    let matching: Vec<_> = st
        .templates
        .iter()
        .filter(|t| t.config.waba_id == waba)
        .filter(|t| q("name").is_none_or(|n| t.config.name.contains(n)))
        .filter(|t| q("status").is_none_or(|s| t.config.status.as_str().eq_ignore_ascii_case(s)))
        .filter(|t| q("language").is_none_or(|l| t.config.language == l))
        .filter(|t| {
            q("category").is_none_or(|c| t.config.category.as_str().eq_ignore_ascii_case(c))
        })
        .collect();
    let end = (start + limit).min(matching.len());
    let page: Vec<Node> = matching
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|t| t.graph_node())
        .collect();
    let mut paging = Node::obj();
    if !page.is_empty() {
        paging = paging.put(
            "cursors",
            Node::obj()
                .put("before", cursor(start))
                .put("after", cursor(end - 1)),
        );
        if start > 0 {
            paging = paging.put(
                "previous",
                format!(
                    "{}{}?limit={limit}&before={}",
                    shared.base_url,
                    req.path,
                    cursor(start)
                ),
            );
        }
        if end < matching.len() {
            paging = paging.put(
                "next",
                format!(
                    "{}{}?limit={limit}&after={}",
                    shared.base_url,
                    req.path,
                    cursor(end - 1)
                ),
            );
        }
    }
    let mut body = Node::obj().put("data", page).put("paging", paging);
    // `summary=total_count,message_template_count,...`: the counts Meta adds when asked.
    if let Some(fields) = q("summary") {
        let in_waba = st
            .templates
            .iter()
            .filter(|t| t.config.waba_id == waba)
            .count();
        let mut summary = Node::obj();
        for f in fields.split(',').map(str::trim) {
            summary = match f {
                "total_count" => summary.put(f, matching.len() as u64),
                "message_template_count" => summary.put(f, in_waba as u64),
                "message_template_limit" => summary.put(f, MESSAGE_TEMPLATE_LIMIT),
                "are_translations_complete" => summary.put(f, true),
                _ => summary,
            };
        }
        body = body.put("summary", summary);
    }
    Ok(ok_json(&body))
}

pub(super) fn create(shared: &Shared, waba: &str, req: &Req<'_>) -> Result<Response, GraphError> {
    let now = shared.now();
    let mut st = shared.lock();
    authorize_waba(&st, req.token.as_deref(), waba, "post", now)?;
    let v: Value = serde_json::from_slice(req.body)
        .map_err(|_| GraphError::param("Request body is not valid JSON."))?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::param("The parameter name is required."))?;
    if !valid_name(name) {
        return Err(GraphError::param(
            "Param name must contain only lowercase characters, numbers and underscores (at most 512).",
        ));
    }
    let language = v
        .get("language")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| GraphError::param("The parameter language is required."))?;
    let category = v
        .get("category")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::param("The parameter category is required."))?;
    let category = TemplateCategory::parse(category).ok_or_else(|| {
        GraphError::param(format!(
            "Param category must be one of {{AUTHENTICATION, MARKETING, UTILITY}} - got \"{category}\"."
        ))
    })?;
    let components = v
        .get("components")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::param("The parameter components is required."))?;
    let text_of = |kind: &str| {
        components
            .iter()
            .find(|c| {
                c.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .and_then(|c| c.get("text").and_then(Value::as_str))
            .map(str::to_owned)
    };
    let body = text_of("body")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| GraphError::param("A BODY component with text is required."))?;
    if body.chars().count() > 1024 {
        return Err(GraphError::param(
            "BODY text must be at most 1024 characters.",
        ));
    }
    let exists = st.templates.iter().any(|t| {
        t.config.waba_id == waba && t.config.name == name && t.config.language == language
    });
    if exists {
        return Err(GraphError::wa(
            400,
            100,
            "Invalid parameter",
            format!("Content in this language already exists: {name} ({language})"),
        )
        .with_subcode(2388024));
    }
    let mut cfg = TemplateConfig::new(
        waba,
        name,
        language,
        category,
        TemplateStatus::Pending,
        body,
    );
    cfg.header = text_of("header");
    let id = st.add_template(cfg);
    let resp = Node::obj()
        .put("id", id)
        .put("status", "PENDING")
        .put("category", category.as_str());
    Ok(ok_json(&resp))
}
