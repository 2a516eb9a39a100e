//! Contacts resolved a batch of identities at a time: one lookup per chunk by BSUID (then by
//! phone for the rest), one insert per chunk for identities seen for the first time. Anything
//! unusual (an identity to fill in, a profile that changed, two new identities sharing a BSUID
//! or phone, a contact another writer created meanwhile) falls back to the one-by-one path of
//! [`super::contacts`], which knows every case.

use super::WaIdentity;
use crate::contacts::{PHONE_INDEX, WA_USER_INDEX};
use crate::error::StoreError;
use crate::scope::Scope;
use crate::tables::{self, CHUNK, Ph, contacts::ContactRow, name_tokens::NameTokenRow};
use confide_core::ids::{ChannelId, ContactId, ConversationId};
use std::collections::HashMap;

/// A contact's blind indexes: (WhatsApp user, phone).
type BidxPair = (Option<Vec<u8>>, Option<Vec<u8>>);

/// What a lookup learned of a contact's open conversation on the channel asked about.
#[derive(Debug, Clone, Copy)]
pub(super) enum Conversation {
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

/// A contact a lookup found, with its open conversation on the channel asked about.
#[derive(sqlx::FromRow)]
struct Known {
    #[sqlx(rename = "contact_id")]
    id: String,
    #[sqlx(rename = "open_conversation")]
    open: Option<String>,
    #[sqlx(rename = "wa_user_bidx")]
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

    /// Contacts of the identities, with what is known of their open conversation on `channel`.
    pub(super) async fn resolve_contacts(
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
                "SELECT c.contact_id, c.wa_user_bidx, c.phone_bidx, c.name_ct, c.username_ct, {conversation} AS open_conversation \
                 FROM contacts c WHERE c.tenant_id = {} AND c.{column} IN ({})",
                ph.one(),
                ph.list(chunk.len())
            );
            let mut q = sqlx::query_as::<_, Known>(sqlx::AssertSqlSafe(sql)).persistent(false);
            if let Some(ch) = channel {
                q = q.bind(ch.to_string());
            }
            q = q.bind(self.tenant_str().to_string());
            for b in chunk {
                q = q.bind((*b).clone());
            }
            known.extend(q.fetch_all(self.conn()).await?);
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
        let now = self.now();
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
            let contact = ContactRow {
                wa_user_bidx: ub.clone(),
                wa_user_ct: seal(self, "wa_user", first.user_id.as_deref())?,
                phone_bidx: pb.clone(),
                phone_ct: seal(self, "phone", first.phone.as_ref().map(|p| p.as_str()))?,
                username_ct: seal(self, "username", last(|w| w.username.as_ref()).as_deref())?,
                name_ct: seal(self, "name", last(|w| w.name.as_ref()).as_deref())?,
                labels_ct: None,
                attributes_ct: self.seal_str("contacts", "attributes", &row, "{}")?,
                at: now,
                id: row.clone(),
            };
            let tokens = self.name_token_rows(&row, last(|w| w.name.as_ref()).as_deref());
            rows.push((id, contact, members, tokens));
        }
        let t = self.tenant_str().to_string();
        for chunk in rows.chunks(CHUNK) {
            let contacts: Vec<&ContactRow> = chunk.iter().map(|(_, c, _, _)| c).collect();
            let inserted = tables::insert(self.store.backend(), &t, &contacts)
                .execute(self.conn())
                .await?
                .rows_affected();
            if inserted == chunk.len() as u64 {
                // The names' search tokens, in as few statements.
                let tokens: Vec<&NameTokenRow> =
                    chunk.iter().flat_map(|(_, _, _, t)| t.iter()).collect();
                for part in tokens.chunks(CHUNK) {
                    tables::insert(self.store.backend(), &t, part)
                        .execute(self.conn())
                        .await?;
                }
                for (id, _, members, _) in chunk {
                    for &i in members.iter() {
                        out[i] = Some((*id, Conversation::None));
                    }
                }
            } else {
                // Another writer got to some of them first: index the names of those this one
                // did insert (the lookup finds them unchanged), then look each one up.
                let mut ph = Ph::new(self.store.backend());
                let sql = format!(
                    "SELECT contact_id FROM contacts WHERE tenant_id = {} AND contact_id IN ({})",
                    ph.one(),
                    ph.list(chunk.len())
                );
                let ours: std::collections::HashSet<String> = chunk
                    .iter()
                    .fold(
                        tables::statement(sql, chunk.len()).bind(t.clone()),
                        |q, (id, _, _, _)| q.bind(id.to_string()),
                    )
                    .fetch_all(self.conn())
                    .await?
                    .iter()
                    .map(|r| sqlx::Row::try_get::<String, _>(r, 0))
                    .collect::<Result<_, _>>()?;
                let tokens: Vec<&NameTokenRow> = chunk
                    .iter()
                    .filter(|(id, _, _, _)| ours.contains(&id.to_string()))
                    .flat_map(|(_, _, _, t)| t.iter())
                    .collect();
                for part in tokens.chunks(CHUNK) {
                    tables::insert(self.store.backend(), &t, part)
                        .execute(self.conn())
                        .await?;
                }
                for (_, _, members, _) in chunk {
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
}
