//! Opt-out keywords: a customer who writes only "STOP" (or its equivalent in their language)
//! opts out of marketing messages. Only a message that is the keyword alone counts (as carriers
//! do with SMS): "please stop the noise" is a conversation, not an opt-out.

/// The words recognised without any configuration (English, Spanish, Portuguese, French,
/// German, Italian), compared after [`normalise`].
pub const DEFAULT_OPT_OUT_WORDS: [&str; 17] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "OPT OUT",
    "BAJA",
    "ALTO",
    "PARAR",
    "SAIR",
    "CANCELAR",
    "ARRET",
    "STOPP",
    "ABMELDEN",
    "DISISCRIVITI",
];

/// Upper case, accents of the common Latin letters removed, surrounding whitespace and
/// punctuation dropped, inner whitespace collapsed to one space.
pub fn normalise(text: &str) -> String {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter_map(|c| {
                    let c = match c {
                        'à' | 'á' | 'â' | 'ã' | 'ä' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' => 'A',
                        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'E',
                        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
                        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'O',
                        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
                        'ç' | 'Ç' => 'C',
                        c => c,
                    };
                    c.is_alphanumeric().then(|| c.to_ascii_uppercase())
                })
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.join(" ")
}

/// The opt-out word `text` consists of, if any: one of the defaults or of `extra` (a tenant's
/// own words, compared the same way).
pub fn opt_out_keyword(text: &str, extra: &[String]) -> Option<String> {
    if text.len() > 64 {
        return None;
    }
    let n = normalise(text);
    if n.is_empty() {
        return None;
    }
    let hit =
        DEFAULT_OPT_OUT_WORDS.iter().any(|w| *w == n) || extra.iter().any(|w| normalise(w) == n);
    hit.then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyword_alone_opts_out_in_any_case_and_with_punctuation() {
        for t in [
            "STOP",
            "stop",
            " Stop! ",
            "unsubscribe.",
            "Opt-out",
            "opt out",
            "Arrêt",
            "PARAR",
            "sair",
        ] {
            assert!(opt_out_keyword(t, &[]).is_some(), "{t}");
        }
    }

    #[test]
    fn a_sentence_that_contains_a_keyword_is_not_an_opt_out() {
        for t in [
            "please stop the noise",
            "stop by tomorrow?",
            "when does it end",
            "",
            "!!!",
        ] {
            assert_eq!(opt_out_keyword(t, &[]), None, "{t}");
        }
    }

    #[test]
    fn a_tenants_own_words_count_too() {
        let extra = vec!["Basta ya".to_string()];
        assert_eq!(
            opt_out_keyword("basta ya!", &extra).as_deref(),
            Some("BASTA YA")
        );
        assert_eq!(opt_out_keyword("basta ya!", &[]), None);
    }
}
