//! Name search over sealed names: the words a name is found by, normalised the same way for the
//! contact's name and for the query. The store keeps only keyed blind indexes of these tokens
//! (`confide-store::name_tokens`), never the words.
//!
//! A name is split into words at anything that is not a letter or digit; each word is
//! lower-cased with its diacritics removed ("Zoë" → "zoe", "Łukasz" → "lukasz"). It is then
//! indexed as the whole word (`w:` tokens) and as each of its prefixes of [`MIN_PREFIX`] characters
//! or more (`p:` tokens, the whole word included), so "mar" finds "María". A query word shorter
//! than [`MIN_PREFIX`] must match a whole word ("Al" finds "Al Smith", not "Alice").

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The shortest prefix a name is found by.
pub const MIN_PREFIX: usize = 3;
/// Longer words are indexed by their first this many characters only (and the whole word).
pub const MAX_PREFIX: usize = 24;
/// At most this many words of a name are indexed.
pub const MAX_WORDS: usize = 12;

/// The normalised words of `text`: lower case, diacritics removed, split at anything that is not
/// a letter or digit.
pub fn words(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' => folded.push_str("ss"),
            'æ' | 'Æ' => folded.push_str("ae"),
            'œ' | 'Œ' => folded.push_str("oe"),
            'ø' | 'Ø' => folded.push('o'),
            'ł' | 'Ł' => folded.push('l'),
            'đ' | 'Đ' => folded.push('d'),
            'ı' => folded.push('i'),
            c if c.is_alphanumeric() => folded.extend(c.to_lowercase()),
            _ => folded.push(' '),
        }
    }
    folded.split_whitespace().map(str::to_string).collect()
}

/// The tokens a contact with this name is found by (deduplicated).
pub fn index_tokens(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in words(name).into_iter().take(MAX_WORDS) {
        out.push(format!("w:{w}"));
        let chars: Vec<char> = w.chars().collect();
        for len in MIN_PREFIX..=chars.len().min(MAX_PREFIX) {
            out.push(format!("p:{}", chars[..len].iter().collect::<String>()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The tokens a query must all match (one per query word): a prefix for words of
/// [`MIN_PREFIX`] characters or more, else the whole word. Empty when the query has no word.
pub fn query_tokens(query: &str) -> Vec<String> {
    let mut out: Vec<String> = words(query)
        .into_iter()
        .take(MAX_WORDS)
        .map(|w| {
            let chars: Vec<char> = w.chars().collect();
            if chars.len() >= MIN_PREFIX {
                format!(
                    "p:{}",
                    chars[..chars.len().min(MAX_PREFIX)]
                        .iter()
                        .collect::<String>()
                )
            } else {
                format!("w:{w}")
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_and_diacritics_folded() {
        assert_eq!(
            words("  María-José  O'Brien "),
            ["maria", "jose", "o", "brien"]
        );
        assert_eq!(
            words("ZOË Łukasz Straße Ærø"),
            ["zoe", "lukasz", "strasse", "aero"]
        );
        assert_eq!(words("李 小龍"), ["李", "小龍"]);
        assert!(words("  -- ").is_empty());
    }

    #[test]
    fn a_name_is_found_by_its_words_and_their_prefixes() {
        let t = index_tokens("María Fernández");
        for q in ["maria", "MAR", "fern", "Fernández", "maría fer", "fer mar"] {
            for token in query_tokens(q) {
                assert!(t.contains(&token), "{q}: {token} in {t:?}");
            }
        }
        // Two letters: a whole word only.
        assert_eq!(query_tokens("ma"), ["w:ma"]);
        assert!(!t.contains(&"w:ma".to_string()));
        assert!(index_tokens("Al Smith").contains(&"w:al".to_string()));
        // Not a substring in the middle.
        assert!(!t.contains(&"p:ria".to_string()));
    }

    #[test]
    fn long_names_are_bounded() {
        let long = "a".repeat(200);
        let t = index_tokens(&long);
        assert_eq!(t.len(), 1 + MAX_PREFIX - MIN_PREFIX + 1);
        assert!(query_tokens(&long)[0].len() <= 2 + MAX_PREFIX);
        let many = (0..50)
            .map(|i| format!("w{i:03}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(index_tokens(&many).len() <= MAX_WORDS * (MAX_PREFIX + 1));
    }
}
