//! The team's tools around a conversation: internal notes in its thread (never sent to the
//! customer) and canned responses (saved replies by shortcut). Both texts are sealed.

use crate::error::{StoreError, parse_id};
use crate::scope::Scope;
use confide_core::ids::{CannedResponseId, ConversationId, NoteId};
use sqlx::Row;

/// An internal note, decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: NoteId,
    pub conversation: ConversationId,
    /// Who wrote it (`user:<id>`, `api_key:<id>`).
    pub author: String,
    pub text: String,
    pub created_at: i64,
}

/// A canned response, decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedResponse {
    pub id: CannedResponseId,
    pub shortcut: String,
    pub text: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl<'s> Scope<'s> {
    /// Internal notes of the tenant's conversations.
    pub fn notes(&mut self) -> Notes<'_, 's> {
        Notes { scope: self }
    }

    /// The tenant's canned responses.
    pub fn canned(&mut self) -> Canned<'_, 's> {
        Canned { scope: self }
    }
}

/// Notes, in the scope's transaction.
pub struct Notes<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Notes<'_, '_> {
    /// Adds a note to a conversation (the caller checked that it is the tenant's).
    pub async fn add(
        &mut self,
        conversation: ConversationId,
        author: &str,
        text: &str,
    ) -> Result<Note, StoreError> {
        let id = NoteId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let now = self.scope.now();
        let sealed = self
            .scope
            .seal_str("notes", "text", &id.to_string(), text)?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO notes (tenant_id, note_id, conversation_id, author, text_ct, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(conversation.to_string())
        .bind(author.to_string())
        .bind(sealed)
        .bind(now)
        .execute(self.scope.conn())
        .await?;
        Ok(Note {
            id,
            conversation,
            author: author.to_string(),
            text: text.to_string(),
            created_at: now,
        })
    }

    /// A conversation's notes, oldest first (at most 500).
    pub async fn list(&mut self, conversation: ConversationId) -> Result<Vec<Note>, StoreError> {
        let t = self.scope.tenant_str().to_string();
        let rows = sqlx::query(
            "SELECT note_id, author, text_ct, created_at FROM notes WHERE tenant_id = $1 AND conversation_id = $2 \
             ORDER BY created_at, note_id LIMIT 500",
        )
        .bind(t)
        .bind(conversation.to_string())
        .fetch_all(self.scope.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let sealed: Vec<u8> = r.try_get(2)?;
                Ok(Note {
                    text: self.scope.open_string("notes", "text", &id, &sealed)?,
                    id: parse_id(id, "note")?,
                    conversation,
                    author: r.try_get(1)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
    }
}

/// Canned responses, in the scope's transaction.
pub struct Canned<'a, 's> {
    scope: &'a mut Scope<'s>,
}

impl Canned<'_, '_> {
    /// Saves a reply under a shortcut; [`StoreError::Conflict`] when the shortcut is taken.
    pub async fn create(
        &mut self,
        shortcut: &str,
        text: &str,
    ) -> Result<CannedResponse, StoreError> {
        let id = CannedResponseId::new(
            self.scope.store.clock().as_ref(),
            self.scope.store.entropy().as_ref(),
        );
        let now = self.scope.now();
        let sealed = self
            .scope
            .seal_str("canned_responses", "text", &id.to_string(), text)?;
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "INSERT INTO canned_responses (tenant_id, canned_id, shortcut, text_ct, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(t)
        .bind(id.to_string())
        .bind(shortcut.to_string())
        .bind(sealed)
        .bind(now)
        .execute(self.scope.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "a canned response with this shortcut"))?;
        Ok(CannedResponse {
            id,
            shortcut: shortcut.to_string(),
            text: text.to_string(),
            created_at: now,
            updated_at: now,
        })
    }

    /// Every canned response, by shortcut.
    pub async fn list(&mut self) -> Result<Vec<CannedResponse>, StoreError> {
        let rows = self
            .scope
            .tenant_rows(
                "SELECT canned_id, shortcut, text_ct, created_at, updated_at FROM canned_responses WHERE tenant_id = $1 ORDER BY shortcut"
                    .to_string(),
            )
            .await?;
        rows.iter().map(|r| self.opened(r)).collect()
    }

    /// One canned response; [`StoreError::NotFound`] unless it is the tenant's.
    pub async fn get(&mut self, id: CannedResponseId) -> Result<CannedResponse, StoreError> {
        let r = self
            .scope
            .tenant_row(
                "SELECT canned_id, shortcut, text_ct, created_at, updated_at FROM canned_responses WHERE tenant_id = $1 AND canned_id = $2"
                    .to_string(),
                id.to_string(),
            )
            .await?;
        self.opened(&r)
    }

    /// Changes the shortcut and/or the text (`None`: unchanged).
    pub async fn update(
        &mut self,
        id: CannedResponseId,
        shortcut: Option<&str>,
        text: Option<&str>,
    ) -> Result<CannedResponse, StoreError> {
        let current = self.get(id).await?;
        let shortcut = shortcut.unwrap_or(&current.shortcut).to_string();
        let text = text.unwrap_or(&current.text).to_string();
        let sealed = self
            .scope
            .seal_str("canned_responses", "text", &id.to_string(), &text)?;
        let now = self.scope.now();
        let t = self.scope.tenant_str().to_string();
        sqlx::query(
            "UPDATE canned_responses SET shortcut = $1, text_ct = $2, updated_at = $3 WHERE tenant_id = $4 AND canned_id = $5",
        )
        .bind(shortcut.clone())
        .bind(sealed)
        .bind(now)
        .bind(t)
        .bind(id.to_string())
        .execute(self.scope.conn())
        .await
        .map_err(|e| StoreError::from_insert(e, "a canned response with this shortcut"))?;
        Ok(CannedResponse {
            id,
            shortcut,
            text,
            created_at: current.created_at,
            updated_at: now,
        })
    }

    /// Deletes one; [`StoreError::NotFound`] unless it is the tenant's.
    pub async fn delete(&mut self, id: CannedResponseId) -> Result<(), StoreError> {
        let t = self.scope.tenant_str().to_string();
        let n = sqlx::query("DELETE FROM canned_responses WHERE tenant_id = $1 AND canned_id = $2")
            .bind(t)
            .bind(id.to_string())
            .execute(self.scope.conn())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn opened(&self, r: &sqlx::any::AnyRow) -> Result<CannedResponse, StoreError> {
        let id: String = r.try_get(0)?;
        let sealed: Vec<u8> = r.try_get(2)?;
        Ok(CannedResponse {
            text: self
                .scope
                .open_string("canned_responses", "text", &id, &sealed)?,
            id: parse_id(id, "canned response")?,
            shortcut: r.try_get(1)?,
            created_at: r.try_get(3)?,
            updated_at: r.try_get(4)?,
        })
    }
}
