//! Contact export (GDPR Art. 15 and 20, claim C13): the whole contact book as CSV or JSON,
//! streamed page by page (a bounded channel of chunks: memory stays flat however large the book),
//! audited when it starts (`contacts.exported`, with the format only).
//!
//! CSV cells that start with `=`, `+`, `-`, `@`, a tab or a carriage return are neutralised with
//! a leading `'` (OWASP's advice against formula injection when a spreadsheet opens the file);
//! phone numbers therefore read `'+16505551234`, and the import takes that form back.

use crate::error::{AppError, Code};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::permissions::Permission;
use confide_store::contacts::{Contact, ContactCursor};
use serde_json::json;
use tokio::sync::mpsc;

/// The columns of the CSV export, in order (the import reads the same names).
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "phone",
    "wa_user_id",
    "username",
    "name",
    "labels",
    "attributes",
    "created_at",
    "updated_at",
];

/// The version of the JSON export's document (`{"version":1,"contacts":[...]}`).
pub const CONTACTS_JSON_VERSION: u32 = 1;

/// Contacts read per page (and per chunk sent).
const PAGE: i64 = 200;
/// Chunks waiting for the client at most.
const BUFFERED_CHUNKS: usize = 4;

/// The export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    /// `csv` (the default) or `json`; anything else is `invalid_query`.
    pub fn parse(s: Option<&str>) -> Result<ExportFormat, AppError> {
        match s.unwrap_or("csv") {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            _ => Err(AppError::new(
                Code::InvalidQuery,
                "format must be csv or json.",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
        }
    }
}

/// A streamed export: its format and its chunks, in order. An `Err` chunk ends it (the
/// response is cut off rather than completed with missing rows).
pub struct ExportStream {
    pub format: ExportFormat,
    pub chunks: mpsc::Receiver<Result<Vec<u8>, AppError>>,
}

/// A cell as a spreadsheet may safely open it: a leading `=`, `+`, `-`, `@`, tab or carriage
/// return is neutralised with `'`.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// One CSV field, neutralised and quoted when it needs to be (RFC 4180).
fn csv_field(out: &mut String, cell: &str) {
    let cell = neutralise(cell);
    if cell.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&cell);
    }
}

pub(crate) fn csv_row(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, c);
    }
    out.push_str("\r\n");
}

/// RFC 3339 text of a stored time.
pub(crate) fn rfc3339(micros: i64) -> String {
    confide_core::clock::from_micros(micros)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn contact_csv(out: &mut String, c: &Contact) {
    let id = c.id.to_string();
    let labels = c.labels.join(";");
    let attributes = serde_json::Value::Object(c.attributes.clone()).to_string();
    let (created, updated) = (rfc3339(c.created_at), rfc3339(c.updated_at));
    csv_row(
        out,
        &[
            &id,
            c.phone.as_ref().map_or("", |p| p.as_str()),
            c.wa_user_id.as_deref().unwrap_or(""),
            c.username.as_deref().unwrap_or(""),
            c.name.as_deref().unwrap_or(""),
            &labels,
            &attributes,
            &created,
            &updated,
        ],
    );
}

/// A contact as the JSON export and the API show it.
pub fn contact_json(c: &Contact) -> serde_json::Value {
    json!({
        "id": c.id.to_string(),
        "phone": c.phone.as_ref().map(|p| p.as_str().to_string()),
        "wa_user_id": c.wa_user_id,
        "username": c.username,
        "name": c.name,
        "labels": c.labels,
        "attributes": c.attributes,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    })
}

impl App {
    /// Starts a streamed export of the caller's tenant's contact book (`contacts.export`).
    pub async fn export_contacts(
        &self,
        p: &Principal,
        format: Option<&str>,
        request_id: Option<String>,
    ) -> Result<ExportStream, AppError> {
        p.require(Permission::ContactsExport)?;
        let format = ExportFormat::parse(format)?;
        let mut s = self.store.scope(p.tenant).await?;
        let total = s.count_rows("contacts").await?;
        s.audit(
            &AuditEvent::new(
                p.actor(),
                "contacts.exported",
                format!("tenant:{}", p.tenant),
            )
            .with_details(json!({"format": format.as_str(), "contacts": total}))
            .with_request_id(request_id),
        )
        .await?;
        s.commit().await?;
        let (tx, rx) = mpsc::channel(BUFFERED_CHUNKS);
        let app = self.clone();
        let tenant = p.tenant;
        tokio::spawn(async move {
            if let Err(e) = app.stream_contacts(tenant, format, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        Ok(ExportStream { format, chunks: rx })
    }

    /// Pages through the contact book (newest first), each page in its own short read
    /// transaction, sending one chunk per page. Stops when the receiver is gone.
    async fn stream_contacts(
        &self,
        tenant: confide_core::ids::TenantId,
        format: ExportFormat,
        tx: &mpsc::Sender<Result<Vec<u8>, AppError>>,
    ) -> Result<(), AppError> {
        let mut head = String::new();
        match format {
            ExportFormat::Csv => csv_row(&mut head, CSV_COLUMNS),
            ExportFormat::Json => {
                head.push_str(&format!(
                    "{{\"version\":{CONTACTS_JSON_VERSION},\"contacts\":["
                ));
            }
        }
        if tx.send(Ok(head.into_bytes())).await.is_err() {
            return Ok(());
        }
        let mut after: Option<ContactCursor> = None;
        let mut first = true;
        loop {
            let mut s = self.store.read_scope(tenant).await?;
            let page = s.contacts().list(None, after, PAGE).await?;
            s.commit().await?;
            let mut chunk = String::new();
            for c in &page.items {
                match format {
                    ExportFormat::Csv => contact_csv(&mut chunk, c),
                    ExportFormat::Json => {
                        if !first {
                            chunk.push(',');
                        }
                        chunk.push_str(&contact_json(c).to_string());
                    }
                }
                first = false;
            }
            if !chunk.is_empty() && tx.send(Ok(chunk.into_bytes())).await.is_err() {
                return Ok(());
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if format == ExportFormat::Json {
            let _ = tx.send(Ok(b"]}".to_vec())).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for (cell, want) in [
            ("=1+1", "'=1+1"),
            ("+16505551234", "'+16505551234"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Sheena", "Sheena"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralise(cell), want, "{cell:?}");
        }
        let mut row = String::new();
        csv_row(&mut row, &["=HYPERLINK(\"x\")", "a,b", "plain"]);
        assert_eq!(row, "\"'=HYPERLINK(\"\"x\"\")\",\"a,b\",plain\r\n");
    }
}
