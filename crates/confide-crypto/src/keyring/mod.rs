//! Key-encryption keys (KEKs), held outside the database in a keyring file or the
//! `CONFIDE_KEYRING` environment variable.
//!
//! The keyring wraps each tenant's data keys ([`Keyring::wrap_key`]) with its primary KEK; older
//! KEKs stay to unwrap until every data key has been rewrapped, then retire
//! ([`Keyring::remove`]). It also holds the platform index key behind
//! [`Keyring::platform_blind_index`] (global lookups such as a login email).
//!
//! File format (JSON, versioned):
//!
//! ```json
//! {"format":1,"primary":"kek-20261123-3f9a",
//!  "keks":[{"id":"kek-20261123-3f9a","created_at":"2026-11-23T10:00:00Z","key":"<base64>"}],
//!  "index_key":"<base64>"}
//! ```
//!
//! The keyring's JSON form is in `json`, reading and writing the file on disk in `file`, and
//! [`KeyringError`] in `error`.

mod error;
mod file;
mod json;

pub use error::KeyringError;

use crate::envelope::DataKey;
use crate::error::CryptoError;
use crate::primitives;
use confide_core::clock::Clock;
use confide_core::entropy::{Entropy, random_array};
use secrecy::SecretSlice;
use std::collections::BTreeMap;
use std::fmt;
use time::{OffsetDateTime, UtcOffset};
use zeroize::Zeroizing;

/// The format byte of a wrapped key.
const WRAP_FORMAT: u8 = 0x01;
/// Domain label of a wrapped key's associated data.
const WRAP_LABEL: &[u8] = b"confide-wrap-v1";
/// Domain label of the platform blind index key derivation.
const PLATFORM_INDEX_LABEL: &[u8] = b"confide platform blind index v1";
/// Domain label of the media link key derivation.
const LINK_LABEL: &[u8] = b"confide media link key v1";
/// Domain label of the password pepper derivation.
const PEPPER_LABEL: &[u8] = b"confide password pepper v1";

/// One key-encryption key.
#[derive(Clone)]
struct Kek {
    key: Zeroizing<[u8; 32]>,
    created_at: OffsetDateTime,
}

/// The key-encryption keys, the primary among them, and the platform index key.
/// Key material is zeroized on drop; `Debug` shows only ids.
#[derive(Clone)]
pub struct Keyring {
    keks: BTreeMap<String, Kek>,
    primary: String,
    index_key: Zeroizing<[u8; 32]>,
}

/// What `confide keys status` shows about one KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekInfo {
    /// The KEK's id, e.g. `kek-20261123-3f9a`.
    pub id: String,
    /// When it was generated.
    pub created_at: OffsetDateTime,
    /// Whether it wraps new keys.
    pub primary: bool,
}

/// A data key wrapped by a KEK, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The id of the KEK that wrapped it.
    pub kek_id: String,
    /// `[format 0x01][12-byte nonce][encrypted key || tag]`.
    pub bytes: Vec<u8>,
}

impl Keyring {
    /// A new keyring with one KEK (the primary) and a platform index key.
    pub fn generate(clock: &dyn Clock, entropy: &dyn Entropy) -> Self {
        let mut keyring = Self {
            keks: BTreeMap::new(),
            primary: String::new(),
            index_key: primitives::random_key(entropy),
        };
        keyring.rotate(clock, entropy);
        keyring
    }

    /// The id of the KEK that wraps new keys.
    pub fn primary_kek_id(&self) -> &str {
        &self.primary
    }

    /// Adds a new KEK, makes it primary and returns its id. Data keys wrapped by older KEKs still
    /// unwrap; rewrap them (unwrap, then [`wrap_key`](Self::wrap_key)) before removing those.
    pub fn rotate(&mut self, clock: &dyn Clock, entropy: &dyn Entropy) -> String {
        let created_at = clock.now().to_offset(UtcOffset::UTC);
        let id = self.new_kek_id(created_at, entropy);
        let key = primitives::random_key(entropy);
        self.keks.insert(id.clone(), Kek { key, created_at });
        self.primary.clone_from(&id);
        id
    }

    /// Removes a retired KEK. Refuses the primary one.
    pub fn remove(&mut self, id: &str) -> Result<(), KeyringError> {
        if id == self.primary {
            return Err(KeyringError::RemovePrimary(id.to_owned()));
        }
        self.keks
            .remove(id)
            .map(drop)
            .ok_or_else(|| KeyringError::UnknownKek(id.to_owned()))
    }

    /// The KEKs, oldest first.
    pub fn status(&self) -> Vec<KekInfo> {
        let mut infos: Vec<KekInfo> = self
            .keks
            .iter()
            .map(|(id, kek)| KekInfo {
                id: id.clone(),
                created_at: kek.created_at,
                primary: *id == self.primary,
            })
            .collect();
        infos.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        infos
    }

    /// Wraps a tenant's data key with the primary KEK (AES-256-GCM, random nonce). The associated
    /// data binds the KEK id, the tenant and the key's slot (e.g. `"data:1"`, `"index"`), so a
    /// wrapped key moved to another tenant or slot does not unwrap.
    pub fn wrap_key(
        &self,
        tenant: &str,
        slot: &str,
        key: &DataKey,
        entropy: &dyn Entropy,
    ) -> Result<WrappedKey, CryptoError> {
        let kek = self.kek(&self.primary)?;
        let mut bytes = vec![WRAP_FORMAT];
        let aad = wrap_aad(&self.primary, tenant, slot);
        primitives::seal(&kek.key, &aad, key.expose(), entropy, &mut bytes)?;
        Ok(WrappedKey {
            kek_id: self.primary.clone(),
            bytes,
        })
    }

    /// Unwraps a data key with the KEK it names ([`CryptoError::UnknownKek`] if that KEK is gone).
    pub fn unwrap_key(
        &self,
        tenant: &str,
        slot: &str,
        wrapped: &WrappedKey,
    ) -> Result<DataKey, CryptoError> {
        let kek = self.kek(&wrapped.kek_id)?;
        let (&format, sealed) = wrapped.bytes.split_first().ok_or(CryptoError::Malformed)?;
        if format != WRAP_FORMAT {
            return Err(CryptoError::UnknownFormat(format));
        }
        let aad = wrap_aad(&wrapped.kek_id, tenant, slot);
        let plain = primitives::open(&kek.key, &aad, sealed)?;
        let bytes: &[u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Malformed)?;
        Ok(DataKey::from_bytes(*bytes))
    }

    /// A platform-wide blind index for global lookups (e.g. a login email): HMAC-SHA256 keyed by
    /// HKDF(index key, `"confide platform blind index v1"` || `purpose`).
    pub fn platform_blind_index(&self, purpose: &str, value: &[u8]) -> [u8; 32] {
        primitives::blind_index(&self.index_key, PLATFORM_INDEX_LABEL, purpose, value)
    }

    /// A password pepper derived from the index key, for [`crate::PasswordHasher::new`].
    pub fn password_pepper(&self) -> SecretSlice<u8> {
        let pepper = primitives::derive_secret(&self.index_key, PEPPER_LABEL);
        SecretSlice::from(pepper.to_vec())
    }

    /// The media link signing key that goes with KEK `id` (see [`crate::media_link`]), or `None`
    /// if the keyring no longer holds that KEK.
    pub fn link_key(&self, id: &str) -> Option<Zeroizing<[u8; 32]>> {
        self.keks
            .get(id)
            .map(|kek| primitives::derive_secret(&kek.key, LINK_LABEL))
    }

    fn kek(&self, id: &str) -> Result<&Kek, CryptoError> {
        self.keks
            .get(id)
            .ok_or_else(|| CryptoError::UnknownKek(id.to_owned()))
    }

    /// `kek-YYYYMMDD-xxxx` with four random hex digits, stepped past ids already taken
    /// (terminates unless 65,536 KEKs share a date).
    fn new_kek_id(&self, created_at: OffsetDateTime, entropy: &dyn Entropy) -> String {
        let date = created_at.date();
        let mut suffix = u16::from_be_bytes(random_array(entropy));
        loop {
            let id = format!(
                "kek-{:04}{:02}{:02}-{suffix:04x}",
                date.year(),
                u8::from(date.month()),
                date.day()
            );
            if !self.keks.contains_key(&id) {
                return id;
            }
            suffix = suffix.wrapping_add(1);
        }
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary)
            .field("keks", &self.keks.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn wrap_aad(kek_id: &str, tenant: &str, slot: &str) -> Vec<u8> {
    primitives::encode_aad(&[
        WRAP_LABEL,
        kek_id.as_bytes(),
        tenant.as_bytes(),
        slot.as_bytes(),
    ])
}

fn is_valid_kek_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use confide_core::clock::ManualClock;
    use confide_core::entropy::SeededEntropy;
    use time::macros::datetime;

    pub(super) fn keyring(seed: u64) -> Keyring {
        Keyring::generate(&ManualClock::at_epoch_2026(), &SeededEntropy::new(seed))
    }

    /// Every secret a keyring holds, in the encodings that could leak.
    pub(super) fn secrets(k: &Keyring) -> Vec<String> {
        let mut keys: Vec<&[u8; 32]> = k.keks.values().map(|kek| &*kek.key).collect();
        keys.push(&k.index_key);
        keys.iter()
            .flat_map(|key| [BASE64.encode(key), hex::encode(key), format!("{key:?}")])
            .collect()
    }

    pub(super) fn assert_no_secrets(text: &str, k: &Keyring) {
        for secret in secrets(k) {
            assert!(!text.contains(&secret), "{text} leaks key material");
        }
    }

    #[test]
    fn generate_makes_one_primary_kek_with_a_dated_id() {
        let k = keyring(1);
        let status = k.status();
        assert_eq!(status.len(), 1);
        let kek = &status[0];
        assert!(kek.primary);
        assert_eq!(kek.created_at, datetime!(2026-01-01 0:00 UTC));
        assert_eq!(kek.id, k.primary_kek_id());
        let (prefix, suffix) = kek.id.split_at("kek-20260101-".len());
        assert_eq!(prefix, "kek-20260101-");
        assert_eq!(suffix.len(), 4);
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(is_valid_kek_id(&kek.id));
    }

    #[test]
    fn wrap_and_unwrap_bind_tenant_and_slot() {
        let k = keyring(3);
        let e = SeededEntropy::new(30);
        let dk = DataKey::generate(&e);
        let wrapped = k.wrap_key("tenant-a", "data:1", &dk, &e).unwrap();
        assert_eq!(wrapped.kek_id, k.primary_kek_id());
        assert_eq!(wrapped.bytes[0], WRAP_FORMAT);
        assert_eq!(wrapped.bytes.len(), 1 + 12 + 32 + 16);
        let back = k.unwrap_key("tenant-a", "data:1", &wrapped).unwrap();
        assert_eq!(back.expose(), dk.expose());
        assert_eq!(
            k.unwrap_key("tenant-b", "data:1", &wrapped).unwrap_err(),
            CryptoError::Authentication
        );
        assert_eq!(
            k.unwrap_key("tenant-a", "index", &wrapped).unwrap_err(),
            CryptoError::Authentication
        );
        assert_eq!(
            keyring(4)
                .unwrap_key("tenant-a", "data:1", &wrapped)
                .unwrap_err(),
            CryptoError::UnknownKek(wrapped.kek_id.clone())
        );
    }

    #[test]
    fn tampered_or_truncated_wrapped_keys_fail_without_panicking() {
        let k = keyring(5);
        let e = SeededEntropy::new(50);
        let wrapped = k
            .wrap_key("t", "index", &DataKey::generate(&e), &e)
            .unwrap();
        for i in 0..wrapped.bytes.len() {
            let mut bad = wrapped.clone();
            bad.bytes[i] ^= 0x01;
            assert!(k.unwrap_key("t", "index", &bad).is_err(), "byte {i}");
            let short = WrappedKey {
                bytes: wrapped.bytes[..i].to_vec(),
                ..wrapped.clone()
            };
            assert!(k.unwrap_key("t", "index", &short).is_err(), "prefix {i}");
        }
        let mut other_format = wrapped.clone();
        other_format.bytes[0] = 0x07;
        assert_eq!(
            k.unwrap_key("t", "index", &other_format).unwrap_err(),
            CryptoError::UnknownFormat(7)
        );
    }

    #[test]
    fn rotate_rewrap_and_retire_the_old_kek() {
        let clock = ManualClock::at_epoch_2026();
        let e = SeededEntropy::new(6);
        let mut k = Keyring::generate(&clock, &e);
        let old_id = k.primary_kek_id().to_owned();
        let dk = DataKey::generate(&e);
        let old = k.wrap_key("t", "data:1", &dk, &e).unwrap();

        clock.advance(time::Duration::days(90));
        let new_id = k.rotate(&clock, &e);
        assert_ne!(new_id, old_id);
        assert!(new_id.starts_with("kek-20260401-"));
        assert_eq!(k.primary_kek_id(), new_id);
        let status = k.status();
        assert_eq!(
            status
                .iter()
                .map(|s| (s.id.as_str(), s.primary))
                .collect::<Vec<_>>(),
            [(old_id.as_str(), false), (new_id.as_str(), true)]
        );

        // Old wrappings still unwrap; rewrapping moves them to the new primary.
        let unwrapped = k.unwrap_key("t", "data:1", &old).unwrap();
        let rewrapped = k.wrap_key("t", "data:1", &unwrapped, &e).unwrap();
        assert_eq!(rewrapped.kek_id, new_id);

        assert!(matches!(
            k.remove(&new_id),
            Err(KeyringError::RemovePrimary(id)) if id == new_id
        ));
        k.remove(&old_id).unwrap();
        assert!(matches!(
            k.remove(&old_id),
            Err(KeyringError::UnknownKek(_))
        ));
        assert_eq!(
            k.unwrap_key("t", "data:1", &old).unwrap_err(),
            CryptoError::UnknownKek(old_id)
        );
        assert_eq!(
            k.unwrap_key("t", "data:1", &rewrapped).unwrap().expose(),
            dk.expose()
        );
    }

    #[test]
    fn kek_ids_never_collide_even_with_repeating_entropy() {
        let clock = ManualClock::at_epoch_2026();
        let mut k = Keyring::generate(&clock, &SeededEntropy::new(7));
        for _ in 0..3 {
            // A fresh generator with the same seed repeats the same suffix every time.
            k.rotate(&clock, &SeededEntropy::new(7));
        }
        assert_eq!(k.status().len(), 4);
    }

    #[test]
    fn platform_blind_index_is_keyed_and_purpose_separated() {
        let a = keyring(8);
        let b = keyring(9);
        let v = b"owner@example.com";
        assert_eq!(
            a.platform_blind_index("login", v),
            a.platform_blind_index("login", v)
        );
        assert_ne!(
            a.platform_blind_index("login", v),
            b.platform_blind_index("login", v)
        );
        assert_ne!(
            a.platform_blind_index("login", v),
            a.platform_blind_index("invite", v)
        );
    }

    #[test]
    fn password_pepper_is_stable_and_keyring_specific() {
        use secrecy::ExposeSecret as _;
        let a = keyring(10);
        let pepper = a.password_pepper();
        assert_eq!(pepper.expose_secret().len(), 32);
        assert_eq!(pepper.expose_secret(), a.password_pepper().expose_secret());
        assert_ne!(
            pepper.expose_secret(),
            keyring(11).password_pepper().expose_secret()
        );
        assert_ne!(pepper.expose_secret(), a.index_key.as_slice());
    }

    #[test]
    fn debug_shows_ids_only() {
        let k = keyring(12);
        let shown = format!("{k:?}");
        assert!(shown.contains(k.primary_kek_id()));
        assert_no_secrets(&shown, &k);
    }
}
