//! Keyset pagination shared by every list: a page answers `next_cursor`, an opaque string (none on
//! the last page) to pass back as `cursor` for the next one. A cursor is base64url (no padding) of
//! `<kind>.<time>.<id>` (or `<kind>.<seq>` for the audit log): the last item handed out. Clients
//! must not build or read them; anything that is not a cursor of the list's kind is
//! `invalid_cursor`, a page size outside 1 to [`MAX_LIMIT`] is `invalid_limit`.

use crate::error::{AppError, Code};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The page size when none is asked for.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page a caller may ask for.
pub const MAX_LIMIT: i64 = confide_store::page::MAX_PAGE;

/// A page of a list and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The page size asked for (text, as it came), or the default.
pub fn limit(v: Option<&str>) -> Result<i64, AppError> {
    let Some(v) = v else {
        return Ok(DEFAULT_LIMIT);
    };
    match v.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(AppError::new(
            Code::InvalidLimit,
            format!("limit must be a whole number from 1 to {MAX_LIMIT}."),
        )),
    }
}

fn invalid_cursor() -> AppError {
    AppError::new(
        Code::InvalidCursor,
        "cursor is not one this list handed out; start again without it.",
    )
}

/// A cursor of `kind` naming the item at time `at` with `id`.
pub fn encode(kind: &str, at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}.{at}.{id}"))
}

/// The time and id a cursor of `kind` names.
pub fn decode<T: std::str::FromStr>(kind: &str, v: &str) -> Result<(i64, T), AppError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(v.trim())
        .map_err(|_| invalid_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_cursor())?;
    let mut parts = text.splitn(3, '.');
    let (Some(k), Some(at), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid_cursor());
    };
    if k != kind {
        return Err(invalid_cursor());
    }
    let at = at.parse::<i64>().map_err(|_| invalid_cursor())?;
    let id = id.parse::<T>().map_err(|_| invalid_cursor())?;
    Ok((at, id))
}

/// A cursor of `kind` naming a sequence number.
pub fn encode_seq(kind: &str, seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}.{seq}"))
}

/// The sequence number (≥ 1) a cursor of `kind` names.
pub fn decode_seq(kind: &str, v: &str) -> Result<i64, AppError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(v.trim())
        .map_err(|_| invalid_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_cursor())?;
    let Some((k, seq)) = text.split_once('.') else {
        return Err(invalid_cursor());
    };
    if k != kind {
        return Err(invalid_cursor());
    }
    match seq.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(invalid_cursor()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::ids::{ConversationId, MessageId};

    #[test]
    fn cursors_round_trip_and_refuse_the_other_kind_and_garbage() {
        let id = "0190a7a4-0000-7000-8000-000000000000";
        let c = encode("c1", 42, id);
        let (at, got): (i64, ConversationId) = decode("c1", &c).unwrap();
        assert_eq!((at, got.to_string()), (42, id.to_string()));
        assert!(decode::<MessageId>("m1", &c).is_err());
        for bad in ["", "!!", "YWJj", &URL_SAFE_NO_PAD.encode("c1.x.y")] {
            let e = decode::<ConversationId>("c1", bad).unwrap_err();
            assert_eq!(e.code, Code::InvalidCursor);
        }
        assert_eq!(decode_seq("a1", &encode_seq("a1", 7)).unwrap(), 7);
        assert!(decode_seq("a1", &encode_seq("a1", 0)).is_err());
        assert!(decode_seq("a1", &encode("c1", 1, id)).is_err());
    }

    #[test]
    fn limits_outside_one_to_two_hundred_are_refused() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some("200")).unwrap(), 200);
        for bad in ["0", "-1", "201", "ten", "1.5", "99999999999999999999"] {
            assert_eq!(
                limit(Some(bad)).unwrap_err().code,
                Code::InvalidLimit,
                "{bad}"
            );
        }
    }
}
