//! E.164 phone numbers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in E.164 form: `+` then 8 to 15 digits, the first not zero.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("a phone number needs 8 to 15 digits")]
    Length,
    #[error("a phone number may hold only digits, spaces, dots, dashes, brackets and a leading +")]
    Characters,
    #[error("a phone number's country code cannot start with 0")]
    LeadingZero,
}

impl Phone {
    /// Normalises common ways of writing a number (`+1 (650) 555-1234`, `0016505551234`,
    /// WhatsApp's bare `16505551234`) to E.164. A number with no country code cannot be normalised
    /// and is refused rather than guessed.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let s = input.trim();
        let (rest, had_plus) = match s.strip_prefix('+') {
            Some(r) => (r, true),
            None => (s, false),
        };
        let mut digits = String::with_capacity(16);
        for ch in rest.chars() {
            match ch {
                '0'..='9' => digits.push(ch),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(PhoneError::Characters),
            }
        }
        let digits = if !had_plus && digits.starts_with("00") {
            digits[2..].to_string()
        } else {
            digits
        };
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(PhoneError::Length);
        }
        Ok(Self(format!("+{}", brazil_ninth_digit(digits))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`, as WhatsApp writes `wa_id`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

/// Brazil's mobile numbers gained a ninth digit (a leading 9) between 2012 and 2016, yet older
/// WhatsApp ids and address books still write them with eight: `55 11 8765-4321` is
/// `+55 11 98765-4321`. A Brazilian number of a two-digit area code (no zero) and eight digits
/// starting with 6 to 9 (the old mobile ranges; landlines start with 2 to 5) gets its 9, so both
/// forms are one number.
fn brazil_ninth_digit(digits: String) -> String {
    let b = digits.as_bytes();
    if b.len() == 12
        && digits.starts_with("55")
        && (b'1'..=b'9').contains(&b[2])
        && (b'1'..=b'9').contains(&b[3])
        && (b'6'..=b'9').contains(&b[4])
    {
        format!("{}9{}", &digits[..4], &digits[4..])
    } else {
        digits
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, PhoneError> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Personal data: the number never appears whole in debug output or logs.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        write!(f, "Phone(+…{tail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses() {
        let cases: &[(&str, Result<&str, PhoneError>)] = &[
            ("+1 (650) 555-1234", Ok("+16505551234")),
            ("16505551234", Ok("+16505551234")),
            ("0016505551234", Ok("+16505551234")),
            ("+44 20 7946 0958", Ok("+442079460958")),
            ("06505551234", Err(PhoneError::LeadingZero)),
            ("+1234567", Err(PhoneError::Length)),
            ("+1234567890123456", Err(PhoneError::Length)),
            ("+1650555123a", Err(PhoneError::Characters)),
            ("", Err(PhoneError::Length)),
            ("+", Err(PhoneError::Length)),
            // Brazil: a mobile with and without its ninth digit is one number; landlines and
            // nine-digit mobiles are left alone.
            ("+55 11 98765-4321", Ok("+5511987654321")),
            ("5511 8765 4321", Ok("+5511987654321")),
            ("+55 (21) 7765-4321", Ok("+5521977654321")),
            ("+55 11 3456-7890", Ok("+551134567890")),
            ("+44 20 7946 0958", Ok("+442079460958")),
        ];
        for (input, want) in cases {
            let got = Phone::parse(input);
            assert_eq!(
                got.as_ref().map(Phone::as_str).map_err(Clone::clone),
                want.clone(),
                "{input}"
            );
        }
    }

    #[test]
    fn debug_hides_the_number() {
        let p = Phone::parse("+16505551234").unwrap();
        assert!(!format!("{p:?}").contains("555"));
    }
}
