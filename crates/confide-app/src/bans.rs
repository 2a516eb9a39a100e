//! Automatic bans shared between instances: on PostgreSQL the failure counters and the bans the
//! edge makes (`bans.*` settings) live in the database, so a ban made by one instance holds on
//! every other. The edge keeps a local copy of the bans in force, refreshed at most every
//! `bans.shared_refresh_ms`, and counts failures here. One SQLite process needs none of this:
//! its edge keeps counters and bans in memory ([`App::shares_bans`] says which).

use crate::error::AppError;
use crate::runtime::App;
use confide_store::Backend;
use confide_store::bans::{Counted, StoredBan};
use std::net::IpAddr;
use time::OffsetDateTime;

/// A ban in force, as the edge and operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBan {
    pub address: IpAddr,
    /// What the address kept failing at (`signature`, `sign_in`, `authorization`).
    pub reason: String,
    /// Failures counted in the window.
    pub failures: u32,
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
}

fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn at(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn secs_us(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX / 1_000_000_000) * 1_000_000
}

impl AddressBan {
    fn of(b: StoredBan) -> Option<AddressBan> {
        Some(AddressBan {
            address: b.address.parse().ok()?,
            reason: b.reason,
            failures: u32::try_from(b.failures).unwrap_or(u32::MAX),
            since: at(b.since),
            until: at(b.until),
        })
    }
}

impl App {
    /// Whether bans and their counters are kept in the database for every instance
    /// (PostgreSQL) rather than in the process (SQLite, one process).
    pub fn shares_bans(&self) -> bool {
        self.store.backend() == Backend::Postgres
    }

    /// Counts a failure of `ip` (`reason` names what failed) at `now`; the new ban when this
    /// failure reached `bans.threshold` within `bans.window_secs`.
    pub async fn count_address_failure(
        &self,
        ip: IpAddr,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AddressBan>, AppError> {
        let c = &self.config.bans;
        if c.threshold == 0 {
            return Ok(None);
        }
        let counted = self
            .store
            .count_address_failure(
                &ip.to_canonical().to_string(),
                reason,
                micros(now),
                secs_us(c.window_secs),
                i64::from(c.threshold),
                secs_us(c.duration_secs),
            )
            .await?;
        Ok(match counted {
            Counted::Below(_) => None,
            Counted::Banned(b) => AddressBan::of(b),
        })
    }

    /// The bans in force at `now` on every instance, soonest to end first.
    pub async fn address_bans(&self, now: OffsetDateTime) -> Result<Vec<AddressBan>, AppError> {
        let bans = self.store.bans_in_force(micros(now)).await?;
        Ok(bans.into_iter().filter_map(AddressBan::of).collect())
    }

    /// Ends the ban of `ip` early (an operator's decision); whether there was one.
    pub async fn lift_address_ban(
        &self,
        ip: IpAddr,
        now: OffsetDateTime,
    ) -> Result<bool, AppError> {
        Ok(self
            .store
            .lift_address_ban(&ip.to_canonical().to_string(), micros(now))
            .await?)
    }

    /// Forgets bans that ended and counters whose window ended.
    pub async fn purge_address_records(&self, now: OffsetDateTime) -> Result<(), AppError> {
        Ok(self
            .store
            .purge_address_records(micros(now), secs_us(self.config.bans.window_secs))
            .await?)
    }
}
