//! Bulk ingest: the same writes as [`crate::ingest`] and [`crate::conversations`], a statement
//! per batch instead of a statement per item. A webhook delivery carries up to 1,000 changes;
//! written one by one, most of the time goes to round trips, not to the database.
//!
//! Each function is idempotent exactly like its one-by-one counterpart (`ON CONFLICT DO NOTHING`,
//! guarded updates); anything unusual (a new contact, an identity to fill in, a profile name that
//! changed) falls back to that counterpart.

use crate::contacts::{PHONE_INDEX, WA_USER_INDEX};
use crate::conversations::{NewMessage, Stored};
use crate::ingest::WaIdentity;
use crate::scope::Scope;
use crate::{Backend, StoreError};
use confide_core::ids::{ChannelId, ContactId, ConversationId, MessageId};
use sqlx::Row;
use std::collections::HashMap;

/// Rows per multi-row statement (well under SQLite's and PostgreSQL's parameter limits).
const CHUNK: usize = 400;

/// Placeholders in order of appearance: `?` on SQLite, `$1, $2, …` on PostgreSQL. (SQLite
/// looks up numbered and named parameters by a linear scan per bind, which makes a statement with
/// thousands of `$n` quadratic; anonymous `?` are bound by position. Binds must therefore follow
/// the text's order, and a value used twice is bound twice.)
pub(crate) struct Ph {
    backend: Backend,
    n: usize,
}

impl Ph {
    pub(crate) fn new(backend: Backend) -> Self {
        Ph { backend, n: 0 }
    }

    fn one(&mut self) -> String {
        self.n += 1;
        match self.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${}", self.n),
        }
    }

    /// `k` placeholders, comma-separated.
    fn list(&mut self, k: usize) -> String {
        (0..k).map(|_| self.one()).collect::<Vec<_>>().join(", ")
    }

    /// `rows` parenthesised groups of `k` placeholders.
    pub(crate) fn rows(&mut self, rows: usize, k: usize) -> String {
        (0..rows)
            .map(|_| format!("({})", self.list(k)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A contact's blind indexes: (WhatsApp user, phone).
type BidxPair = (Option<Vec<u8>>, Option<Vec<u8>>);

/// One inbound media object to fetch.
#[derive(Debug, Clone)]
pub struct NewMediaFetch {
    pub message: MessageId,
    pub channel: ChannelId,
    pub meta_media_id: String,
    pub sha256: Option<String>,
    pub mime_type: Option<String>,
}

/// One delivery status to record.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub wamid: String,
    pub status: String,
    pub rank: i64,
    pub at_micros: i64,
    pub details: Option<String>,
}

/// What a lookup learned of a contact's open conversation on the channel asked about.
#[derive(Debug, Clone, Copy)]
enum Conversation {
    Open(ConversationId),
    /// It has none.
    None,
    /// Not looked up.
    Unknown,
}

/// Each distinct value once, in first-seen order.
fn unique<'a>(values: impl Iterator<Item = &'a Vec<u8>>) -> Vec<&'a Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    values.filter(|v| seen.insert(*v)).collect()
}

struct Known {
    id: String,
    open: Option<String>,
    user_bidx: Option<Vec<u8>>,
    phone_bidx: Option<Vec<u8>>,
    name_ct: Option<Vec<u8>>,
    username_ct: Option<Vec<u8>>,
}

impl Scope<'_> {
    /// The contact of every identity, in order (see [`Scope::resolve_wa_contact`]).
    pub async fn resolve_wa_contacts(
        &mut self,
        who: &[WaIdentity],
    ) -> Result<Vec<ContactId>, StoreError> {
        Ok(self
            .resolve_contacts(who, None)
            .await?
            .into_iter()
            .map(|(c, _)| c)
            .collect())
    }

    /// The contact of every identity and its open conversation on `channel`, in order; contacts
    /// and conversations seen for the first time are created. One lookup finds both.
    pub async fn resolve_wa_senders(
        &mut self,
        channel: ChannelId,
        who: &[WaIdentity],
    ) -> Result<Vec<(ContactId, ConversationId)>, StoreError> {
        let resolved = self.resolve_contacts(who, Some(channel)).await?;
        let mut open: HashMap<ContactId, ConversationId> = HashMap::new();
        let mut create: Vec<ContactId> = Vec::new();
        let mut unknown: Vec<ContactId> = Vec::new();
        for (contact, conversation) in &resolved {
            match conversation {
                Conversation::Open(id) => {
                    open.insert(*contact, *id);
                }
                Conversation::None => create.push(*contact),
                Conversation::Unknown => unknown.push(*contact),
            }
        }
        create.retain(|c| !open.contains_key(c));
        let looked_up = self.open_conversations(channel, &unknown).await?;
        open.extend(looked_up);
        create.retain(|c| !open.contains_key(c));
        create.sort();
        create.dedup();
        open.extend(self.create_conversations(channel, &create).await?);
        resolved
            .into_iter()
            .map(|(c, _)| {
                open.get(&c)
                    .map(|conv| (c, *conv))
                    .ok_or_else(|| StoreError::Corrupt("no conversation".into()))
            })
            .collect()
    }

    /// Contacts of the identities, with what is known of their open conversation on `channel`.
    async fn resolve_contacts(
        &mut self,
        who: &[WaIdentity],
        channel: Option<ChannelId>,
    ) -> Result<Vec<(ContactId, Conversation)>, StoreError> {
        let keys: Vec<BidxPair> = who
            .iter()
            .map(|w| {
                (
                    w.user_id
                        .as_ref()
                        .map(|u| self.blind_index(WA_USER_INDEX, u.as_bytes())),
                    w.phone
                        .as_ref()
                        .map(|p| self.blind_index(PHONE_INDEX, p.as_str().as_bytes())),
                )
            })
            .collect();
        let mut by_user: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut by_phone: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut known: Vec<Known> = Vec::new();
        // By BSUID first; by phone only for identities no BSUID found (usually none), so each
        // contact comes back once.
        let users: Vec<&Vec<u8>> = unique(keys.iter().filter_map(|k| k.0.as_ref()));
        for k in self.known_contacts("wa_user_bidx", &users, channel).await? {
            if let Some(b) = &k.user_bidx {
                by_user.insert(b.clone(), known.len());
            }
            if let Some(b) = &k.phone_bidx {
                by_phone.insert(b.clone(), known.len());
            }
            known.push(k);
        }
        let phones: Vec<&Vec<u8>> = unique(keys.iter().filter_map(|(ub, pb)| {
            let found = ub.as_ref().is_some_and(|b| by_user.contains_key(b));
            pb.as_ref().filter(|b| !found && !by_phone.contains_key(*b))
        }));
        for k in self.known_contacts("phone_bidx", &phones, channel).await? {
            if let Some(b) = &k.user_bidx {
                by_user.entry(b.clone()).or_insert(known.len());
            }
            if let Some(b) = &k.phone_bidx {
                by_phone.insert(b.clone(), known.len());
            }
            known.push(k);
        }
        let mut out: Vec<Option<(ContactId, Conversation)>> = vec![None; who.len()];
        let mut slow: Vec<usize> = Vec::new();
        let mut new: Vec<usize> = Vec::new();
        for (i, (w, (ub, pb))) in who.iter().zip(&keys).enumerate() {
            let hit = ub
                .as_ref()
                .and_then(|b| by_user.get(b))
                .or_else(|| pb.as_ref().and_then(|b| by_phone.get(b)));
            match hit {
                Some(&k) if self.needs_nothing(&known[k], w, ub)? => {
                    let id = known[k]
                        .id
                        .parse()
                        .map_err(|_| StoreError::Corrupt("contact id".into()))?;
                    let conversation = match (&known[k].open, channel) {
                        (_, None) => Conversation::Unknown,
                        (Some(c), Some(_)) => Conversation::Open(
                            c.parse()
                                .map_err(|_| StoreError::Corrupt("conversation id".into()))?,
                        ),
                        (None, Some(_)) => Conversation::None,
                    };
                    out[i] = Some((id, conversation));
                }
                // Something to fill in: the one-by-one path knows every case.
                Some(_) => slow.push(i),
                None => new.push(i),
            }
        }
        slow.extend(self.create_wa_contacts(who, &keys, &new, &mut out).await?);
        slow.sort_unstable();
        for i in slow {
            out[i] = Some((
                self.resolve_wa_contact(&who[i]).await?,
                Conversation::Unknown,
            ));
        }
        out.into_iter()
            .map(|c| c.ok_or_else(|| StoreError::Corrupt("unresolved contact".into())))
            .collect()
    }

    /// The contacts whose `column` is one of `values`, each with its open conversation on
    /// `channel` (when one is asked for).
    async fn known_contacts(
        &mut self,
        column: &'static str,
        values: &[&Vec<u8>],
        channel: Option<ChannelId>,
    ) -> Result<Vec<Known>, StoreError> {
        let mut known = Vec::new();
        for chunk in values.chunks(CHUNK) {
            let mut ph = Ph::new(self.store.backend());
            // A correlated lookup, not a join, and `status || ''` so that no index on status
            // applies: whatever the planner believes of the tables' sizes (a fresh PostgreSQL
            // database has no statistics yet), it is one probe of the (tenant, contact, channel)
            // index per contact.
            let conversation = match channel {
                Some(_) => format!(
                    "(SELECT v.conversation_id FROM conversations v WHERE v.tenant_id = c.tenant_id \
                     AND v.contact_id = c.contact_id AND v.channel_id = {} AND v.status || '' = 'open' LIMIT 1)",
                    ph.one()
                ),
                None => "CAST(NULL AS TEXT)".to_string(),
            };
            let sql = format!(
                "SELECT c.contact_id, c.wa_user_bidx, c.phone_bidx, c.name_ct, c.username_ct, {conversation} \
                 FROM contacts c WHERE c.tenant_id = {} AND c.{column} IN ({})",
                ph.one(),
                ph.list(chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            if let Some(ch) = channel {
                q = q.bind(ch.to_string());
            }
            q = q.bind(self.tenant_str().to_string());
            for b in chunk {
                q = q.bind((*b).clone());
            }
            for r in q.fetch_all(self.conn()).await? {
                known.push(Known {
                    id: r.try_get(0)?,
                    user_bidx: r.try_get(1)?,
                    phone_bidx: r.try_get(2)?,
                    name_ct: r.try_get(3)?,
                    username_ct: r.try_get(4)?,
                    open: r.try_get(5)?,
                });
            }
        }
        Ok(known)
    }

    /// Creates the contacts of identities seen for the first time, a statement per chunk, and
    /// fills in `out` for them. Returns the indexes left to the one-by-one path: identities that
    /// share a BSUID or phone with a differently shaped new identity, and any that another writer
    /// created meanwhile.
    async fn create_wa_contacts(
        &mut self,
        who: &[WaIdentity],
        keys: &[BidxPair],
        new: &[usize],
        out: &mut [Option<(ContactId, Conversation)>],
    ) -> Result<Vec<usize>, StoreError> {
        // One contact per distinct identity.
        let mut groups: Vec<(BidxPair, Vec<usize>)> = Vec::new();
        let mut group_of: HashMap<&BidxPair, usize> = HashMap::new();
        for &i in new {
            match group_of.get(&keys[i]) {
                Some(&g) => groups[g].1.push(i),
                None => {
                    group_of.insert(&keys[i], groups.len());
                    groups.push((keys[i].clone(), vec![i]));
                }
            }
        }
        let mut uses: HashMap<&[u8], usize> = HashMap::new();
        for ((ub, pb), _) in &groups {
            for b in [ub, pb].into_iter().flatten() {
                *uses.entry(b.as_slice()).or_default() += 1;
            }
        }
        let mut slow = Vec::new();
        let mut rows = Vec::new();
        for ((ub, pb), members) in &groups {
            let shared = [ub, pb]
                .into_iter()
                .flatten()
                .any(|b| uses.get(b.as_slice()).copied().unwrap_or(0) > 1);
            if shared {
                slow.extend(members);
                continue;
            }
            // The profile as the last message states it (what one-by-one updates would leave).
            let last = |f: fn(&WaIdentity) -> Option<&String>| {
                members.iter().rev().find_map(|&i| f(&who[i])).cloned()
            };
            let first = &who[members[0]];
            let id = ContactId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
            let row = id.to_string();
            let seal = |s: &Self, column: &str, v: Option<&str>| {
                v.map(|v| s.seal_str("contacts", column, &row, v))
                    .transpose()
            };
            let sealed = [
                seal(self, "wa_user", first.user_id.as_deref())?,
                seal(self, "phone", first.phone.as_ref().map(|p| p.as_str()))?,
                seal(self, "username", last(|w| w.username.as_ref()).as_deref())?,
                seal(self, "name", last(|w| w.name.as_ref()).as_deref())?,
                Some(self.seal_str("contacts", "attributes", &row, "{}")?),
            ];
            rows.push((id, ub.clone(), pb.clone(), sealed, members));
        }
        let now = self.now();
        let t = self.tenant_str().to_string();
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO contacts (tenant_id, contact_id, wa_user_bidx, wa_user_ct, phone_bidx, phone_ct, username_ct, \
                 name_ct, attributes_ct, labels, created_at, updated_at) VALUES {} ON CONFLICT DO NOTHING",
                Ph::new(self.store.backend()).rows(chunk.len(), 12)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for (id, ub, pb, [wa_ct, phone_ct, username_ct, name_ct, attrs_ct], _) in chunk {
                q = q
                    .bind(t.clone())
                    .bind(id.to_string())
                    .bind(ub.clone())
                    .bind(wa_ct.clone())
                    .bind(pb.clone())
                    .bind(phone_ct.clone())
                    .bind(username_ct.clone())
                    .bind(name_ct.clone())
                    .bind(attrs_ct.clone())
                    .bind("[]".to_string())
                    .bind(now)
                    .bind(now);
            }
            let inserted = q.execute(self.conn()).await?.rows_affected();
            if inserted == chunk.len() as u64 {
                for (id, _, _, _, members) in chunk {
                    for &i in members.iter() {
                        out[i] = Some((*id, Conversation::None));
                    }
                }
            } else {
                // Another writer got to some of them first: look each one up.
                for (_, _, _, _, members) in chunk {
                    slow.extend(members.iter());
                }
            }
        }
        Ok(slow)
    }

    /// True when the stored contact already says everything the identity says.
    fn needs_nothing(
        &self,
        k: &Known,
        w: &WaIdentity,
        user_bidx: &Option<Vec<u8>>,
    ) -> Result<bool, StoreError> {
        if user_bidx.is_some() && k.user_bidx != *user_bidx {
            return Ok(false);
        }
        if w.phone.is_some() && k.phone_bidx.is_none() {
            return Ok(false);
        }
        for (column, value, stored) in [
            ("name", &w.name, &k.name_ct),
            ("username", &w.username, &k.username_ct),
        ] {
            if let Some(v) = value {
                let current = stored
                    .as_ref()
                    .map(|ct| self.open_string("contacts", column, &k.id, ct))
                    .transpose()?;
                if current.as_deref() != Some(v.as_str()) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// The open conversation of each contact on `channel`, created where there is none.
    pub async fn open_conversations(
        &mut self,
        channel: ChannelId,
        contacts: &[ContactId],
    ) -> Result<HashMap<ContactId, ConversationId>, StoreError> {
        let mut found: HashMap<ContactId, ConversationId> = HashMap::new();
        let mut unique: Vec<ContactId> = contacts.to_vec();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(CHUNK) {
            let mut ph = Ph::new(self.store.backend());
            let sql = format!(
                // `status` is filtered here, not in SQL: with it, SQLite prefers the inbox index
                // and scans every open conversation of the tenant.
                "SELECT contact_id, conversation_id, status FROM conversations WHERE tenant_id = {} AND channel_id = {} \
                 AND contact_id IN ({}) ORDER BY created_at",
                ph.one(),
                ph.one(),
                ph.list(chunk.len())
            );
            let t = self.tenant_str().to_string();
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .persistent(false)
                .bind(t)
                .bind(channel.to_string());
            for c in chunk {
                q = q.bind(c.to_string());
            }
            for r in q.fetch_all(self.conn()).await? {
                let contact: String = r.try_get(0)?;
                let conv: String = r.try_get(1)?;
                let status: String = r.try_get(2)?;
                if status != "open" {
                    continue;
                }
                found.insert(
                    contact
                        .parse()
                        .map_err(|_| StoreError::Corrupt("contact id".into()))?,
                    conv.parse()
                        .map_err(|_| StoreError::Corrupt("conversation id".into()))?,
                );
            }
        }
        let missing: Vec<ContactId> = unique
            .into_iter()
            .filter(|c| !found.contains_key(c))
            .collect();
        found.extend(self.create_conversations(channel, &missing).await?);
        Ok(found)
    }

    /// Opens a conversation on `channel` for each of `contacts` (which have none open).
    async fn create_conversations(
        &mut self,
        channel: ChannelId,
        contacts: &[ContactId],
    ) -> Result<HashMap<ContactId, ConversationId>, StoreError> {
        let mut created = HashMap::new();
        let now = self.now();
        let t = self.tenant_str().to_string();
        for chunk in contacts.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO conversations (tenant_id, conversation_id, contact_id, channel_id, status, last_message_at, created_at) \
                 VALUES {} ON CONFLICT DO NOTHING",
                Ph::new(self.store.backend()).rows(chunk.len(), 7)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for c in chunk {
                let id =
                    ConversationId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
                q = q
                    .bind(t.clone())
                    .bind(id.to_string())
                    .bind(c.to_string())
                    .bind(channel.to_string())
                    .bind("open".to_string())
                    .bind(now)
                    .bind(now);
                created.insert(*c, id);
            }
            // Another writer opened one of them meanwhile (PostgreSQL with several instances):
            // the round is retried delivery by delivery, and then finds it.
            if q.execute(self.conn()).await?.rows_affected() != chunk.len() as u64 {
                return Err(StoreError::Conflict("conversation opened concurrently"));
            }
        }
        Ok(created)
    }

    /// Stores messages once per wamid, in order; a wamid stored before (or twice in the list) is
    /// [`Stored::Duplicate`]. Conversations are not touched (see [`Scope::touch_conversation`]).
    ///
    /// Duplicates are found by one lookup that returns only them, and the rest is inserted
    /// without `RETURNING` (on SQLite every returned row is a hand-off between threads). Should
    /// another writer have stored one of the wamids in between (PostgreSQL with several
    /// instances), the insert count shows it and the call fails with [`StoreError::Conflict`]:
    /// the caller retries, and then sees it as a duplicate.
    pub async fn insert_messages(
        &mut self,
        items: Vec<(ConversationId, NewMessage)>,
    ) -> Result<Vec<Stored>, StoreError> {
        let mut out = Vec::with_capacity(items.len());
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        for chunk in items.chunks(CHUNK) {
            let t = self.tenant_str().to_string();
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
                let id = MessageId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
                let body =
                    self.seal_str("messages", "body", &id.to_string(), &m.body.to_string())?;
                out.push(Stored::Inserted(id));
                rows.push((id, body, conv, m));
            }
            if rows.is_empty() {
                continue;
            }
            let sql = format!(
                "INSERT INTO messages (tenant_id, message_id, conversation_id, direction, wamid, kind, body_ct, status, created_at) \
                 VALUES {} ON CONFLICT DO NOTHING",
                Ph::new(self.store.backend()).rows(rows.len(), 9)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for (id, body, conv, m) in &rows {
                q = q
                    .bind(t.clone())
                    .bind(id.to_string())
                    .bind(conv.to_string())
                    .bind(m.direction_str().to_string())
                    .bind(m.wamid.clone())
                    .bind(m.kind.clone())
                    .bind(body.clone())
                    .bind(m.status.clone())
                    .bind(m.at_micros);
            }
            if q.execute(self.conn()).await?.rows_affected() != rows.len() as u64 {
                return Err(StoreError::Conflict("messages stored concurrently"));
            }
        }
        Ok(out)
    }

    /// The keys among `keys` (values of `columns`, all text) that `table` holds for this tenant:
    /// one indexed lookup per chunk that returns only the rows that exist.
    async fn existing(
        &mut self,
        table: &str,
        columns: &[&str],
        keys: impl Iterator<Item = Vec<String>>,
    ) -> Result<std::collections::HashSet<Vec<String>>, StoreError> {
        let keys: Vec<Vec<String>> = keys.collect();
        let width = columns.len();
        let mut found = std::collections::HashSet::new();
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

    /// Records statuses once per `(wamid, status)`, in order (true: recorded, false: duplicate),
    /// and moves each message's status forward only. Duplicates are found as in
    /// [`Scope::insert_messages`], with the same [`StoreError::Conflict`] on a race.
    pub async fn record_statuses(&mut self, rows: &[StatusRow]) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        let mut seen = std::collections::HashSet::new();
        for chunk in rows.chunks(CHUNK) {
            let t = self.tenant_str().to_string();
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
            let sql = format!(
                "INSERT INTO message_statuses (tenant_id, wamid, status, at, details) VALUES {} ON CONFLICT DO NOTHING",
                Ph::new(self.store.backend()).rows(fresh.len(), 5)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for r in &fresh {
                q = q
                    .bind(t.clone())
                    .bind(r.wamid.clone())
                    .bind(r.status.clone())
                    .bind(r.at_micros)
                    .bind(r.details.clone());
            }
            if q.execute(self.conn()).await?.rows_affected() != fresh.len() as u64 {
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
            let mut ph = Ph::new(self.store.backend());
            let values = ph.rows(best.len(), 3);
            let sql = format!(
                "UPDATE messages SET status = v.column2, status_rank = v.column3 FROM (VALUES {values}) AS v \
                 WHERE messages.tenant_id = {} AND messages.wamid = v.column1 AND messages.status_rank < v.column3",
                ph.one()
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for r in best.values() {
                q = q.bind(r.wamid.clone()).bind(r.status.clone()).bind(r.rank);
            }
            q = q.bind(t);
            q.execute(self.conn()).await?;
        }
        Ok(out)
    }
}

impl Scope<'_> {
    /// [`Scope::touch_conversation`] for many conversations in one statement per chunk:
    /// `(conversation, last message at, last inbound at)`, times only ever moving forward.
    pub async fn touch_conversations(
        &mut self,
        touches: &[(ConversationId, i64, Option<i64>)],
    ) -> Result<(), StoreError> {
        for chunk in touches.chunks(CHUNK) {
            let t = self.tenant_str().to_string();
            let mut ph = Ph::new(self.store.backend());
            let values = ph.rows(chunk.len(), 3);
            let sql = format!(
                "UPDATE conversations SET \
                 last_message_at = CASE WHEN last_message_at > v.column2 THEN last_message_at ELSE v.column2 END, \
                 last_inbound_at = CASE WHEN v.column3 IS NULL THEN last_inbound_at \
                                        WHEN last_inbound_at > v.column3 THEN last_inbound_at ELSE v.column3 END \
                 FROM (VALUES {values}) AS v WHERE conversations.tenant_id = {} AND conversations.conversation_id = v.column1",
                ph.one()
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for (conv, last, inbound) in chunk {
                q = q.bind(conv.to_string()).bind(*last).bind(*inbound);
            }
            q = q.bind(t);
            q.execute(self.conn()).await?;
        }
        Ok(())
    }

    /// Queues inbound media for the fetcher (once per message).
    pub async fn enqueue_media_fetches(
        &mut self,
        items: &[NewMediaFetch],
    ) -> Result<(), StoreError> {
        for chunk in items.chunks(CHUNK) {
            let t = self.tenant_str().to_string();
            let now = self.now();
            let sql = format!(
                "INSERT INTO media_fetches (tenant_id, message_id, channel_id, meta_media_id, sha256, mime_type, status, attempts, next_attempt_at) \
                 VALUES {} ON CONFLICT DO NOTHING",
                Ph::new(self.store.backend()).rows(chunk.len(), 9)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for f in chunk {
                q = q
                    .bind(t.clone())
                    .bind(f.message.to_string())
                    .bind(f.channel.to_string())
                    .bind(f.meta_media_id.clone())
                    .bind(f.sha256.clone())
                    .bind(f.mime_type.clone())
                    .bind("pending".to_string())
                    .bind(0i64)
                    .bind(now);
            }
            q.execute(self.conn()).await?;
        }
        Ok(())
    }
}
