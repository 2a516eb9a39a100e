//! Webhook JSON as Meta lays it out: keys in Meta's order (an ordered [`Node`] tree, since
//! serde_json's map sorts keys), compact, non-ASCII escaped. Shared by the live simulator and by
//! [`crate::payloads`].

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::json_escape::escape_non_ascii;

/// A JSON value whose objects keep insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Value(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
}

impl Node {
    pub fn obj() -> Self {
        Node::Object(Vec::new())
    }

    /// Adds a key (builder style); a no-op on non-objects.
    pub fn put(mut self, key: &str, v: impl Into<Node>) -> Self {
        if let Node::Object(fields) = &mut self {
            fields.push((key.to_owned(), v.into()));
        }
        self
    }

    /// Adds a key only when the value is present.
    pub fn opt<T: Into<Node>>(self, key: &str, v: Option<T>) -> Self {
        match v {
            Some(v) => self.put(key, v),
            None => self,
        }
    }

    pub fn arr(items: Vec<Node>) -> Self {
        Node::Array(items)
    }

    /// Compact JSON, UTF-8 (not yet escaped).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A plain `serde_json::Value` (loses key order).
    pub fn to_value(&self) -> Value {
        match self {
            Node::Value(v) => v.clone(),
            Node::Object(f) => {
                Value::Object(f.iter().map(|(k, v)| (k.clone(), v.to_value())).collect())
            }
            Node::Array(a) => Value::Array(a.iter().map(Node::to_value).collect()),
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Value(v) => v.serialize(s),
            Node::Object(fields) => {
                let mut m = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Node::Array(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    q.serialize_element(i)?;
                }
                q.end()
            }
        }
    }
}

impl From<Value> for Node {
    fn from(v: Value) -> Self {
        Node::Value(v)
    }
}
impl From<&str> for Node {
    fn from(v: &str) -> Self {
        Node::Value(Value::from(v))
    }
}
impl From<String> for Node {
    fn from(v: String) -> Self {
        Node::Value(Value::from(v))
    }
}
impl From<&String> for Node {
    fn from(v: &String) -> Self {
        Node::Value(Value::from(v.as_str()))
    }
}
impl From<bool> for Node {
    fn from(v: bool) -> Self {
        Node::Value(Value::from(v))
    }
}
impl From<i64> for Node {
    fn from(v: i64) -> Self {
        Node::Value(Value::from(v))
    }
}
impl From<u64> for Node {
    fn from(v: u64) -> Self {
        Node::Value(Value::from(v))
    }
}
impl From<f64> for Node {
    fn from(v: f64) -> Self {
        Node::Value(Value::from(v))
    }
}
impl From<Vec<Node>> for Node {
    fn from(v: Vec<Node>) -> Self {
        Node::Array(v)
    }
}

/// Who a webhook is about, as this business may see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub name: String,
    pub username: Option<String>,
    /// Present only when the phone may be shared with this business.
    pub phone: Option<String>,
    pub parent_user_id: Option<String>,
}

/// The business number a webhook is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberMeta {
    pub display_phone_number: String,
    pub phone_number_id: String,
    pub waba_id: String,
}

pub fn metadata(n: &NumberMeta) -> Node {
    Node::obj()
        .put("display_phone_number", &n.display_phone_number)
        .put("phone_number_id", &n.phone_number_id)
}

/// `contacts[]` item. `with_username`: statuses show the username only on delivered/read.
pub fn contact(who: &Identity, with_username: bool) -> Node {
    let username = if with_username {
        who.username.as_deref()
    } else {
        None
    };
    Node::obj()
        .put(
            "profile",
            Node::obj().put("name", &who.name).opt("username", username),
        )
        .put("user_id", &who.user_id)
        .opt("parent_user_id", who.parent_user_id.as_deref())
        .opt("wa_id", who.phone.as_deref())
}

/// One inbound message object (`messages[]` item).
#[derive(Debug, Clone)]
pub struct InboundWire {
    pub id: String,
    pub timestamp: i64,
    pub kind: String,
    pub body: Node,
    pub context: Option<Node>,
    pub errors: Option<Node>,
}

pub fn inbound_message(who: &Identity, m: InboundWire) -> Node {
    let InboundWire {
        id,
        timestamp,
        kind,
        body,
        context,
        errors,
    } = m;
    Node::obj()
        .put("from_user_id", &who.user_id)
        .put("id", id)
        .put("timestamp", timestamp.to_string())
        .put("type", kind.as_str())
        .opt("from", who.phone.as_deref())
        .put(&kind, body)
        .opt("context", context)
        .opt("errors", errors)
}

/// A `field: "messages"` change carrying one inbound message.
pub fn message_change(n: &NumberMeta, who: &Identity, message: Node) -> Node {
    Node::obj().put("field", "messages").put(
        "value",
        Node::obj()
            .put("messaging_product", "whatsapp")
            .put("metadata", metadata(n))
            .put("contacts", vec![contact(who, true)])
            .put("messages", vec![message]),
    )
}

/// A `field: "messages"` change with a `system` message (no `contacts`).
pub fn system_change(n: &NumberMeta, message: Node) -> Node {
    Node::obj().put("field", "messages").put(
        "value",
        Node::obj()
            .put("messaging_product", "whatsapp")
            .put("metadata", metadata(n))
            .put("messages", vec![message]),
    )
}

/// `pricing` on a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub billable: bool,
    /// `regular`, `free_customer_service` or `free_entry_point`.
    pub kind: &'static str,
    /// `marketing`, `utility`, `authentication` or `service`.
    pub category: &'static str,
}

impl Pricing {
    pub fn node(&self) -> Node {
        Node::obj()
            .put("billable", self.billable)
            .put("pricing_model", "PMP")
            .put("type", self.kind)
            .put("category", self.category)
    }
}

/// One status object (`statuses[]` item).
#[derive(Debug, Clone)]
pub struct StatusWire {
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed`, `played`.
    pub status: &'static str,
    pub timestamp: i64,
    pub recipient_id: Option<String>,
    pub recipient_user_id: Option<String>,
    /// Set when the portfolio has linked BSUIDs.
    pub recipient_parent_user_id: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
    pub pricing: Option<Pricing>,
    /// `(code, title, details)` of a failure.
    pub error: Option<(i64, String, String)>,
}

pub fn status_node(s: &StatusWire) -> Node {
    let errors = s.error.as_ref().map(|(code, title, details)| {
        let mut e = Node::obj()
            .put("code", *code)
            .put("title", title.as_str())
            .put("message", title.as_str())
            .put("error_data", Node::obj().put("details", details.as_str()));
        if *code == 131047 {
            e = e.put(
                "href",
                "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            );
        }
        Node::arr(vec![e])
    });
    Node::obj()
        .put("id", &s.id)
        .put("status", s.status)
        .put("timestamp", s.timestamp.to_string())
        .opt("recipient_id", s.recipient_id.as_deref())
        .opt("recipient_user_id", s.recipient_user_id.as_deref())
        .opt(
            "recipient_parent_user_id",
            s.recipient_parent_user_id.as_deref(),
        )
        .opt(
            "biz_opaque_callback_data",
            s.biz_opaque_callback_data.as_deref(),
        )
        .opt("pricing", s.pricing.as_ref().map(Pricing::node))
        .opt("errors", errors)
}

/// A `field: "messages"` change with one status; `contacts` is left out on `failed`.
pub fn status_change(n: &NumberMeta, s: &StatusWire, who: Option<&Identity>) -> Node {
    let with_username = matches!(s.status, "delivered" | "read");
    let contacts = if s.status == "failed" {
        None
    } else {
        who.map(|w| vec![contact(w, with_username)])
    };
    Node::obj().put("field", "messages").put(
        "value",
        Node::obj()
            .put("messaging_product", "whatsapp")
            .put("metadata", metadata(n))
            .put("statuses", vec![status_node(s)])
            .opt("contacts", contacts),
    )
}

/// A `field: "user_preferences"` change.
pub fn user_preferences_change(n: &NumberMeta, who: &Identity, value: &str, ts: i64) -> Node {
    let detail = if value == "stop" {
        "User requested to stop marketing messages"
    } else {
        "User requested to resume marketing messages"
    };
    let pref = Node::obj()
        .opt("wa_id", who.phone.as_deref())
        .put("user_id", &who.user_id)
        .put("detail", detail)
        .put("category", "marketing_messages")
        .put("value", value)
        .put("timestamp", ts.to_string());
    Node::obj().put("field", "user_preferences").put(
        "value",
        Node::obj()
            .put("messaging_product", "whatsapp")
            .put("metadata", metadata(n))
            .put("contacts", vec![contact(who, true)])
            .put("user_preferences", vec![pref]),
    )
}

/// A `field: "message_template_status_update"` change.
pub fn template_status_change(
    event: &str,
    template_id: &str,
    name: &str,
    language: &str,
    reason: &str,
    category: &str,
) -> Node {
    let id: Node = match template_id.parse::<u64>() {
        Ok(n) => n.into(),
        Err(_) => template_id.into(),
    };
    Node::obj()
        .put("field", "message_template_status_update")
        .put(
            "value",
            Node::obj()
                .put("event", event)
                .put("message_template_id", id)
                .put("message_template_name", name)
                .put("message_template_language", language)
                .put("reason", reason)
                .put("message_template_category", category),
        )
}

/// The envelope around already-serialized changes, escaped as Meta sends it.
pub fn envelope(waba_id: &str, entry_time: Option<i64>, changes: &[&str]) -> String {
    let waba = serde_json::to_string(waba_id).unwrap_or_else(|_| "\"\"".to_owned());
    let mut out = String::with_capacity(64 + changes.iter().map(|c| c.len() + 1).sum::<usize>());
    out.push_str(r#"{"object":"whatsapp_business_account","entry":[{"id":"#);
    out.push_str(&waba);
    if let Some(t) = entry_time {
        out.push_str(r#","time":"#);
        out.push_str(&t.to_string());
    }
    out.push_str(r#","changes":["#);
    for (i, c) in changes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(c);
    }
    out.push_str("]}]}");
    escape_non_ascii(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_text_fixture_layout() {
        let n = NumberMeta {
            display_phone_number: "15550783881".into(),
            phone_number_id: "106540352242922".into(),
            waba_id: "102290129340398".into(),
        };
        let who = Identity {
            user_id: "US.13491208655302741918".into(),
            name: "Sheena Nelson".into(),
            username: None,
            phone: Some("16505551234".into()),
            parent_user_id: None,
        };
        let msg = inbound_message(
            &who,
            InboundWire {
                id: "wamid.TEXT0001".into(),
                timestamp: 1749416383,
                kind: "text".into(),
                body: Node::obj().put("body", "Does it come in another color? Grüße ✓"),
                context: None,
                errors: None,
            },
        );
        let change = message_change(&n, &who, msg).to_json();
        let body = envelope(&n.waba_id, None, &[&change]);
        let expected = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"user_id":"US.13491208655302741918","wa_id":"16505551234"}],"messages":[{"from_user_id":"US.13491208655302741918","id":"wamid.TEXT0001","timestamp":"1749416383","type":"text","from":"16505551234","text":{"body":"Does it come in another color? Gr\u00fc\u00dfe \u2713"}}]}}]}]}"#;
        assert_eq!(body, expected);
    }
}
