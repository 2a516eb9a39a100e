//! Reads for the full export (GDPR Art. 15 and 20): every table of a tenant's data, or one
//! contact's share of it, in keyset pages by id (ids are UUIDv7, so id order is creation order),
//! decrypted in the scope that reads them. The application writes the pages into the export's zip
//! as they come: nothing here holds more than a page.
//!
//! Contacts come from [`crate::contacts::Contacts::list`] and `get`, templates from
//! [`crate::templates::Templates::list`]; the rest is here.

use crate::audit::entry_from_row;
use crate::conversations::{Direction, Message};
use crate::error::{StoreError, parse_id};
use crate::media_objects::MediaObject;
use crate::scope::Scope;
use confide_core::audit::AuditEntry;
use confide_core::ids::ContactId;
use sqlx::Row;

/// Whose data an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// Everything of the tenant.
    Tenant,
    /// One contact's share: their record, ledger, conversations, messages, notes, charges, the
    /// audit entries naming them or their conversations, and their media.
    Contact(ContactId),
}

/// A conversation as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConversation {
    pub id: String,
    pub contact_id: String,
    pub channel_id: String,
    pub status: String,
    pub assignee: Option<String>,
    pub last_inbound_at: Option<i64>,
    pub last_message_at: i64,
    pub created_at: i64,
}

/// A message as exported: the message and the media object that came with it (inbound) or that
/// it sent (outbound, named in its body).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportMessage {
    pub message: Message,
    pub contact_id: String,
    pub media_id: Option<String>,
}

/// A note as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportNote {
    pub id: String,
    pub conversation_id: String,
    pub author: String,
    pub text: String,
    pub created_at: i64,
}

/// A consent event as exported (the contact's ledger, append-only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConsent {
    pub id: String,
    pub contact_id: String,
    pub purpose: String,
    pub status: String,
    pub source: String,
    pub evidence: Option<String>,
    pub actor: String,
    pub created_at: i64,
}

/// A charge (Meta's pricing of one outbound message) as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCharge {
    pub wamid: String,
    pub phone_number_id: String,
    pub category: String,
    pub pricing_model: Option<String>,
    pub pricing_type: Option<String>,
    pub billable: bool,
    pub at: i64,
}

/// The conversations of the subject contact (`$2`) of tenant `$1`.
const CONVERSATIONS_OF: &str =
    "SELECT conversation_id FROM conversations WHERE tenant_id = $1 AND contact_id = $2";

/// `AND <column> IN (...)` limiting rows to the subject contact (bound as `$2`), or nothing.
fn of_subject(subject: Subject, column: &str, of: &str) -> String {
    match subject {
        Subject::Tenant => String::new(),
        Subject::Contact(_) => format!(" AND {column} IN ({of})"),
    }
}

/// `AND contact_id = $2` for a contact's export, or nothing.
fn contact_eq(subject: Subject) -> String {
    match subject {
        Subject::Tenant => String::new(),
        Subject::Contact(_) => " AND contact_id = $2".to_string(),
    }
}

impl Scope<'_> {
    /// Runs a page query: `$1` the tenant, `$2` the subject contact when there is one, then the
    /// cursor (when given) and the limit.
    async fn export_rows(
        &mut self,
        subject: Subject,
        sql: String,
        after: Option<String>,
        limit: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let t = self.tenant_str().to_string();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(t);
        if let Subject::Contact(c) = subject {
            q = q.bind(c.to_string());
        }
        if let Some(a) = after {
            q = q.bind(a);
        }
        Ok(q.bind(limit).fetch_all(self.conn()).await?)
    }

    /// The keyset clause of a page after `after` on `column`, with the placeholders numbered
    /// after the tenant and the subject.
    fn keyset(subject: Subject, column: &str, after: bool) -> String {
        let first = if matches!(subject, Subject::Contact(_)) {
            3
        } else {
            2
        };
        if after {
            format!(
                " AND {column} > ${first} ORDER BY {column} LIMIT ${}",
                first + 1
            )
        } else {
            format!(" ORDER BY {column} LIMIT ${first}")
        }
    }

    /// How many rows each part of the export has (for its progress).
    pub async fn export_counts(&mut self, subject: Subject) -> Result<Vec<i64>, StoreError> {
        let queries = [
            ("contacts", contact_eq(subject)),
            ("consent_events", contact_eq(subject)),
            ("conversations", contact_eq(subject)),
            (
                "messages",
                of_subject(subject, "conversation_id", CONVERSATIONS_OF),
            ),
            (
                "notes",
                of_subject(subject, "conversation_id", CONVERSATIONS_OF),
            ),
            (
                "charges",
                of_subject(
                    subject,
                    "wamid",
                    &format!(
                        "SELECT wamid FROM messages WHERE tenant_id = $1 AND wamid IS NOT NULL AND conversation_id IN ({CONVERSATIONS_OF})"
                    ),
                ),
            ),
        ];
        let mut out = Vec::with_capacity(queries.len());
        for (table, filter) in queries {
            let rows = self
                .export_count_rows(
                    subject,
                    format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1{filter}"),
                )
                .await?;
            out.push(rows);
        }
        Ok(out)
    }

    async fn export_count_rows(
        &mut self,
        subject: Subject,
        sql: String,
    ) -> Result<i64, StoreError> {
        let t = self.tenant_str().to_string();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(t);
        if let Subject::Contact(c) = subject {
            q = q.bind(c.to_string());
        }
        Ok(q.fetch_one(self.conn()).await?.try_get::<i64, _>(0)?)
    }

    /// A page of consent events, by id.
    pub async fn export_consent(
        &mut self,
        subject: Subject,
        after: Option<String>,
        limit: i64,
    ) -> Result<Vec<ExportConsent>, StoreError> {
        let sql = format!(
            "SELECT event_id, contact_id, purpose, status, source, evidence_ct, actor, created_at, source_ct \
             FROM consent_events WHERE tenant_id = $1{}{}",
            contact_eq(subject),
            Self::keyset(subject, "event_id", after.is_some())
        );
        let rows = self.export_rows(subject, sql, after, limit).await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let evidence: Option<Vec<u8>> = r.try_get(5)?;
                let sealed_source: Option<Vec<u8>> = r.try_get(8)?;
                let source = match sealed_source {
                    Some(ct) => self.open_string("consent_events", "source", &id, &ct)?,
                    None => r.try_get(4)?,
                };
                Ok(ExportConsent {
                    evidence: evidence
                        .map(|e| self.open_string("consent_events", "evidence", &id, &e))
                        .transpose()?,
                    contact_id: r.try_get(1)?,
                    purpose: r.try_get(2)?,
                    status: r.try_get(3)?,
                    source,
                    actor: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                    id,
                })
            })
            .collect()
    }

    /// A page of conversations, by id.
    pub async fn export_conversations(
        &mut self,
        subject: Subject,
        after: Option<String>,
        limit: i64,
    ) -> Result<Vec<ExportConversation>, StoreError> {
        let sql = format!(
            "SELECT conversation_id, contact_id, channel_id, status, assignee_user_id, last_inbound_at, last_message_at, created_at \
             FROM conversations WHERE tenant_id = $1{}{}",
            contact_eq(subject),
            Self::keyset(subject, "conversation_id", after.is_some())
        );
        let rows = self.export_rows(subject, sql, after, limit).await?;
        rows.iter()
            .map(|r| {
                Ok(ExportConversation {
                    id: r.try_get(0)?,
                    contact_id: r.try_get(1)?,
                    channel_id: r.try_get(2)?,
                    status: r.try_get(3)?,
                    assignee: r.try_get(4)?,
                    last_inbound_at: r.try_get(5)?,
                    last_message_at: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// A page of messages, by id, each with its contact and its media object.
    pub async fn export_messages(
        &mut self,
        subject: Subject,
        after: Option<String>,
        limit: i64,
    ) -> Result<Vec<ExportMessage>, StoreError> {
        let filter = match subject {
            Subject::Tenant => String::new(),
            Subject::Contact(_) => " AND c.contact_id = $2".to_string(),
        };
        let sql = format!(
            "SELECT m.message_id, m.direction, m.wamid, m.kind, m.body_ct, m.status, m.created_at, m.error_reason, \
             m.conversation_id, c.contact_id, \
             (SELECT MIN(o.media_id) FROM media_objects o WHERE o.tenant_id = m.tenant_id AND o.message_id = m.message_id) \
             FROM messages m JOIN conversations c ON c.tenant_id = m.tenant_id AND c.conversation_id = m.conversation_id \
             WHERE m.tenant_id = $1{filter}{}",
            Self::keyset(subject, "m.message_id", after.is_some())
        );
        let rows = self.export_rows(subject, sql, after, limit).await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let direction: String = r.try_get(1)?;
                let body: Option<Vec<u8>> = r.try_get(4)?;
                let body = match body {
                    Some(b) => {
                        serde_json::from_str(&self.open_string("messages", "body", &id, &b)?)
                            .map_err(|_| StoreError::Corrupt("message body".into()))?
                    }
                    None => serde_json::Value::Null,
                };
                let conversation: String = r.try_get(8)?;
                let inbound_media: Option<String> = r.try_get(10)?;
                // An outbound media message names the uploaded object it sent.
                let media_id = inbound_media.or_else(|| {
                    body.get("media_id")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                });
                Ok(ExportMessage {
                    message: Message {
                        id: parse_id(id, "message")?,
                        conversation_id: parse_id(conversation, "conversation")?,
                        direction: if direction == "inbound" {
                            Direction::Inbound
                        } else {
                            Direction::Outbound
                        },
                        wamid: r.try_get(2)?,
                        kind: r.try_get(3)?,
                        body,
                        status: r.try_get(5)?,
                        error: r.try_get(7)?,
                        created_at: r.try_get(6)?,
                    },
                    contact_id: r.try_get(9)?,
                    media_id,
                })
            })
            .collect()
    }

    /// A page of internal notes, by id.
    pub async fn export_notes(
        &mut self,
        subject: Subject,
        after: Option<String>,
        limit: i64,
    ) -> Result<Vec<ExportNote>, StoreError> {
        let sql = format!(
            "SELECT note_id, conversation_id, author, text_ct, created_at FROM notes WHERE tenant_id = $1{}{}",
            of_subject(subject, "conversation_id", CONVERSATIONS_OF),
            Self::keyset(subject, "note_id", after.is_some())
        );
        let rows = self.export_rows(subject, sql, after, limit).await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let sealed: Vec<u8> = r.try_get(3)?;
                Ok(ExportNote {
                    text: self.open_string("notes", "text", &id, &sealed)?,
                    conversation_id: r.try_get(1)?,
                    author: r.try_get(2)?,
                    created_at: r.try_get(4)?,
                    id,
                })
            })
            .collect()
    }

    /// A page of charges, by wamid.
    pub async fn export_charges(
        &mut self,
        subject: Subject,
        after: Option<String>,
        limit: i64,
    ) -> Result<Vec<ExportCharge>, StoreError> {
        let sql = format!(
            "SELECT wamid, phone_number_id, category, pricing_model, pricing_type, billable, at FROM charges WHERE tenant_id = $1{}{}",
            of_subject(
                subject,
                "wamid",
                &format!(
                    "SELECT wamid FROM messages WHERE tenant_id = $1 AND wamid IS NOT NULL AND conversation_id IN ({CONVERSATIONS_OF})"
                )
            ),
            Self::keyset(subject, "wamid", after.is_some())
        );
        let rows = self.export_rows(subject, sql, after, limit).await?;
        rows.iter()
            .map(|r| {
                let billable: i64 = r.try_get(5)?;
                Ok(ExportCharge {
                    wamid: r.try_get(0)?,
                    phone_number_id: r.try_get(1)?,
                    category: r.try_get(2)?,
                    pricing_model: r.try_get(3)?,
                    pricing_type: r.try_get(4)?,
                    billable: billable != 0,
                    at: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// A page of audit entries, oldest first, after `after_seq`: the whole log for the tenant,
    /// or the entries whose target is the contact or one of their conversations.
    pub async fn export_audit(
        &mut self,
        subject: Subject,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let t = self.tenant_str().to_string();
        let cols =
            "tenant_id, seq, at, actor, action, target, request_id, details, prev_hash, hash, seal";
        let rows = match subject {
            Subject::Tenant => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {cols} FROM audit_entries WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                )))
                .bind(t)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(self.conn())
                .await?
            }
            Subject::Contact(c) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {cols} FROM audit_entries WHERE tenant_id = $1 AND seq > $3 AND \
                     (target = 'contact:' || $2 OR target IN \
                      (SELECT 'conversation:' || conversation_id FROM conversations WHERE tenant_id = $1 AND contact_id = $2)) \
                     ORDER BY seq LIMIT $4"
                )))
                .bind(t)
                .bind(c.to_string())
                .bind(after_seq)
                .bind(limit)
                .fetch_all(self.conn())
                .await?
            }
        };
        rows.iter().map(entry_from_row).collect()
    }

    /// A page of the tenant's media objects, by id (tenant exports; a contact's export takes the
    /// objects its messages name, one by one).
    pub async fn export_media(
        &mut self,
        after: Option<String>,
        limit: i64,
    ) -> Result<Vec<MediaObject>, StoreError> {
        let mut out = Vec::new();
        let ids: Vec<String> = {
            let sql = format!(
                "SELECT media_id FROM media_objects WHERE tenant_id = $1{}",
                Self::keyset(Subject::Tenant, "media_id", after.is_some())
            );
            self.export_rows(Subject::Tenant, sql, after, limit)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?
        };
        for id in ids {
            out.push(self.media_objects().get(parse_id(id, "media")?).await?);
        }
        Ok(out)
    }
}
