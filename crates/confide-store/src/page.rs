//! Keyset pages (no `OFFSET`): a page holds at most [`MAX_PAGE`] rows and a cursor naming its
//! last row; the next page starts strictly after it in the page order. Contacts and the inbox
//! page this way.

/// The largest page a caller may ask for.
pub const MAX_PAGE: i64 = 200;

/// One page and where the next one starts (`None`: this was the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// The page size actually used: `limit` clamped to 1..=[`MAX_PAGE`].
pub(crate) fn page_size(limit: i64) -> i64 {
    limit.clamp(1, MAX_PAGE)
}

/// Trims the extra row fetched to learn whether another page follows, and names where it starts.
pub(crate) fn next_cursor<T, C>(
    items: &mut Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> C,
) -> Option<C> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor)
    } else {
        None
    }
}
