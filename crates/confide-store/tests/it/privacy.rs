//! The data inventory (`docs/privacy/data-inventory.md`, GDPR Art. 30, C14) names every column of
//! the schema, and nothing that is not in it.

use crate::harness::TestDb;
use confide_store::Backend;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// The `table.column` and `table.*` names in backticks of the inventory's tables.
fn inventory() -> BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/privacy/data-inventory.md"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        for (i, part) in line.split('`').enumerate() {
            let is_name = i % 2 == 1
                && part.contains('.')
                && part.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' || c == '*'
                });
            if is_name {
                names.insert(part.to_string());
            }
        }
    }
    names
}

async fn schema(db: &TestDb) -> BTreeMap<String, BTreeSet<String>> {
    let mut raw = db.raw().await;
    let pairs: Vec<(String, String)> = match db.backend() {
        Backend::Sqlite => {
            let tables: Vec<String> = sqlx::query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
            )
            .fetch_all(&mut raw)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
            let mut pairs = Vec::new();
            for t in tables {
                for r in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{t}')"
                )))
                .fetch_all(&mut raw)
                .await
                .unwrap()
                {
                    pairs.push((t.clone(), r.get(0)));
                }
            }
            pairs
        }
        Backend::Postgres => sqlx::query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut raw)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect(),
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (t, c) in pairs {
        out.entry(t).or_default().insert(c);
    }
    out
}

pub async fn the_data_inventory_names_every_column(db: &TestDb) {
    let listed = inventory();
    let schema = schema(db).await;
    assert!(schema.len() > 25, "{schema:?}");
    let mut missing = Vec::new();
    for (table, columns) in &schema {
        for c in columns {
            if !listed.contains(&format!("{table}.{c}")) && !listed.contains(&format!("{table}.*"))
            {
                missing.push(format!("{table}.{c}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/privacy/data-inventory.md does not say where these columns' data lives, how it is protected or kept: {missing:?}"
    );
    let mut stale = Vec::new();
    for name in &listed {
        let (table, column) = name.split_once('.').unwrap();
        let known = schema
            .get(table)
            .is_some_and(|cols| column == "*" || cols.contains(column));
        if !known {
            stale.push(name.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "the inventory names columns the schema does not have: {stale:?}"
    );
}
