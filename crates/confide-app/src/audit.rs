//! The tenant's audit log (C22): its entries, newest first (keyset-paginated), and the
//! verification of its sealed hash chain. Audit entries hold ids, codes and counts only, never
//! personal data, so nothing is opened here.

use crate::error::AppError;
use crate::paging::{self, Page};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::permissions::Permission;
use serde::Deserialize;

pub use confide_core::audit::{AuditEntry, ChainBreak};

const AUDIT_CURSOR: &str = "a1";

/// A page of the log, as asked for (text, as it came).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Keeps only entries with exactly this action.
    pub action: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<String>,
}

/// What verifying the chain found; `entries` counts the stored entries.
#[derive(Debug, Clone)]
pub enum ChainReport {
    Intact { entries: u64 },
    Broken { entries: u64, at: ChainBreak },
}

/// What kind of tampering a break points to.
pub fn break_kind(b: &ChainBreak) -> &'static str {
    match b {
        ChainBreak::Altered { .. } => "edited",
        ChainBreak::Forged { .. } => "forged",
        ChainBreak::Missing { .. } | ChainBreak::Truncated { .. } => "deleted",
        ChainBreak::BadLink { .. } => "reordered",
        ChainBreak::HeadMismatch { .. } => "head_mismatch",
    }
}

impl App {
    /// Entries, newest first.
    pub async fn list_audit(
        &self,
        p: &Principal,
        q: AuditQuery,
    ) -> Result<Page<AuditEntry>, AppError> {
        p.require(Permission::AuditRead)?;
        let limit = paging::limit(q.limit.as_deref())?;
        let before = q
            .cursor
            .as_deref()
            .map(|c| paging::decode_seq(AUDIT_CURSOR, c))
            .transpose()?;
        let action = q.action.as_deref().map(str::trim).filter(|a| !a.is_empty());
        // One more than asked for tells whether another page follows.
        let mut entries = self
            .store
            .audit_list(p.tenant, action, before, limit + 1)
            .await?;
        let more = entries.len() as i64 > limit;
        entries.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = if more {
            entries
                .last()
                .map(|e| paging::encode_seq(AUDIT_CURSOR, e.seq))
        } else {
            None
        };
        Ok(Page {
            items: entries,
            next_cursor,
        })
    }

    /// Walks the chain and reports the first bad entry.
    pub async fn verify_audit(&self, p: &Principal) -> Result<ChainReport, AppError> {
        use confide_store::audit::Verification;
        p.require(Permission::AuditRead)?;
        Ok(match self.store.audit_verify(p.tenant).await? {
            Verification::Intact { entries } => ChainReport::Intact { entries },
            Verification::Broken(b) => ChainReport::Broken {
                entries: self.store.audit_count(p.tenant).await?,
                at: b,
            },
        })
    }
}
