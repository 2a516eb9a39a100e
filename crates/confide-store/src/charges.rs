//! Charges: what Meta's status webhooks say each outbound message costs (`pricing`: billable,
//! category, model, type), recorded once per message, and summed per channel and category.

use crate::error::StoreError;
use crate::scope::Scope;
use crate::tables::{CHUNK, Ph};
use sqlx::Row;

/// The pricing a status webhook carried for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCharge {
    pub wamid: String,
    pub phone_number_id: String,
    /// `marketing`, `utility`, `authentication`, `service`, ...
    pub category: String,
    pub pricing_model: Option<String>,
    pub pricing_type: Option<String>,
    pub billable: bool,
    pub at_micros: i64,
}

/// Messages of one channel and category in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeTotal {
    pub phone_number_id: String,
    pub category: String,
    pub billable: i64,
    pub free: i64,
}

impl Scope<'_> {
    /// Records charges once per message; true for each one recorded now (a repeat of a message
    /// already charged, or twice in `items`, is false).
    pub async fn record_charges(&mut self, items: &[NewCharge]) -> Result<Vec<bool>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let known = self
            .existing(
                "charges",
                &["wamid"],
                items.iter().map(|c| vec![c.wamid.clone()]),
            )
            .await?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(items.len());
        let mut fresh = Vec::new();
        for c in items {
            let key = vec![c.wamid.clone()];
            let is_fresh = !known.contains(&key) && seen.insert(key);
            if is_fresh {
                fresh.push(c);
            }
            out.push(is_fresh);
        }
        // One statement per chunk, not one per charge: this runs on the ingest writer's path.
        let t = self.tenant_str().to_string();
        for chunk in fresh.chunks(CHUNK / 8) {
            let mut ph = Ph::new(self.store.backend());
            let sql = format!(
                "INSERT INTO charges (tenant_id, wamid, phone_number_id, category, pricing_model, pricing_type, billable, at) \
                 VALUES {} ON CONFLICT DO NOTHING",
                ph.rows(chunk.len(), 8)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for c in chunk {
                q = q
                    .bind(t.clone())
                    .bind(c.wamid.clone())
                    .bind(c.phone_number_id.clone())
                    .bind(c.category.clone())
                    .bind(c.pricing_model.clone())
                    .bind(c.pricing_type.clone())
                    .bind(i64::from(c.billable))
                    .bind(c.at_micros);
            }
            q.execute(self.conn()).await?;
        }
        Ok(out)
    }

    /// Messages charged in `[from, until)` (Unix micros), per channel number and category.
    pub async fn charge_totals(
        &mut self,
        from: i64,
        until: i64,
    ) -> Result<Vec<ChargeTotal>, StoreError> {
        let t = self.tenant_str().to_string();
        let rows = sqlx::query(
            "SELECT phone_number_id, category, CAST(SUM(billable) AS BIGINT), COUNT(*) FROM charges \
             WHERE tenant_id = $1 AND at >= $2 AND at < $3 GROUP BY phone_number_id, category ORDER BY phone_number_id, category",
        )
        .bind(t)
        .bind(from)
        .bind(until)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let billable: i64 = r.try_get(2)?;
                let all: i64 = r.try_get(3)?;
                Ok(ChargeTotal {
                    phone_number_id: r.try_get(0)?,
                    category: r.try_get(1)?,
                    billable,
                    free: all - billable,
                })
            })
            .collect()
    }
}
