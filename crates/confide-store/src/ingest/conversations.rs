//! The senders' conversations: for each contact of a batch, its open conversation on the
//! channel, opened (a statement per chunk) where there is none; and each conversation's times
//! moved forward once per round.

use super::WaIdentity;
use super::contact_batches::Conversation;
use crate::error::StoreError;
use crate::scope::Scope;
use crate::tables::{self, CHUNK, Ph, conversations::ConversationRow};
use confide_core::ids::{ChannelId, ContactId, ConversationId};
use std::collections::HashMap;

impl Scope<'_> {
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
            let mut q = sqlx::query_as::<_, (String, String, String)>(sqlx::AssertSqlSafe(sql))
                .persistent(false)
                .bind(t)
                .bind(channel.to_string());
            for c in chunk {
                q = q.bind(c.to_string());
            }
            for (contact, conv, status) in q.fetch_all(self.conn()).await? {
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
            let mut rows = Vec::with_capacity(chunk.len());
            for c in chunk {
                let id =
                    ConversationId::new(self.store.clock().as_ref(), self.store.entropy().as_ref());
                rows.push(ConversationRow {
                    id: id.to_string(),
                    contact: c.to_string(),
                    channel: channel.to_string(),
                    at: now,
                });
                created.insert(*c, id);
            }
            let inserted = tables::insert(self.store.backend(), &t, &rows)
                .execute(self.conn())
                .await?
                .rows_affected();
            // Another writer opened one of them meanwhile (PostgreSQL with several instances):
            // the round is retried delivery by delivery, and then finds it.
            if inserted != chunk.len() as u64 {
                return Err(StoreError::Conflict("conversation opened concurrently"));
            }
        }
        Ok(created)
    }

    /// Moves conversations' last-message times (and last-inbound times, which open the 24-hour
    /// window) forward, never back, in one statement per chunk: `(conversation, last message at,
    /// last inbound at)`.
    pub async fn touch_conversations(
        &mut self,
        touches: &[(ConversationId, i64, Option<i64>)],
    ) -> Result<(), StoreError> {
        let t = self.tenant_str().to_string();
        for chunk in touches.chunks(CHUNK) {
            tables::conversations::touch(self.store.backend(), &t, chunk)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}
