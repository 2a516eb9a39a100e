//! The team's tools: internal notes in a conversation's thread (never sent to the customer)
//! and canned responses (saved replies by shortcut).

use crate::error::{AppError, Code};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::ids::{CannedResponseId, ConversationId};
use confide_core::permissions::Permission;
use serde_json::json;

pub use confide_store::notes::{CannedResponse, Note};

/// The longest note or canned response.
pub const TEXT_MAX: usize = 4096;

fn text(t: &str) -> Result<&str, AppError> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > TEXT_MAX {
        return Err(AppError::new(
            Code::InvalidText,
            "The text is empty or longer than 4,096 characters.",
        ));
    }
    Ok(t)
}

fn shortcut(s: &str) -> Result<String, AppError> {
    let s = s.trim().trim_start_matches('/').to_ascii_lowercase();
    let ok = (1..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(AppError::new(
            Code::InvalidShortcut,
            "A shortcut is 1 to 32 letters, digits, - or _ (typed after a /).",
        ));
    }
    Ok(s)
}

fn conversation_id(id: &str) -> Result<ConversationId, AppError> {
    id.parse().map_err(|_| AppError::not_found())
}

fn canned_id(id: &str) -> Result<CannedResponseId, AppError> {
    id.parse().map_err(|_| AppError::not_found())
}

impl App {
    /// A conversation's internal notes, oldest first.
    pub async fn list_notes(
        &self,
        p: &Principal,
        conversation: &str,
    ) -> Result<Vec<Note>, AppError> {
        p.require(Permission::InboxRead)?;
        let conversation = conversation_id(conversation)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        s.inbox().conversation(conversation).await?;
        let notes = s.notes().list(conversation).await?;
        s.commit().await?;
        Ok(notes)
    }

    /// Adds an internal note to a conversation (never sent); audited with ids only.
    pub async fn add_note(
        &self,
        p: &Principal,
        conversation: &str,
        body: &str,
    ) -> Result<Note, AppError> {
        p.require(Permission::InboxReply)?;
        let conversation = conversation_id(conversation)?;
        let mut s = self.store.scope(p.tenant).await?;
        s.inbox().conversation(conversation).await?;
        let note = s
            .notes()
            .add(conversation, &p.actor().to_string(), text(body)?)
            .await?;
        s.audit(
            &AuditEvent::new(p.actor(), "note.created", format!("note:{}", note.id))
                .with_details(json!({"conversation": conversation.to_string()})),
        )
        .await?;
        s.commit().await?;
        self.events.publish(crate::events::InboxEvent {
            tenant: p.tenant,
            change: crate::events::Change::NoteCreated {
                conversation,
                note: note.id,
            },
        });
        Ok(note)
    }

    /// The tenant's canned responses, by shortcut.
    pub async fn list_canned(&self, p: &Principal) -> Result<Vec<CannedResponse>, AppError> {
        p.require(Permission::InboxRead)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let list = s.canned().list().await?;
        s.commit().await?;
        Ok(list)
    }

    /// Saves a reply under a shortcut; 409 when the shortcut is taken.
    pub async fn create_canned(
        &self,
        p: &Principal,
        short: &str,
        body: &str,
    ) -> Result<CannedResponse, AppError> {
        p.require(Permission::InboxReply)?;
        let (short, body) = (shortcut(short)?, text(body)?);
        let mut s = self.store.scope(p.tenant).await?;
        let c = s.canned().create(&short, body).await?;
        s.audit(&AuditEvent::new(
            p.actor(),
            "canned_response.created",
            format!("canned_response:{}", c.id),
        ))
        .await?;
        s.commit().await?;
        Ok(c)
    }

    /// Changes a canned response's shortcut and/or text.
    pub async fn update_canned(
        &self,
        p: &Principal,
        id: &str,
        short: Option<&str>,
        body: Option<&str>,
    ) -> Result<CannedResponse, AppError> {
        p.require(Permission::InboxReply)?;
        let id = canned_id(id)?;
        let short = short.map(shortcut).transpose()?;
        let body = body.map(text).transpose()?;
        let mut s = self.store.scope(p.tenant).await?;
        let c = s.canned().update(id, short.as_deref(), body).await?;
        s.audit(&AuditEvent::new(
            p.actor(),
            "canned_response.updated",
            format!("canned_response:{id}"),
        ))
        .await?;
        s.commit().await?;
        Ok(c)
    }

    /// Deletes a canned response.
    pub async fn delete_canned(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::InboxReply)?;
        let id = canned_id(id)?;
        let mut s = self.store.scope(p.tenant).await?;
        s.canned().delete(id).await?;
        s.audit(&AuditEvent::new(
            p.actor(),
            "canned_response.deleted",
            format!("canned_response:{id}"),
        ))
        .await?;
        s.commit().await?;
        Ok(())
    }
}
