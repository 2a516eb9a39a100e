//! Messages stored once per wamid, one at a time or a batch at a time, and delivery statuses
//! recorded once per `(wamid, status)`, each moving its message's status forward only. A batch
//! finds its duplicates with one lookup that returns only them, and inserts the rest without
//! `RETURNING` (on SQLite every returned row is a hand-off between threads).

use super::{StatusOutcome, StatusRow};
use crate::conversations::{NewMessage, Stored};
use crate::error::StoreError;
use crate::scope::Scope;
use crate::tables::message_statuses::StatusRecord;
use crate::tables::messages::{self, MessageRow};
use crate::tables::{self, CHUNK, Ph};
use confide_core::ids::{ConversationId, MessageId};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

impl Scope<'_> {
    /// A new message's row in `conversation`: a fresh id, the body sealed.
    fn message_row<'m>(
        &self,
        conversation: ConversationId,
        m: &'m NewMessage,
    ) -> Result<(MessageId, MessageRow<'m>), StoreError> {
        let id = MessageId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
        let row = id.to_string();
        let body_ct = self.seal_str("messages", "body", &row, &m.body.to_string())?;
        Ok((
            id,
            MessageRow {
                id: row,
                conversation: conversation.to_string(),
                direction: m.direction_str(),
                wamid: m.wamid.as_deref(),
                kind: &m.kind,
                body_ct,
                status: &m.status,
                at: m.at_micros,
            },
        ))
    }

    /// Stores a message once per wamid without touching its conversation's times (ingest
    /// touches each conversation once per round with [`Scope::touch_conversations`]).
    pub async fn insert_message_row(
        &mut self,
        conversation: ConversationId,
        m: NewMessage,
    ) -> Result<Stored, StoreError> {
        let (id, row) = self.message_row(conversation, &m)?;
        let t = self.tenant_str().to_string();
        let inserted = tables::insert(self.store.backend(), &t, &[row])
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(if inserted == 0 {
            Stored::Duplicate
        } else {
            Stored::Inserted(id)
        })
    }

    /// Stores messages once per wamid, in order; a wamid stored before (or twice in the list) is
    /// [`Stored::Duplicate`]. Conversations are not touched (see [`Scope::touch_conversations`]).
    ///
    /// Should another writer have stored one of the wamids between the lookup and the insert
    /// (PostgreSQL with several instances), the insert count shows it and the call fails with
    /// [`StoreError::Conflict`]: the caller retries, and then sees it as a duplicate.
    pub async fn insert_messages(
        &mut self,
        items: Vec<(ConversationId, NewMessage)>,
    ) -> Result<Vec<Stored>, StoreError> {
        let mut out = Vec::with_capacity(items.len());
        let mut seen: HashSet<String> = HashSet::new();
        let t = self.tenant_str().to_string();
        for chunk in items.chunks(CHUNK) {
            let stored = self
                .existing(
                    "messages",
                    &["wamid"],
                    chunk
                        .iter()
                        .filter_map(|(_, m)| m.wamid.clone())
                        .map(|w| vec![w]),
                )
                .await?;
            let mut rows = Vec::with_capacity(chunk.len());
            for (conv, m) in chunk {
                if let Some(w) = &m.wamid
                    && (stored.contains(&vec![w.clone()]) || !seen.insert(w.clone()))
                {
                    out.push(Stored::Duplicate);
                    continue;
                }
                let (id, row) = self.message_row(*conv, m)?;
                out.push(Stored::Inserted(id));
                rows.push(row);
            }
            if rows.is_empty() {
                continue;
            }
            let inserted = tables::insert(self.store.backend(), &t, &rows)
                .execute(self.conn())
                .await?
                .rows_affected();
            if inserted != rows.len() as u64 {
                return Err(StoreError::Conflict("messages stored concurrently"));
            }
        }
        Ok(out)
    }

    /// The keys among `keys` (values of `columns`, all text) that `table` holds for this tenant:
    /// one indexed lookup per chunk that returns only the rows that exist.
    pub(crate) async fn existing(
        &mut self,
        table: &str,
        columns: &[&str],
        keys: impl Iterator<Item = Vec<String>>,
    ) -> Result<HashSet<Vec<String>>, StoreError> {
        let keys: Vec<Vec<String>> = keys.collect();
        let width = columns.len();
        let mut found = HashSet::new();
        for chunk in keys.chunks(CHUNK) {
            let mut ph = Ph::new(self.store.backend());
            let tenant_first = width == 1;
            let sql = if tenant_first {
                let tenant = ph.one();
                format!(
                    "SELECT {c} FROM {table} WHERE tenant_id = {tenant} AND {c} IN ({})",
                    ph.list(chunk.len()),
                    c = columns[0]
                )
            } else {
                // A join on the whole key (`(a, b) IN (VALUES …)` would use only the tenant
                // prefix of the index on SQLite, scanning the tenant's rows).
                let values = ph.rows(chunk.len(), width);
                let on: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("t.{c} = v.column{}", i + 1))
                    .collect();
                let select: Vec<String> = columns.iter().map(|c| format!("t.{c}")).collect();
                format!(
                    "SELECT {} FROM (VALUES {values}) AS v JOIN {table} t ON t.tenant_id = {} AND {}",
                    select.join(", "),
                    ph.one(),
                    on.join(" AND ")
                )
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            if tenant_first {
                q = q.bind(self.tenant_str().to_string());
            }
            for k in chunk {
                for v in k {
                    q = q.bind(v.clone());
                }
            }
            if !tenant_first {
                q = q.bind(self.tenant_str().to_string());
            }
            for r in q.fetch_all(self.conn()).await? {
                found.insert(
                    (0..width)
                        .map(|i| r.try_get::<String, _>(i))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
        }
        Ok(found)
    }

    /// Records a delivery status once per `(wamid, status)` and moves the message's status
    /// forward only (a late `delivered` never replaces `read`).
    pub async fn record_status(
        &mut self,
        wamid: &str,
        status: &str,
        rank: i64,
        at_micros: i64,
        details: Option<&serde_json::Value>,
    ) -> Result<StatusOutcome, StoreError> {
        let t = self.tenant_str().to_string();
        let details = details.map(|d| d.to_string());
        let record = StatusRecord {
            wamid,
            status,
            at: at_micros,
            details: details.as_deref(),
        };
        let backend = self.store.backend();
        let res = tables::insert(backend, &t, &[record])
            .execute(self.conn())
            .await?;
        if res.rows_affected() == 0 {
            return Ok(StatusOutcome::Duplicate);
        }
        let moved = messages::advance_status(backend, &t, &[(wamid, status, rank)])
            .execute(self.conn())
            .await?;
        Ok(StatusOutcome::Recorded {
            advanced: moved.rows_affected() > 0,
        })
    }

    /// Records statuses once per `(wamid, status)`, in order (true: recorded, false: duplicate),
    /// and moves each message's status forward only. Duplicates are found as in
    /// [`Scope::insert_messages`], with the same [`StoreError::Conflict`] on a race.
    pub async fn record_statuses(&mut self, rows: &[StatusRow]) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        let mut seen = HashSet::new();
        let t = self.tenant_str().to_string();
        let backend = self.store.backend();
        for chunk in rows.chunks(CHUNK) {
            let stored = self
                .existing(
                    "message_statuses",
                    &["wamid", "status"],
                    chunk
                        .iter()
                        .map(|r| vec![r.wamid.clone(), r.status.clone()]),
                )
                .await?;
            let mut fresh = Vec::with_capacity(chunk.len());
            for r in chunk {
                let key = vec![r.wamid.clone(), r.status.clone()];
                let is_fresh = !stored.contains(&key) && seen.insert(key);
                out.push(is_fresh);
                if is_fresh {
                    fresh.push(r);
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let records: Vec<StatusRecord<'_>> = fresh
                .iter()
                .map(|r| StatusRecord {
                    wamid: &r.wamid,
                    status: &r.status,
                    at: r.at_micros,
                    details: r.details.as_deref(),
                })
                .collect();
            let inserted = tables::insert(backend, &t, &records)
                .execute(self.conn())
                .await?
                .rows_affected();
            if inserted != fresh.len() as u64 {
                return Err(StoreError::Conflict("statuses recorded concurrently"));
            }
            // The highest newly recorded status per message moves it forward (never back).
            let mut best: HashMap<&str, &StatusRow> = HashMap::new();
            for r in fresh {
                let e = best.entry(r.wamid.as_str()).or_insert(r);
                if r.rank > e.rank {
                    *e = r;
                }
            }
            let moves: Vec<(&str, &str, i64)> = best
                .values()
                .map(|r| (r.wamid.as_str(), r.status.as_str(), r.rank))
                .collect();
            messages::advance_status(backend, &t, &moves)
                .execute(self.conn())
                .await?;
        }
        Ok(out)
    }
}
