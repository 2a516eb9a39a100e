//! Statement builders for the tables that are written both one row at a time and many rows per
//! statement (ingest). Each table's columns, binding order and conflict rule are written once,
//! in its module here, and the one-by-one and the bulk paths both take their statements from
//! it, so the two cannot drift apart: a single write is the bulk statement with one row.

pub(crate) mod contacts;
pub(crate) mod conversations;
pub(crate) mod media_fetches;
pub(crate) mod message_statuses;
pub(crate) mod messages;
pub(crate) mod name_tokens;

use crate::backend::Backend;
use sqlx::Any;
use sqlx::any::AnyArguments;

/// A statement being bound.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

/// Rows per multi-row statement (well under SQLite's and PostgreSQL's parameter limits).
pub(crate) const CHUNK: usize = 400;

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

    pub(crate) fn one(&mut self) -> String {
        self.n += 1;
        match self.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${}", self.n),
        }
    }

    /// `k` placeholders, comma-separated.
    pub(crate) fn list(&mut self, k: usize) -> String {
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

/// A statement from generated text. One-row statements are prepared and cached like any other;
/// multi-row ones are not (their text changes with the row count).
pub(crate) fn statement<'q>(sql: String, rows: usize) -> AnyQuery<'q> {
    sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(rows == 1)
}

/// A row of a table with a statement builder: its columns (the first is always `tenant_id`),
/// what an insert does with a row that already exists, and how a row binds its values.
pub(crate) trait TableRow {
    const TABLE: &'static str;
    /// In binding order; the first is `tenant_id`.
    const COLUMNS: &'static [&'static str];
    /// `ON CONFLICT …` for an insert.
    const ON_CONFLICT: &'static str;
    /// Binds the row's values, `tenant` first, in [`Self::COLUMNS`] order.
    fn bind<'q>(&self, q: AnyQuery<'q>, tenant: &str) -> AnyQuery<'q>;
}

impl<R: TableRow> TableRow for &R {
    const TABLE: &'static str = R::TABLE;
    const COLUMNS: &'static [&'static str] = R::COLUMNS;
    const ON_CONFLICT: &'static str = R::ON_CONFLICT;

    fn bind<'q>(&self, q: AnyQuery<'q>, tenant: &str) -> AnyQuery<'q> {
        (**self).bind(q, tenant)
    }
}

/// `INSERT INTO <table> (<columns>) VALUES (…), … <on conflict>` for `rows`, bound.
pub(crate) fn insert<'q, R: TableRow>(backend: Backend, tenant: &str, rows: &[R]) -> AnyQuery<'q> {
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {} {}",
        R::TABLE,
        R::COLUMNS.join(", "),
        Ph::new(backend).rows(rows.len(), R::COLUMNS.len()),
        R::ON_CONFLICT
    );
    rows.iter()
        .fold(statement(sql, rows.len()), |q, r| r.bind(q, tenant))
}
