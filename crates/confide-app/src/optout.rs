//! A tenant's opt-out keywords (`GET/PUT /api/v1/settings/opt-out`): words per language that,
//! written alone, opt a customer out of marketing (besides the built-in ones of
//! `confide_core::send_gate::keywords`), and the one confirmation sent back per opt-out, per
//! language. Read by the webhook writer on every short text, so kept in a small cache
//! ([`cached`]): a change is seen at once by this process and within [`CACHE_FOR`] by others.

use crate::error::{AppError, Code};
use crate::principal::Principal;
use crate::runtime::App;
use confide_core::audit::AuditEvent;
use confide_core::ids::TenantId;
use confide_core::permissions::Permission;
use confide_core::send_gate::keywords::{DEFAULT_OPT_OUT_WORDS, normalise};
use confide_store::{Scope, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long another instance may use settings it read before reading them again.
pub const CACHE_FOR: Duration = Duration::from_secs(10);
/// The confirmation sent when no text is set for the language (nor a `default` one).
pub const BUILT_IN_CONFIRMATION: &str = "You are unsubscribed: we will not send you marketing messages any more. \
     You can still write to us here at any time.";

/// The tenant's opt-out settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutSettings {
    /// Extra opt-out words by language code (`{"es": ["basta"], "nl": ["afmelden"]}`), compared
    /// like the built-in ones: case, accents and surrounding punctuation do not matter, and only
    /// a message that is the word alone counts.
    #[serde(default)]
    pub keywords: BTreeMap<String, Vec<String>>,
    /// The confirmation text by language code; `default` for any other language. Without one,
    /// a built-in English text is sent.
    #[serde(default)]
    pub confirmations: BTreeMap<String, String>,
    /// Whether a confirmation is sent at all (default true). At most one per opt-out.
    #[serde(default = "yes")]
    pub confirm: bool,
}

fn yes() -> bool {
    true
}

impl Default for OptOutSettings {
    fn default() -> Self {
        OptOutSettings {
            keywords: BTreeMap::new(),
            confirmations: BTreeMap::new(),
            confirm: true,
        }
    }
}

/// The language of each built-in word, for its confirmation.
fn built_in_language(word: &str) -> &'static str {
    match word {
        "BAJA" | "ALTO" | "CANCELAR" => "es",
        "PARAR" | "SAIR" => "pt",
        "ARRET" => "fr",
        "STOPP" | "ABMELDEN" => "de",
        "DISISCRIVITI" => "it",
        _ => "en",
    }
}

impl OptOutSettings {
    /// Checks the words and texts: bounded sizes, language codes of letters, `-` and `_`.
    pub fn check(&self) -> Result<(), AppError> {
        let bad = |m: &'static str| AppError::new(Code::InvalidSettings, m);
        let language_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 16
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if self.keywords.len() > 50 || self.confirmations.len() > 51 {
            return Err(bad("At most 50 languages."));
        }
        for (language, words) in &self.keywords {
            if !language_ok(language) {
                return Err(bad("A language is a code such as en, es or pt_BR."));
            }
            if words.len() > 20 {
                return Err(bad("At most 20 words per language."));
            }
            for w in words {
                let n = normalise(w);
                if n.is_empty() || w.chars().count() > 64 {
                    return Err(bad(
                        "An opt-out word has letters or digits, at most 64 characters.",
                    ));
                }
            }
        }
        for (language, text) in &self.confirmations {
            if !language_ok(language) {
                return Err(bad(
                    "A language is a code such as en, es or pt_BR, or default.",
                ));
            }
            if text.trim().is_empty() || text.chars().count() > 1024 {
                return Err(bad("A confirmation is 1 to 1,024 characters."));
            }
        }
        Ok(())
    }

    /// The opt-out word `text` consists of and its language, if it is one (built-in or the
    /// tenant's).
    pub fn matches(&self, text: &str) -> Option<(String, String)> {
        if text.len() > 64 {
            return None;
        }
        let n = normalise(text);
        if n.is_empty() {
            return None;
        }
        for (language, words) in &self.keywords {
            if words.iter().any(|w| normalise(w) == n) {
                return Some((n, language.clone()));
            }
        }
        DEFAULT_OPT_OUT_WORDS
            .iter()
            .find(|w| **w == n)
            .map(|w| (n.clone(), built_in_language(w).to_string()))
    }

    /// The confirmation for an opt-out in `language`.
    pub fn confirmation(&self, language: &str) -> String {
        self.confirmations
            .get(language)
            .or_else(|| self.confirmations.get("default"))
            .cloned()
            .unwrap_or_else(|| BUILT_IN_CONFIRMATION.to_string())
    }
}

type Cache = Mutex<HashMap<TenantId, (Instant, Arc<OptOutSettings>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The settings as stored (the defaults when none or unreadable: the built-in words still count).
async fn load(s: &mut Scope<'_>) -> Result<OptOutSettings, StoreError> {
    Ok(match s.opt_out_settings().await? {
        Some(json) => serde_json::from_str(&json).unwrap_or_else(|e| {
            tracing::error!(error = %e, "unreadable opt-out settings; using the defaults");
            OptOutSettings::default()
        }),
        None => OptOutSettings::default(),
    })
}

/// The scope's tenant's settings, from the cache when read less than [`CACHE_FOR`] ago.
pub(crate) async fn cached(s: &mut Scope<'_>) -> Result<Arc<OptOutSettings>, StoreError> {
    let tenant = s.tenant();
    if let Some((at, settings)) = cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&tenant)
        && at.elapsed() < CACHE_FOR
    {
        return Ok(settings.clone());
    }
    let settings = Arc::new(load(s).await?);
    let mut c = cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if c.len() > 10_000 {
        c.clear();
    }
    c.insert(tenant, (Instant::now(), settings.clone()));
    Ok(settings)
}

impl App {
    /// The tenant's opt-out keyword settings.
    pub async fn opt_out_settings(&self, p: &Principal) -> Result<OptOutSettings, AppError> {
        p.require(Permission::ContactsRead)?;
        let mut s = self.store.read_scope(p.tenant).await?;
        let settings = load(&mut s).await?;
        s.commit().await?;
        Ok(settings)
    }

    /// Replaces the tenant's opt-out keyword settings; audited (the languages, not the words).
    pub async fn set_opt_out_settings(
        &self,
        p: &Principal,
        settings: OptOutSettings,
    ) -> Result<OptOutSettings, AppError> {
        p.require(Permission::ConsentWrite)?;
        settings.check()?;
        let json = serde_json::to_string(&settings).map_err(|_| AppError::internal())?;
        let mut s = self.store.scope(p.tenant).await?;
        s.set_opt_out_settings(&json).await?;
        s.audit(
            &AuditEvent::new(
                p.actor(),
                "settings.opt_out_changed",
                format!("tenant:{}", p.tenant),
            )
            .with_details(serde_json::json!({
                "keyword_languages": settings.keywords.keys().collect::<Vec<_>>(),
                "confirmation_languages": settings.confirmations.keys().collect::<Vec<_>>(),
                "confirm": settings.confirm,
            })),
        )
        .await?;
        s.commit().await?;
        cache()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&p.tenant);
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_tenant_words_match_with_their_language() {
        let mut s = OptOutSettings::default();
        s.keywords.insert("es".into(), vec!["Basta ya".into()]);
        s.confirmations
            .insert("es".into(), "Listo, no más mensajes.".into());
        assert_eq!(
            s.matches("basta ya!"),
            Some(("BASTA YA".into(), "es".into()))
        );
        assert_eq!(s.matches(" Stop "), Some(("STOP".into(), "en".into())));
        assert_eq!(s.matches("sair"), Some(("SAIR".into(), "pt".into())));
        assert_eq!(s.matches("please stop"), None);
        assert_eq!(s.confirmation("es"), "Listo, no más mensajes.");
        assert_eq!(s.confirmation("en"), BUILT_IN_CONFIRMATION);
        s.confirmations.insert("default".into(), "Done.".into());
        assert_eq!(s.confirmation("pt"), "Done.");
    }

    #[test]
    fn settings_are_checked() {
        let mut s = OptOutSettings::default();
        assert!(s.check().is_ok());
        s.keywords.insert("e s".into(), vec!["x".into()]);
        assert_eq!(s.check().unwrap_err().code, Code::InvalidSettings);
        let mut s = OptOutSettings::default();
        s.keywords.insert("es".into(), vec!["!!!".into()]);
        assert!(s.check().is_err());
        let mut s = OptOutSettings::default();
        s.confirmations.insert("default".into(), " ".into());
        assert!(s.check().is_err());
    }
}
