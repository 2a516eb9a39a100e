//! Contact import (`POST /api/v1/contacts/import`, `text/csv`): a header row, then one contact per
//! row. The body is fed in chunks ([`Import::feed`]) to a push parser (`csv-core`): nothing holds
//! the whole file.
//!
//! - **Columns** (case-insensitive; `map=Their Name=phone,...` renames others): `phone`,
//!   `wa_user_id`, `name`, `labels` (separated by `;`), `attributes` (a JSON object) and
//!   `attr:KEY` columns, and a consent event: `consent` (`opted_in`/`opted_out`),
//!   `consent_purpose` (default `marketing`), `consent_source` (default `import`),
//!   `consent_evidence`. The export's other columns (`id`, `username`, `created_at`,
//!   `updated_at`) are ignored, so an export imports back; so is a cell the export neutralised
//!   (`'+1650…`).
//! - **Phone numbers** are read with libphonenumber's metadata (the `phonenumber` crate): a
//!   number with its country code (`+55 11 98765-4321`, `0055…`, or WhatsApp's bare
//!   `551198765 4321`) or, with the tenant's default region (or `region=`), a local one
//!   (`(11) 98765-4321`); it must be a valid number of its country. Brazilian mobiles written
//!   without their ninth digit become the same number (see `confide_core::phone`).
//! - **Dedupe**: a row whose phone number or WhatsApp user id is already a contact's (an earlier
//!   row included) updates it (`updated`); anything else is created (`imported`).
//! - **Modes**: `partial` (the default) writes every good row, a transaction per 500 rows, and
//!   reports each rejected row; `all_or_nothing` writes nothing unless every row is good (the
//!   checked rows wait in memory until the end, then go in one transaction).
//! - Each transaction is audited (`contacts.imported`, counts only).

use crate::contacts::{check_attributes, check_consent, check_name};
use crate::error::{AppError, Code};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::ids::TenantId;
use confide_core::permissions::Permission;
use confide_core::phone::Phone;
use confide_store::StoreError;
use confide_store::import::{ImportContact, Imported};
use csv_core::{ReadRecordResult, Reader};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Rows written per transaction in `partial` mode.
const CHUNK_ROWS: usize = 500;
/// The largest import body, in bytes.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;
/// The longest row, in bytes.
const MAX_ROW_BYTES: usize = 64 * 1024;

/// How an import treats bad rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    Partial,
    AllOrNothing,
}

impl ImportMode {
    pub fn parse(s: Option<&str>) -> Result<ImportMode, AppError> {
        match s.unwrap_or("partial") {
            "partial" => Ok(ImportMode::Partial),
            "all_or_nothing" => Ok(ImportMode::AllOrNothing),
            _ => Err(AppError::new(
                Code::InvalidQuery,
                "mode must be partial or all_or_nothing.",
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ImportMode::Partial => "partial",
            ImportMode::AllOrNothing => "all_or_nothing",
        }
    }
}

/// An import's options, as the query string gave them.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct ImportOptions {
    /// `partial` (default: every good row is imported, each bad one reported) or
    /// `all_or_nothing` (nothing is imported unless every row is good).
    pub mode: Option<String>,
    /// The region (ISO 3166 alpha-2, e.g. `BR`) of numbers written without a country code;
    /// default: the tenant's.
    pub region: Option<String>,
    /// Renames columns: `Their Header=phone,Other=name` (targets are the column names above).
    pub map: Option<String>,
}

/// One rejected row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rejected {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub mode: &'static str,
    /// Contacts created.
    pub imported: u64,
    /// Existing contacts updated (found by phone number or WhatsApp user id).
    pub updated: u64,
    pub rejected: Vec<Rejected>,
    /// False when `all_or_nothing` wrote nothing because of rejected rows.
    pub committed: bool,
}

/// Where a column goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Phone,
    WaUser,
    Name,
    Labels,
    Attributes,
    Attribute(String),
    Consent,
    ConsentPurpose,
    ConsentSource,
    ConsentEvidence,
    Ignored,
}

fn column(name: &str) -> Result<Column, String> {
    let n = name
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase();
    if let Some(key) = n
        .strip_prefix("attr:")
        .or_else(|| n.strip_prefix("attributes."))
    {
        let original = name.trim().trim_start_matches('\u{feff}');
        let key = &original[original.len() - key.len()..];
        return Ok(Column::Attribute(key.trim().to_string()));
    }
    Ok(match n.as_str() {
        "phone" | "phone_number" | "mobile" | "wa_id" => Column::Phone,
        "wa_user_id" | "bsuid" => Column::WaUser,
        "name" | "full_name" => Column::Name,
        "labels" | "tags" => Column::Labels,
        "attributes" => Column::Attributes,
        "consent" | "consent_status" => Column::Consent,
        "consent_purpose" => Column::ConsentPurpose,
        "consent_source" => Column::ConsentSource,
        "consent_evidence" => Column::ConsentEvidence,
        "id" | "username" | "created_at" | "updated_at" | "" => Column::Ignored,
        other => return Err(format!("unknown column {other:?} (map it with map=)")),
    })
}

/// A cell the export neutralised (`'=…`, `'+…`) read back as it was.
fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// Reads a phone number as written in an address book (see the module documentation).
pub fn parse_phone(input: &str, region: Option<phonenumber::country::Id>) -> Result<Phone, String> {
    let s = unneutralise(input.trim()).trim();
    if s.is_empty() {
        return Err("the phone number is empty".into());
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let international = s.starts_with('+') || s.starts_with("00");
    let mut candidates: Vec<String> = Vec::new();
    if international {
        candidates.push(format!("+{}", digits.trim_start_matches("00")));
    } else {
        if region.is_some() {
            candidates.push(s.to_string());
        }
        // WhatsApp and many exports write the country code without a +.
        candidates.push(format!("+{digits}"));
    }
    for (i, c) in candidates.iter().enumerate() {
        let r = if c.starts_with('+') { None } else { region };
        let Ok(n) = phonenumber::parse(r, c) else {
            continue;
        };
        let e164 = n.format().mode(phonenumber::Mode::E164).to_string();
        // Brazil's ninth digit, before the validity check (an eight-digit mobile is no longer
        // a valid number of its own).
        let Ok(phone) = Phone::parse(&e164) else {
            continue;
        };
        let Ok(checked) = phonenumber::parse(None, phone.as_str()) else {
            continue;
        };
        if phonenumber::is_valid(&checked) {
            return Ok(phone);
        }
        if i + 1 == candidates.len() {
            return Err("not a valid phone number of its country".into());
        }
    }
    Err(match region {
        Some(_) => "not a phone number".into(),
        None => "not a phone number with its country code (set the tenant's default region or region= for local numbers)".into(),
    })
}

/// The parsed header.
struct Header {
    columns: Vec<Column>,
}

/// An import being fed.
pub struct Import {
    app: App,
    tenant: TenantId,
    actor: String,
    audit_actor: confide_core::audit::Actor,
    request_id: Option<String>,
    mode: ImportMode,
    region: Option<phonenumber::country::Id>,
    map: Vec<(String, String)>,
    reader: Reader,
    field_buf: Vec<u8>,
    ends: Vec<usize>,
    /// Bytes in `field_buf` and fields in `ends` of the record being read.
    nout: usize,
    nend: usize,
    /// The line the record being read starts on.
    record_line: u64,
    record_started: bool,
    header: Option<Header>,
    pending: Vec<(u64, ImportContact)>,
    report: ImportReport,
    bytes: usize,
    /// The importer holds `consent.write` (else a consent column is refused).
    consent_allowed: bool,
}

impl App {
    /// Starts an import into the caller's tenant (`contacts.write`, and `consent.write` for
    /// consent columns, checked when the header is read).
    pub async fn start_import(
        &self,
        p: &Principal,
        options: ImportOptions,
        request_id: Option<String>,
    ) -> Result<Import, AppError> {
        p.require(Permission::ContactsWrite)?;
        let mode = ImportMode::parse(options.mode.as_deref())?;
        let region_text = match options.region.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => Some(r.to_ascii_uppercase()),
            _ => {
                let mut s = self.store.read_scope(p.tenant).await?;
                let settings = s.data_settings().await?;
                s.commit().await?;
                settings.default_region
            }
        };
        let region = region_text
            .map(|r| {
                r.parse::<phonenumber::country::Id>().map_err(|_| {
                    AppError::new(
                        Code::InvalidQuery,
                        "region must be a two-letter country code such as BR or US.",
                    )
                })
            })
            .transpose()?;
        let mut map = Vec::new();
        for pair in options
            .map
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let (from, to) = pair.split_once('=').ok_or_else(|| {
                AppError::new(
                    Code::InvalidQuery,
                    "map must list Their Column=column pairs separated by commas.",
                )
            })?;
            column(to).map_err(|e| AppError::new(Code::InvalidQuery, format!("map: {e}")))?;
            map.push((from.trim().to_ascii_lowercase(), to.trim().to_string()));
        }
        let consent_allowed = p.permissions.contains(&Permission::ConsentWrite);
        Ok(Import {
            app: self.clone(),
            tenant: p.tenant,
            actor: p.actor().to_string(),
            audit_actor: p.actor(),
            request_id,
            mode,
            region,
            map,
            reader: Reader::new(),
            field_buf: vec![0; 4096],
            ends: vec![0; 64],
            nout: 0,
            nend: 0,
            record_line: 1,
            record_started: false,
            header: None,
            pending: Vec::new(),
            report: ImportReport {
                mode: mode.as_str(),
                ..ImportReport::default()
            },
            bytes: 0,
            consent_allowed,
        })
    }
}

impl Import {
    /// Feeds the next bytes of the body.
    pub async fn feed(&mut self, mut input: &[u8]) -> Result<(), AppError> {
        self.bytes += input.len();
        if self.bytes > MAX_IMPORT_BYTES {
            return Err(AppError::new(
                Code::PayloadTooLarge,
                format!(
                    "An import may be at most {} MiB; split the file.",
                    MAX_IMPORT_BYTES / 1024 / 1024
                ),
            ));
        }
        while !input.is_empty() {
            let consumed = self.read(input).await?;
            input = &input[consumed..];
        }
        Ok(())
    }

    /// Reads records from `input`; returns how much of it was consumed.
    async fn read(&mut self, input: &[u8]) -> Result<usize, AppError> {
        let mut used = 0;
        loop {
            if !self.record_started && used < input.len() {
                self.record_started = true;
                self.record_line = self.reader.line();
            }
            let (res, nin, nout, nend) = self.reader.read_record(
                &input[used..],
                &mut self.field_buf[self.nout..],
                &mut self.ends[self.nend..],
            );
            used += nin;
            self.nout += nout;
            self.nend += nend;
            match res {
                ReadRecordResult::InputEmpty => return Ok(used),
                ReadRecordResult::OutputFull => {
                    if self.field_buf.len() >= MAX_ROW_BYTES {
                        return Err(AppError::new(
                            Code::BadRequest,
                            format!(
                                "Line {}: a row is longer than {} KiB (is a quote left open?).",
                                self.record_line,
                                MAX_ROW_BYTES / 1024
                            ),
                        ));
                    }
                    let n = self.field_buf.len() * 2;
                    self.field_buf.resize(n, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                ReadRecordResult::Record => {
                    self.record().await?;
                    if used >= input.len() {
                        return Ok(used);
                    }
                }
                ReadRecordResult::End => return Ok(used),
            }
        }
    }

    /// The record just read.
    async fn record(&mut self) -> Result<(), AppError> {
        let line = self.record_line;
        let fields: Vec<String> = {
            let mut start = 0;
            self.ends[..self.nend]
                .iter()
                .map(|&end| {
                    let f = String::from_utf8_lossy(&self.field_buf[start..end]).into_owned();
                    start = end;
                    f
                })
                .collect()
        };
        self.nout = 0;
        self.nend = 0;
        self.record_started = false;
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(());
        }
        let Some(header) = &self.header else {
            self.header = Some(self.read_header(&fields)?);
            return Ok(());
        };
        match check_row(header, &fields, self.region) {
            Ok(row) => {
                self.pending.push((line, row));
                if self.mode == ImportMode::Partial && self.pending.len() >= CHUNK_ROWS {
                    self.flush().await?;
                }
            }
            Err(reason) => self.report.rejected.push(Rejected { line, reason }),
        }
        Ok(())
    }

    fn read_header(&self, fields: &[String]) -> Result<Header, AppError> {
        let mut columns = Vec::with_capacity(fields.len());
        for f in fields {
            let key = f.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
            let target = self
                .map
                .iter()
                .find(|(from, _)| *from == key)
                .map_or(f.as_str(), |(_, to)| to.as_str());
            let c = column(target)
                .map_err(|e| AppError::new(Code::BadRequest, format!("Line 1: {e}.")))?;
            if !self.consent_allowed && matches!(c, Column::Consent) {
                return Err(AppError::new(
                    Code::Forbidden,
                    "Importing consent needs the consent.write permission.",
                ));
            }
            columns.push(c);
        }
        if !columns
            .iter()
            .any(|c| matches!(c, Column::Phone | Column::WaUser))
        {
            return Err(AppError::new(
                Code::BadRequest,
                "Line 1: the header names no phone or wa_user_id column.",
            ));
        }
        Ok(Header { columns })
    }

    /// Writes the checked rows waiting, in one transaction audited as `contacts.imported`.
    async fn flush(&mut self) -> Result<(), AppError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let mut s = self.app.store.scope(self.tenant).await?;
        let (mut created, mut updated, mut rejected) = (0u64, 0u64, Vec::new());
        for (line, row) in rows {
            match s.import_contact(row, &self.actor).await {
                Ok(Imported::Created(_)) => created += 1,
                Ok(Imported::Updated(_)) => updated += 1,
                Err(StoreError::Conflict(what)) if self.mode == ImportMode::Partial => rejected
                    .push(Rejected {
                        line,
                        reason: what.to_string(),
                    }),
                Err(StoreError::Conflict(what)) => {
                    self.report.rejected.push(Rejected {
                        line,
                        reason: what.to_string(),
                    });
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        s.audit(
            &AuditEvent::new(
                self.audit_actor.clone(),
                "contacts.imported",
                format!("tenant:{}", self.tenant),
            )
            .with_details(json!({
                "mode": self.mode.as_str(),
                "created": created,
                "updated": updated,
                "rejected": rejected.len(),
            }))
            .with_request_id(self.request_id.clone()),
        )
        .await?;
        s.commit().await?;
        self.report.imported += created;
        self.report.updated += updated;
        self.report.rejected.extend(rejected);
        Ok(())
    }

    /// Ends the import: the last row, the last transaction, the report.
    pub async fn finish(mut self) -> Result<ImportReport, AppError> {
        // A last row without a line break.
        loop {
            let (res, _, nout, nend) = self.reader.read_record(
                &[],
                &mut self.field_buf[self.nout..],
                &mut self.ends[self.nend..],
            );
            self.nout += nout;
            self.nend += nend;
            match res {
                ReadRecordResult::Record => self.record().await?,
                ReadRecordResult::OutputFull => {
                    let n = self.field_buf.len() * 2;
                    self.field_buf.resize(n, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                ReadRecordResult::End | ReadRecordResult::InputEmpty => break,
            }
        }
        if self.header.is_none() {
            return Err(AppError::new(
                Code::BadRequest,
                "The file is empty: it needs a header row and one contact per row.",
            ));
        }
        match self.mode {
            ImportMode::Partial => self.flush().await?,
            ImportMode::AllOrNothing if self.report.rejected.is_empty() => {
                self.flush().await?;
            }
            ImportMode::AllOrNothing => self.pending.clear(),
        }
        self.report.rejected.sort_by_key(|r| r.line);
        self.report.committed = self.mode == ImportMode::Partial || self.report.rejected.is_empty();
        if !self.report.committed {
            self.report.imported = 0;
            self.report.updated = 0;
        }
        Ok(self.report)
    }
}

/// Checks one row against the header: the contact to write, or why not.
fn check_row(
    header: &Header,
    fields: &[String],
    region: Option<phonenumber::country::Id>,
) -> Result<ImportContact, String> {
    if fields.len() != header.columns.len() {
        return Err(format!(
            "{} cells where the header has {}",
            fields.len(),
            header.columns.len()
        ));
    }
    let mut row = ImportContact::default();
    let mut attributes = Map::new();
    let (mut status, mut purpose, mut source, mut evidence) = (None, None, None, None);
    for (c, raw) in header.columns.iter().zip(fields) {
        let v = unneutralise(raw.trim()).trim();
        if v.is_empty() {
            continue;
        }
        match c {
            Column::Phone => {
                row.phone = Some(parse_phone(v, region).map_err(|e| format!("phone: {e}"))?)
            }
            Column::WaUser => {
                if !confide_whatsapp::is_bsuid(v) {
                    return Err("wa_user_id: not a WhatsApp user id".into());
                }
                row.wa_user_id = Some(v.to_string());
            }
            Column::Name => {
                row.name = check_name(v).map_err(|e| e.message.to_string())?;
            }
            Column::Labels => {
                let labels: Vec<Value> = v
                    .split(';')
                    .map(|l| unneutralise(l.trim()))
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect();
                row.labels = Some(
                    crate::contacts::check_labels(&Value::Array(labels))
                        .map_err(|e| e.message.to_string())?,
                );
            }
            Column::Attributes => {
                let parsed: Value = serde_json::from_str(v)
                    .map_err(|_| "attributes: not a JSON object".to_string())?;
                let m = check_attributes(&parsed).map_err(|e| e.message.to_string())?;
                attributes.extend(m);
            }
            Column::Attribute(key) => {
                attributes.insert(key.clone(), Value::String(v.to_string()));
            }
            Column::Consent => status = Some(v.to_string()),
            Column::ConsentPurpose => purpose = Some(v.to_string()),
            Column::ConsentSource => source = Some(v.to_string()),
            Column::ConsentEvidence => evidence = Some(v.to_string()),
            Column::Ignored => {}
        }
    }
    if row.phone.is_none() && row.wa_user_id.is_none() {
        return Err("no phone number or WhatsApp user id".into());
    }
    if !attributes.is_empty() {
        row.attributes =
            check_attributes(&Value::Object(attributes)).map_err(|e| e.message.to_string())?;
    }
    if let Some(status) = status {
        let c = check_consent(crate::contacts::ConsentInput {
            purpose: Some(purpose.unwrap_or_else(|| "marketing".into())),
            status: Some(status),
            source: Some(source.unwrap_or_else(|| "import".into())),
            evidence,
        })
        .map_err(|e| format!("consent: {}", e.message))?;
        row.consent = Some((
            c.purpose.as_str().to_string(),
            c.status.as_str().to_string(),
            c.source,
            c.evidence,
        ));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::country::Id;

    #[test]
    fn phones_are_read_as_address_books_write_them() {
        let cases: &[(&str, Option<Id>, Option<&str>)] = &[
            ("+55 11 98765-4321", None, Some("+5511987654321")),
            ("5511 8765 4321", None, Some("+5511987654321")),
            ("5511 8765 4321", Some(Id::BR), Some("+5511987654321")),
            ("(11) 98765-4321", Some(Id::BR), Some("+5511987654321")),
            ("0055 11 98765 4321", None, Some("+5511987654321")),
            ("'+16502530000", None, Some("+16502530000")),
            ("(650) 253-0000", Some(Id::US), Some("+16502530000")),
            ("+44 20 7946 0958", Some(Id::BR), Some("+442079460958")),
            ("(650) 253-0000", None, None),
            ("+55 11 1234", None, None),
            ("not a phone", Some(Id::BR), None),
            ("", None, None),
        ];
        for (input, region, want) in cases {
            let got = parse_phone(input, *region);
            assert_eq!(
                got.as_ref().ok().map(Phone::as_str),
                *want,
                "{input:?} in {region:?}: {got:?}"
            );
        }
    }

    #[test]
    fn headers_map_to_columns() {
        assert_eq!(column(" Phone "), Ok(Column::Phone));
        assert_eq!(column("\u{feff}name"), Ok(Column::Name));
        assert_eq!(column("attr:City"), Ok(Column::Attribute("City".into())));
        assert_eq!(column("created_at"), Ok(Column::Ignored));
        assert!(column("shoe size").is_err());
    }
}
