//! What Meta charges: the pricing its status webhooks report, once per message, summed per
//! channel number and category for a calendar month (UTC).

use crate::error::{AppError, Code};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::clock::to_micros;
use confide_core::permissions::Permission;
use time::{Date, Month, OffsetDateTime, Time};

pub use confide_store::charges::ChargeTotal;

/// A month's charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyCharges {
    /// `YYYY-MM`.
    pub month: String,
    pub totals: Vec<ChargeTotal>,
}

fn month_bounds(year: i32, month: Month) -> Option<(i64, i64)> {
    let start = Date::from_calendar_date(year, month, 1).ok()?;
    let (ny, nm) = if month == Month::December {
        (year + 1, Month::January)
    } else {
        (year, month.next())
    };
    let end = Date::from_calendar_date(ny, nm, 1).ok()?;
    let at = |d: Date| to_micros(d.with_time(Time::MIDNIGHT).assume_utc());
    Some((at(start), at(end)))
}

fn parse_month(s: &str) -> Option<(i32, Month)> {
    let (y, m) = s.trim().split_once('-')?;
    let year: i32 = y.parse().ok().filter(|y| (2000..=9999).contains(y))?;
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Some((year, month))
}

impl App {
    /// The month's charges (`YYYY-MM`, UTC; the current month when absent), per channel number
    /// and category: billable and free messages.
    pub async fn monthly_charges(
        &self,
        p: &Principal,
        month: Option<&str>,
    ) -> Result<MonthlyCharges, AppError> {
        p.require(Permission::AuditRead)?;
        let (year, m) = match month {
            Some(s) => parse_month(s).ok_or_else(|| {
                AppError::new(Code::InvalidQuery, "month is YYYY-MM, e.g. 2026-12.")
            })?,
            None => {
                let now: OffsetDateTime = self.clock.now();
                (now.year(), now.month())
            }
        };
        let (from, until) = month_bounds(year, m)
            .ok_or_else(|| AppError::new(Code::InvalidQuery, "month is YYYY-MM, e.g. 2026-12."))?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let totals = s.charge_totals(from, until).await?;
        s.commit().await?;
        Ok(MonthlyCharges {
            month: format!("{year:04}-{:02}", u8::from(m)),
            totals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_span_exactly_one_calendar_month() {
        assert_eq!(parse_month("2026-12"), Some((2026, Month::December)));
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("26-1"), None);
        let (from, until) = month_bounds(2026, Month::December).unwrap();
        assert_eq!(until - from, 31 * 86_400 * 1_000_000);
        let (from, until) = month_bounds(2028, Month::February).unwrap();
        assert_eq!(until - from, 29 * 86_400 * 1_000_000, "a leap year");
    }
}
