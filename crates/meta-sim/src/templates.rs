//! Templates: placeholders, the send-time checks (132001/132000/132015/132016), Graph JSON.

use crate::config::{TemplateCategory, TemplateConfig, TemplateStatus};
use crate::wire::Node;

/// A template the simulator holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: String,
    pub config: TemplateConfig,
}

/// Distinct placeholders (`{{1}}`, `{{name}}`) in a text.
pub fn placeholder_count(text: &str) -> usize {
    placeholders(text).len()
}

/// The distinct placeholder names (`1`, `name`) of a text, in order of first use.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut seen: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !seen.contains(&name)
        {
            seen.push(name);
        }
        rest = &after[end + 2..];
    }
    seen
}

/// A template's parameters are named when any placeholder is not a number.
fn is_named(names: &[&str]) -> bool {
    names.iter().any(|n| !n.chars().all(|c| c.is_ascii_digit()))
}

/// The `example` Meta lists on a `HEADER` or `BODY` component with variables (`part` is
/// `header` or `body`): sample values, positional (`body_text: [[...]]`, `header_text: [...]`)
/// or named (`body_text_named_params: [{param_name, example}]`). `None` without variables.
fn example(part: &str, text: &str, named: bool) -> Option<Node> {
    let names = placeholders(text);
    if names.is_empty() {
        return None;
    }
    let sample = |n: &str| format!("Sample {n}");
    if named {
        let params: Vec<Node> = names
            .iter()
            .map(|n| Node::obj().put("param_name", *n).put("example", sample(n)))
            .collect();
        return Some(Node::obj().put(&format!("{part}_text_named_params"), params));
    }
    let values: Vec<Node> = names.iter().map(|n| Node::from(sample(n))).collect();
    Some(if part == "body" {
        Node::obj().put("body_text", vec![Node::from(values)])
    } else {
        Node::obj().put("header_text", values)
    })
}

/// A template name Meta accepts: lowercase letters, digits and underscores, at most 512.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Template {
    pub fn body_params(&self) -> usize {
        placeholder_count(&self.config.body)
    }

    pub fn header_params(&self) -> usize {
        self.config
            .header
            .as_deref()
            .map(placeholder_count)
            .unwrap_or(0)
    }

    /// The template as `GET /{waba_id}/message_templates` lists it: components with variables
    /// carry Meta's `example`, and `parameter_format` is `NAMED` when a placeholder is a name.
    pub fn graph_node(&self) -> Node {
        let mut all = placeholders(&self.config.body);
        if let Some(h) = &self.config.header {
            all.extend(placeholders(h));
        }
        let named = is_named(&all);
        let mut components = Vec::new();
        if let Some(h) = &self.config.header {
            components.push(
                Node::obj()
                    .put("type", "HEADER")
                    .put("format", "TEXT")
                    .put("text", h.as_str())
                    .opt("example", example("header", h, named)),
            );
        }
        components.push(
            Node::obj()
                .put("type", "BODY")
                .put("text", self.config.body.as_str())
                .opt("example", example("body", &self.config.body, named)),
        );
        Node::obj()
            .put("name", self.config.name.as_str())
            .put(
                "parameter_format",
                if named { "NAMED" } else { "POSITIONAL" },
            )
            .put("components", components)
            .put("language", self.config.language.as_str())
            .put("status", self.config.status.as_str())
            .put("category", self.config.category.as_str())
            .put("id", self.id.as_str())
    }

    pub fn is_sendable(&self) -> bool {
        self.config.status == TemplateStatus::Approved
    }

    pub fn category(&self) -> TemplateCategory {
        self.config.category
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_placeholders() {
        assert_eq!(placeholder_count("Hi {{1}}, order {{2}} ships {{1}}"), 2);
        assert_eq!(placeholder_count("no params"), 0);
        assert_eq!(placeholder_count("{{first_name}} and {{ 2 }}"), 2);
        assert_eq!(placeholder_count("broken {{1"), 0);
    }

    #[test]
    fn names() {
        assert!(valid_name("order_confirmation_2"));
        assert!(!valid_name("Order"));
        assert!(!valid_name(""));
    }
}
