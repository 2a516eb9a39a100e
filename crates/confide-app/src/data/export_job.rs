//! One export job: pages through the tenant's data (or one contact's), each page in its own short
//! read transaction, and writes it into the zip ([`super::export_zip`]) as JSON documents (the
//! schema `docs/privacy/export-schema.json`, version [`EXPORT_VERSION`]), CSV for contacts and
//! messages (cells neutralised by [`super::export::csv_row`]), and the media bytes decrypted
//! under `media/`. Progress (rows written / rows to write) is recorded as it goes.

use super::export::{contact_csv, contact_json, csv_row, rfc3339};
use super::export_pages::Pager;
use super::export_zip::{ZipSink, ZipSinkError};
use crate::media::store::{MediaStore, MediaStoreError};
use confide_core::clock::SharedClock;
use confide_core::ids::{ExportId, MediaId, TenantId};
use confide_store::export::{ExportMessage, Subject};
use confide_store::exports::ExportJob;
use confide_store::media_objects::MediaObject;
use confide_store::{Store, StoreError};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The version of the export's documents (`manifest.json` says it).
pub const EXPORT_VERSION: u32 = 1;
/// The columns of `messages.csv`.
pub const MESSAGE_CSV_COLUMNS: &[&str] = &[
    "id",
    "conversation_id",
    "contact_id",
    "direction",
    "kind",
    "text",
    "status",
    "media_id",
    "created_at",
];
/// Rows read per page.
pub(super) const PAGE: i64 = 500;
/// Rows written between two progress records.
const PROGRESS_EVERY: i64 = 2_000;

/// Why a job stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Zip(#[from] ZipSinkError),
    #[error(transparent)]
    Media(#[from] MediaStoreError),
    /// The job was deleted while it ran (a contact's erasure).
    #[error("the export was withdrawn")]
    Gone,
}

/// What a job needs.
pub(crate) struct Job<'a> {
    pub store: &'a Store,
    pub media: &'a MediaStore,
    pub clock: &'a SharedClock,
    pub job: &'a ExportJob,
}

/// Rows written and to write, recorded every [`PROGRESS_EVERY`] rows.
struct Progress {
    tenant: TenantId,
    id: ExportId,
    done: i64,
    total: i64,
    recorded: i64,
}

impl Progress {
    async fn add(&mut self, j: &Job<'_>, n: usize) -> Result<(), JobError> {
        self.done += i64::try_from(n).unwrap_or(0);
        self.total = self.total.max(self.done);
        if self.done - self.recorded >= PROGRESS_EVERY {
            self.record(j).await?;
        }
        Ok(())
    }

    async fn record(&mut self, j: &Job<'_>) -> Result<(), JobError> {
        self.recorded = self.done;
        let now = j.clock.now_micros();
        if !j
            .store
            .export_progress(self.tenant, self.id, self.done, self.total, now)
            .await?
        {
            return Err(JobError::Gone);
        }
        Ok(())
    }
}

/// A JSON array written item by item into the current zip entry.
struct JsonArray {
    items: u64,
}

impl JsonArray {
    async fn open(sink: &mut ZipSink, name: &str) -> Result<JsonArray, JobError> {
        sink.start(name, true).await?;
        sink.write(b"[").await?;
        Ok(JsonArray { items: 0 })
    }

    async fn push(&mut self, sink: &mut ZipSink, v: &Value) -> Result<(), JobError> {
        let mut bytes = Vec::with_capacity(256);
        if self.items > 0 {
            bytes.push(b',');
        }
        bytes.push(b'\n');
        serde_json::to_writer(&mut bytes, v).map_err(|e| ZipSinkError::Zip(e.to_string()))?;
        self.items += 1;
        Ok(sink.write(&bytes).await?)
    }

    async fn close(self, sink: &mut ZipSink) -> Result<u64, JobError> {
        sink.write(b"\n]\n").await?;
        Ok(self.items)
    }
}

fn opt_time(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |m| Value::String(rfc3339(m)))
}

/// The words of a message, when it has some: its text, or a media caption.
fn message_text(body: &Value) -> Option<String> {
    body.get("text")
        .and_then(Value::as_str)
        .or_else(|| body.get("caption").and_then(Value::as_str))
        .or_else(|| {
            body.get("media")
                .and_then(|m| m.get("caption"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
}

fn message_json(m: &ExportMessage) -> Value {
    let msg = &m.message;
    json!({
        "id": msg.id.to_string(),
        "conversation_id": msg.conversation_id.to_string(),
        "contact_id": m.contact_id,
        "direction": msg.direction.as_str(),
        "kind": msg.kind,
        "wamid": msg.wamid,
        "status": msg.status,
        "error": msg.error,
        "text": message_text(&msg.body),
        "body": msg.body,
        "media_id": m.media_id,
        "created_at": rfc3339(msg.created_at),
    })
}

fn message_csv(out: &mut String, m: &ExportMessage) {
    let msg = &m.message;
    let (id, conversation) = (msg.id.to_string(), msg.conversation_id.to_string());
    let text = message_text(&msg.body).unwrap_or_default();
    let created = rfc3339(msg.created_at);
    csv_row(
        out,
        &[
            &id,
            &conversation,
            &m.contact_id,
            msg.direction.as_str(),
            &msg.kind,
            &text,
            &msg.status,
            m.media_id.as_deref().unwrap_or(""),
            &created,
        ],
    );
}

impl Job<'_> {
    fn subject(&self) -> Subject {
        match self.job.contact {
            Some(c) => Subject::Contact(c),
            None => Subject::Tenant,
        }
    }

    /// Runs the job: the zip's size in bytes, once it is stored, and the rows written.
    pub(crate) async fn run(&self) -> Result<(u64, i64), JobError> {
        let tenant = self.job.tenant;
        let subject = self.subject();
        let (counts, templates, media_objects) = {
            let mut s = self.store.read_scope(tenant).await?;
            let counts = s.export_counts(subject).await?;
            let templates = s.templates().list().await?;
            let media = match subject {
                Subject::Tenant => s.media_objects().usage().await?.objects,
                Subject::Contact(_) => 0,
            };
            s.commit().await?;
            (counts, templates, media)
        };
        let audit = match subject {
            Subject::Tenant => i64::try_from(self.store.audit_count(tenant).await?).unwrap_or(0),
            Subject::Contact(_) => 0,
        };
        // [contacts, consent, conversations, messages, notes, charges]: contacts and messages
        // are written twice (JSON and CSV), media twice (bytes and description).
        let total = counts.iter().sum::<i64>()
            + counts.first().copied().unwrap_or(0)
            + counts.get(3).copied().unwrap_or(0)
            + i64::try_from(templates.len()).unwrap_or(0)
            + audit
            + 2 * media_objects;
        let mut progress = Progress {
            tenant,
            id: self.job.id,
            done: 0,
            total,
            recorded: 0,
        };
        progress.record(self).await?;

        let key = confide_store::exports::storage_key(tenant, self.job.id);
        let keys = self.store.media_keys(tenant).await?;
        let sealer = keys.sealer(MediaId::from_uuid(self.job.id.as_uuid()))?;
        let mut sink = ZipSink::open(self.media, &key, sealer, self.clock.now()).await?;
        match self
            .write_all(&mut sink, subject, &mut progress, templates)
            .await
        {
            Ok(()) => {}
            Err(e) => {
                sink.abort().await;
                return Err(e);
            }
        }
        let size = sink.finish().await?;
        Ok((size, progress.done))
    }

    async fn write_all(
        &self,
        sink: &mut ZipSink,
        subject: Subject,
        progress: &mut Progress,
        templates: Vec<confide_store::templates::StoredTemplate>,
    ) -> Result<(), JobError> {
        let tenant = self.job.tenant;
        let mut files: BTreeMap<&'static str, u64> = BTreeMap::new();

        // Contacts (JSON, then CSV), with their labels and attributes.
        let mut labels: BTreeMap<String, u64> = BTreeMap::new();
        let mut out = JsonArray::open(sink, "contacts.json").await?;
        let mut cursor = Pager::default();
        while let Some(page) = self.contacts_page(subject, &mut cursor).await? {
            for c in &page {
                for l in &c.labels {
                    *labels.entry(l.clone()).or_default() += 1;
                }
                out.push(sink, &contact_json(c)).await?;
            }
            progress.add(self, page.len()).await?;
        }
        files.insert("contacts.json", out.close(sink).await?);
        sink.start("contacts.csv", true).await?;
        let mut head = String::new();
        csv_row(&mut head, super::export::CSV_COLUMNS);
        sink.write(head.as_bytes()).await?;
        let mut rows = 0;
        let mut cursor = Pager::default();
        while let Some(page) = self.contacts_page(subject, &mut cursor).await? {
            let mut chunk = String::new();
            for c in &page {
                contact_csv(&mut chunk, c);
            }
            rows += page.len() as u64;
            sink.write(chunk.as_bytes()).await?;
            progress.add(self, page.len()).await?;
        }
        files.insert("contacts.csv", rows);
        let mut out = JsonArray::open(sink, "labels.json").await?;
        for (name, contacts) in &labels {
            out.push(sink, &json!({"name": name, "contacts": contacts}))
                .await?;
        }
        files.insert("labels.json", out.close(sink).await?);

        // The consent ledgers.
        let mut out = JsonArray::open(sink, "consent_events.json").await?;
        let mut after = None;
        loop {
            let page = {
                let mut s = self.store.read_scope(tenant).await?;
                s.export_consent(subject, after.take(), PAGE).await?
            };
            for e in &page {
                out.push(
                    sink,
                    &json!({
                        "id": e.id, "contact_id": e.contact_id, "purpose": e.purpose,
                        "status": e.status, "source": e.source, "evidence": e.evidence,
                        "actor": e.actor, "created_at": rfc3339(e.created_at),
                    }),
                )
                .await?;
            }
            progress.add(self, page.len()).await?;
            match page.last() {
                Some(l) if page.len() as i64 == PAGE => after = Some(l.id.clone()),
                _ => break,
            }
        }
        files.insert("consent_events.json", out.close(sink).await?);

        // Conversations.
        let mut out = JsonArray::open(sink, "conversations.json").await?;
        let mut after = None;
        loop {
            let page = {
                let mut s = self.store.read_scope(tenant).await?;
                s.export_conversations(subject, after.take(), PAGE).await?
            };
            for c in &page {
                out.push(
                    sink,
                    &json!({
                        "id": c.id, "contact_id": c.contact_id, "channel_id": c.channel_id,
                        "status": c.status, "assignee": c.assignee,
                        "last_inbound_at": opt_time(c.last_inbound_at),
                        "last_message_at": rfc3339(c.last_message_at),
                        "created_at": rfc3339(c.created_at),
                    }),
                )
                .await?;
            }
            progress.add(self, page.len()).await?;
            match page.last() {
                Some(l) if page.len() as i64 == PAGE => after = Some(l.id.clone()),
                _ => break,
            }
        }
        files.insert("conversations.json", out.close(sink).await?);

        // Messages (JSON, then CSV); a contact's export notes the media and templates they use.
        let mut media_ids: BTreeSet<String> = BTreeSet::new();
        let mut used_templates: BTreeSet<(String, String)> = BTreeSet::new();
        let mut out = JsonArray::open(sink, "messages.json").await?;
        let mut cursor = Pager::default();
        while let Some(page) = self.messages_page(subject, &mut cursor).await? {
            for m in &page {
                if matches!(subject, Subject::Contact(_)) {
                    if let Some(id) = &m.media_id {
                        media_ids.insert(id.clone());
                    }
                    let body = &m.message.body;
                    if let (Some(n), Some(l)) = (
                        body.get("template").and_then(Value::as_str),
                        body.get("language").and_then(Value::as_str),
                    ) {
                        used_templates.insert((n.to_string(), l.to_string()));
                    }
                }
                out.push(sink, &message_json(m)).await?;
            }
            progress.add(self, page.len()).await?;
        }
        files.insert("messages.json", out.close(sink).await?);
        sink.start("messages.csv", true).await?;
        let mut head = String::new();
        csv_row(&mut head, MESSAGE_CSV_COLUMNS);
        sink.write(head.as_bytes()).await?;
        let mut rows = 0;
        let mut cursor = Pager::default();
        while let Some(page) = self.messages_page(subject, &mut cursor).await? {
            let mut chunk = String::new();
            for m in &page {
                message_csv(&mut chunk, m);
            }
            rows += page.len() as u64;
            sink.write(chunk.as_bytes()).await?;
            progress.add(self, page.len()).await?;
        }
        files.insert("messages.csv", rows);

        // Notes.
        let mut out = JsonArray::open(sink, "notes.json").await?;
        let mut after = None;
        loop {
            let page = {
                let mut s = self.store.read_scope(tenant).await?;
                s.export_notes(subject, after.take(), PAGE).await?
            };
            for n in &page {
                out.push(
                    sink,
                    &json!({
                        "id": n.id, "conversation_id": n.conversation_id, "author": n.author,
                        "text": n.text, "created_at": rfc3339(n.created_at),
                    }),
                )
                .await?;
            }
            progress.add(self, page.len()).await?;
            match page.last() {
                Some(l) if page.len() as i64 == PAGE => after = Some(l.id.clone()),
                _ => break,
            }
        }
        files.insert("notes.json", out.close(sink).await?);

        // Templates: all the tenant's for a tenant export, those the person was sent otherwise.
        let mut out = JsonArray::open(sink, "templates.json").await?;
        let mut n = 0;
        for t in &templates {
            let wanted = match subject {
                Subject::Tenant => true,
                Subject::Contact(_) => {
                    used_templates.contains(&(t.def.name.clone(), t.def.language.clone()))
                }
            };
            if wanted {
                out.push(
                    sink,
                    &json!({
                        "id": t.id.to_string(), "channel_id": t.channel.to_string(),
                        "name": t.def.name, "language": t.def.language,
                        "category": t.def.category, "status": t.def.status,
                        "body_params": t.def.body_params, "components": t.def.components,
                        "updated_at": rfc3339(t.updated_at),
                    }),
                )
                .await?;
            }
            n += 1;
        }
        progress.add(self, n).await?;
        files.insert("templates.json", out.close(sink).await?);

        // Charges.
        let mut out = JsonArray::open(sink, "charges.json").await?;
        let mut after = None;
        loop {
            let page = {
                let mut s = self.store.read_scope(tenant).await?;
                s.export_charges(subject, after.take(), PAGE).await?
            };
            for c in &page {
                out.push(
                    sink,
                    &json!({
                        "wamid": c.wamid, "phone_number_id": c.phone_number_id,
                        "category": c.category, "pricing_model": c.pricing_model,
                        "pricing_type": c.pricing_type, "billable": c.billable,
                        "at": rfc3339(c.at),
                    }),
                )
                .await?;
            }
            progress.add(self, page.len()).await?;
            match page.last() {
                Some(l) if page.len() as i64 == PAGE => after = Some(l.wamid.clone()),
                _ => break,
            }
        }
        files.insert("charges.json", out.close(sink).await?);

        // The audit log (ids, actions and counts: it never held personal data).
        let mut out = JsonArray::open(sink, "audit_entries.json").await?;
        let mut after = 0;
        loop {
            let page = {
                let mut s = self.store.read_scope(tenant).await?;
                s.export_audit(subject, after, PAGE).await?
            };
            for e in &page {
                let details: Value = serde_json::from_str(&e.details).unwrap_or(Value::Null);
                out.push(
                    sink,
                    &json!({
                        "seq": e.seq, "at": rfc3339(e.at_micros), "actor": e.actor,
                        "action": e.action, "target": e.target, "request_id": e.request_id,
                        "details": details, "hash": hex::encode(e.hash),
                    }),
                )
                .await?;
            }
            progress.add(self, page.len()).await?;
            match page.last() {
                Some(l) if page.len() as i64 == PAGE => after = l.seq,
                _ => break,
            }
        }
        files.insert("audit_entries.json", out.close(sink).await?);

        // Media: the bytes (decrypted) under media/, then what each file is.
        let ids: Vec<String> = media_ids.into_iter().collect();
        let keys = self.store.media_keys(tenant).await?;
        let mut written = 0u64;
        let mut missing = BTreeSet::new();
        let mut cursor = Pager::default();
        while let Some(page) = self.media_page(subject, &ids, &mut cursor).await? {
            for o in &page {
                if self.media_file(sink, &keys, o).await? {
                    written += 1;
                } else {
                    missing.insert(o.id);
                }
            }
            progress.add(self, page.len()).await?;
        }
        files.insert("media/", written);
        let mut out = JsonArray::open(sink, "media.json").await?;
        let mut cursor = Pager::default();
        while let Some(page) = self.media_page(subject, &ids, &mut cursor).await? {
            for o in &page {
                let path = (!missing.contains(&o.id)).then(|| media_path(o));
                out.push(
                    sink,
                    &json!({
                        "id": o.id.to_string(), "kind": o.kind, "content_type": o.content_type,
                        "byte_size": o.byte_size, "file_name": o.file_name, "origin": o.origin,
                        "message_id": o.message.map(|m| m.to_string()),
                        "created_at": rfc3339(o.created_at), "path": path,
                    }),
                )
                .await?;
            }
            progress.add(self, page.len()).await?;
        }
        files.insert("media.json", out.close(sink).await?);

        // The manifest last: what the zip holds.
        sink.start("manifest.json", true).await?;
        let manifest = json!({
            "format": "confide-export",
            "version": EXPORT_VERSION,
            "export_id": self.job.id.to_string(),
            "tenant_id": tenant.to_string(),
            "scope": self.job.scope,
            "contact_id": self.job.contact.map(|c| c.to_string()),
            "requested_by": self.job.requested_by,
            "requested_at": rfc3339(self.job.created_at),
            "generated_at": rfc3339(self.clock.now_micros()),
            "schema": "https://confide.dev/schema/export-v1.json",
            "files": files,
        });
        let bytes =
            serde_json::to_vec_pretty(&manifest).map_err(|e| ZipSinkError::Zip(e.to_string()))?;
        sink.write(&bytes).await?;
        progress.record(self).await?;
        Ok(())
    }
}

/// Where an object's bytes are in the zip.
pub(super) fn media_path(o: &MediaObject) -> String {
    format!(
        "media/{}.{}",
        o.id,
        crate::media::sniff::extension_for(&o.content_type)
    )
}
