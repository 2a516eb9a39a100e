//! What a new password must be (NIST SP 800-63B-4, OWASP ASVS 5.0 §6.2).
//!
//! - At least 15 characters, or 8 when the account has a second factor (counted as Unicode scalar
//!   values, so every script counts alike); at most [`MAX_CHARS`] (well over the 64 required), and
//!   the whole password is hashed: nothing is truncated.
//! - No composition rules (no "one digit, one symbol"): length and the blocklist do the work.
//! - Rejected: the most common passwords (the 11,600 entries of 8+ characters of zxcvbn's
//!   password frequency list, bundled in `data/`), repetitions of a short unit or of a common
//!   password (`passwordpassword`), straight runs (`123456789012345`, `abcdefghijklmnop`), and the
//!   account's own email address or its local part.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Minimum length without a second factor.
pub const MIN_CHARS: usize = 15;
/// Minimum length with a second factor.
pub const MIN_CHARS_WITH_MFA: usize = 8;
/// Longest accepted password: far above the 64 the standard asks, low enough that a request
/// cannot make hashing expensive.
pub const MAX_CHARS: usize = 1024;

const COMMON: &str = include_str!("../data/common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Why a password is refused (the message is safe to show).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must have at least {0} characters")]
    TooShort(usize),
    #[error("the password may have at most {MAX_CHARS} characters")]
    TooLong,
    #[error("the password is too common or too easy to guess")]
    Common,
    #[error("the password must not contain your email address")]
    ContainsEmail,
}

impl PolicyError {
    /// A stable machine code for the API.
    pub fn code(self) -> &'static str {
        match self {
            PolicyError::TooShort(_) => "password_too_short",
            PolicyError::TooLong => "password_too_long",
            PolicyError::Common => "password_too_common",
            PolicyError::ContainsEmail => "password_contains_email",
        }
    }
}

/// Checks a new password for an account with the given email; `has_mfa` lowers the minimum.
pub fn check(password: &str, email: Option<&str>, has_mfa: bool) -> Result<(), PolicyError> {
    let chars = password.chars().count();
    let min = if has_mfa {
        MIN_CHARS_WITH_MFA
    } else {
        MIN_CHARS
    };
    if chars < min {
        return Err(PolicyError::TooShort(min));
    }
    if chars > MAX_CHARS {
        return Err(PolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    if is_common(&lower) || is_repetition(&lower) || is_run(&lower) {
        return Err(PolicyError::Common);
    }
    if let Some(email) = email {
        let email = email.trim().to_lowercase();
        let local = email.split('@').next().unwrap_or_default();
        if (!email.is_empty() && lower.contains(&email))
            || (local.chars().count() >= 4 && lower.contains(local))
        {
            return Err(PolicyError::ContainsEmail);
        }
    }
    Ok(())
}

fn is_common(lower: &str) -> bool {
    let set = common();
    if set.contains(lower) {
        return true;
    }
    // A common password with only digits or punctuation around it ("password12345678!").
    let core = lower.trim_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    core.chars().count() >= 6 && set.contains(core)
}

/// The whole password is one unit repeated, where the unit is short or itself common.
fn is_repetition(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    let n = chars.len();
    (1..=n / 2)
        .filter(|unit| n.is_multiple_of(*unit))
        .any(|unit| {
            let repeats = chars.chunks(unit).all(|c| c == &chars[..unit]);
            if !repeats {
                return false;
            }
            let unit_text: String = chars[..unit].iter().collect();
            unit <= 4 || common().contains(unit_text.as_str()) || is_run(&unit_text)
        })
}

/// Every character is the previous one plus or minus one (digits wrap: `…7890123…`).
fn is_run(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    if chars.len() < 3 {
        return false;
    }
    let step = |a: char, b: char| -> Option<i32> {
        if a.is_ascii_digit() && b.is_ascii_digit() {
            let d = (b as i32 - a as i32).rem_euclid(10);
            match d {
                1 => Some(1),
                9 => Some(-1),
                _ => None,
            }
        } else if a.is_ascii_lowercase() && b.is_ascii_lowercase() {
            match b as i32 - a as i32 {
                1 => Some(1),
                -1 => Some(-1),
                _ => None,
            }
        } else {
            None
        }
    };
    let Some(first) = step(chars[0], chars[1]) else {
        return false;
    };
    chars.windows(2).all(|w| step(w[0], w[1]) == Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_list_is_loaded() {
        assert!(common().len() > 10_000);
        assert!(common().contains("password"));
    }

    /// C2: the whole rule set, one row per case: (password, email, has 2FA, expected).
    #[test]
    fn password_rules_table() {
        use PolicyError::*;
        let long64 = "a quiet lantern hums beside the river; ".repeat(2);
        let long_ok = "x".repeat(0) + &"tumbleweed orchard velvet ".repeat(39);
        assert!(long_ok.chars().count() > 1000 && long_ok.chars().count() <= MAX_CHARS);
        type Case<'a> = (String, Option<&'a str>, bool, Result<(), PolicyError>);
        let cases: Vec<Case> = vec![
            // length: 15 without 2FA, 8 with it; counted in characters, not bytes
            ("fourteen chars".into(), None, false, Err(TooShort(15))),
            ("fifteen chars!!".into(), None, false, Ok(())),
            ("short pw".into(), None, true, Ok(())),
            ("seven c".into(), None, true, Err(TooShort(8))),
            ("ĉiuĵaŭdeĥoŝanĝo".into(), None, false, Ok(())),
            (
                "日本語のパスワードです".into(),
                None,
                false,
                Err(TooShort(15)),
            ),
            (
                "日本語のパスワードですよね本当に".into(),
                None,
                false,
                Ok(()),
            ),
            // at least 64 allowed, very long allowed, beyond the cap refused
            (long64.clone(), None, false, Ok(())),
            (long_ok.clone(), None, false, Ok(())),
            ("y".repeat(MAX_CHARS + 1), None, false, Err(TooLong)),
            // no composition rules: all lowercase letters and spaces is fine
            ("correct horse battery staple".into(), None, false, Ok(())),
            ("alllowercaseletters".into(), None, false, Ok(())),
            // common and breached passwords, and trivial variations
            ("password".into(), None, true, Err(Common)),
            ("qwertyuiop".into(), None, true, Err(Common)),
            ("1qaz2wsx3edc4rfv".into(), None, false, Err(Common)),
            ("passwordpassword".into(), None, false, Err(Common)),
            ("Password12345678".into(), None, false, Err(Common)),
            ("iloveyou!!!!!!!!!".into(), None, false, Err(Common)),
            ("aaaaaaaaaaaaaaaaaaaa".into(), None, false, Err(Common)),
            ("abcabcabcabcabcabc".into(), None, false, Err(Common)),
            ("123456789012345".into(), None, false, Err(Common)),
            ("abcdefghijklmnopq".into(), None, false, Err(Common)),
            ("zyxwvutsrqponmlk".into(), None, false, Err(Common)),
            // context: the account's email
            (
                "ana.silva@example.com".into(),
                Some("ana.silva@example.com"),
                false,
                Err(ContainsEmail),
            ),
            (
                "my name is ana.silva, hi".into(),
                Some("ana.silva@example.com"),
                false,
                Err(ContainsEmail),
            ),
            (
                "my name is ana, hello there".into(),
                Some("ana@example.com"),
                false,
                Ok(()),
            ),
        ];
        for (pw, email, mfa, expected) in cases {
            assert_eq!(check(&pw, email, mfa), expected, "{pw:?} (2FA: {mfa})");
        }
    }

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(PolicyError::TooShort(15).code(), "password_too_short");
        assert_eq!(PolicyError::Common.code(), "password_too_common");
    }
}
