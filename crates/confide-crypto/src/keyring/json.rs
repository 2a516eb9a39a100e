//! The keyring's JSON form (file format 1, also the content of `CONFIDE_KEYRING`): encoding,
//! and parsing with errors that never quote key material.

use super::error::KeyringError;
use super::{Kek, Keyring, is_valid_kek_id};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The keyring file format this version reads and writes.
const FORMAT: u32 = 1;

impl Keyring {
    /// Parses a keyring from its JSON form (the content of `CONFIDE_KEYRING`).
    pub fn from_json(json: &str) -> Result<Self, KeyringError> {
        Self::parse(json).map_err(|reason| KeyringError::Malformed {
            origin: "inline JSON".to_owned(),
            reason,
        })
    }

    /// The keyring as JSON, in the file format.
    pub fn to_json(&self) -> Result<Zeroizing<String>, KeyringError> {
        let file = KeyringFile {
            format: FORMAT,
            primary: self.primary.clone(),
            keks: self
                .keks
                .iter()
                .map(|(id, kek)| KekEntry {
                    id: id.clone(),
                    created_at: kek.created_at,
                    key: BASE64.encode(kek.key.as_slice()),
                })
                .collect(),
            index_key: BASE64.encode(self.index_key.as_slice()),
        };
        serde_json::to_string_pretty(&file)
            .map(Zeroizing::new)
            .map_err(|e| KeyringError::Encode {
                reason: e.to_string(),
            })
    }

    pub(super) fn parse(json: &str) -> Result<Self, String> {
        // serde_json's own messages can quote the offending value, which may be key material.
        let file: KeyringFile = serde_json::from_str(json).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => "does not match the keyring format",
                serde_json::error::Category::Eof => "ends early",
                serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                    "is not valid JSON"
                }
            };
            format!(
                "the content {what} (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        if file.format != FORMAT {
            return Err(format!(
                "unsupported format {} (this version reads format {FORMAT})",
                file.format
            ));
        }
        let mut keks = BTreeMap::new();
        for entry in &file.keks {
            if !is_valid_kek_id(&entry.id) {
                return Err(
                    "a key-encryption key id is empty, longer than 64 characters, or has \
                     characters other than a-z, 0-9 and '-'"
                        .to_owned(),
                );
            }
            let key = decode_key(&entry.key)
                .ok_or_else(|| format!("the key of {} is not 32 bytes of base64", entry.id))?;
            let kek = Kek {
                key,
                created_at: entry.created_at,
            };
            if keks.insert(entry.id.clone(), kek).is_some() {
                return Err(format!("key-encryption key {} appears twice", entry.id));
            }
        }
        if keks.is_empty() {
            return Err("there are no key-encryption keys".to_owned());
        }
        if !keks.contains_key(&file.primary) {
            return Err(if is_valid_kek_id(&file.primary) {
                format!("the primary {} is not among the keys", file.primary)
            } else {
                "the primary is not a key-encryption key id".to_owned()
            });
        }
        let index_key = decode_key(&file.index_key)
            .ok_or_else(|| "the index key is not 32 bytes of base64".to_owned())?;
        Ok(Self {
            keks,
            primary: file.primary.clone(),
            index_key,
        })
    }
}

/// The keyring file, as serialized.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    format: u32,
    primary: String,
    keks: Vec<KekEntry>,
    index_key: String,
}

/// One KEK in the keyring file.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct KekEntry {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[zeroize(skip)]
    created_at: OffsetDateTime,
    key: String,
}

fn decode_key(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(BASE64.decode(text).ok()?);
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != key.len() {
        return None;
    }
    key.copy_from_slice(&bytes);
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::tests::{assert_no_secrets, keyring};
    use confide_core::clock::ManualClock;
    use confide_core::entropy::SeededEntropy;

    #[test]
    fn json_round_trip_keeps_every_key() {
        let clock = ManualClock::at_epoch_2026();
        let e = SeededEntropy::new(2);
        let mut k = Keyring::generate(&clock, &e);
        clock.advance(time::Duration::days(40));
        k.rotate(&clock, &e);
        let json = k.to_json().unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["format"], 1);
        assert_eq!(value["primary"], k.primary_kek_id());
        assert_eq!(value["keks"][1]["created_at"], "2026-02-10T00:00:00Z");

        let back = Keyring::from_json(&json).unwrap();
        assert_eq!(back.status(), k.status());
        assert_eq!(back.primary_kek_id(), k.primary_kek_id());
        for (id, kek) in &k.keks {
            assert_eq!(*back.keks[id].key, *kek.key);
        }
        assert_eq!(*back.index_key, *k.index_key);
    }

    #[test]
    fn malformed_keyrings_get_clear_errors_without_key_material() {
        let k = keyring(19);
        let good: serde_json::Value = serde_json::from_str(&k.to_json().unwrap()).unwrap();
        let key = good["keks"][0]["key"].as_str().unwrap().to_owned();
        let with = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            edit(&mut v);
            v.to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            ("not json".to_owned(), "not valid JSON"),
            (good.to_string()[..40].to_owned(), "ends early"),
            (with(&|v| v["format"] = 2.into()), "unsupported format 2"),
            (
                with(&|v| v["format"] = key.clone().into()),
                "does not match",
            ),
            (with(&|v| v["extra"] = key.clone().into()), "does not match"),
            (
                with(&|v| v["keks"] = serde_json::json!([])),
                "no key-encryption keys",
            ),
            (
                with(&|v| v["primary"] = "kek-19990101-0000".into()),
                "not among the keys",
            ),
            (
                with(&|v| v["primary"] = key.clone().into()),
                "primary is not",
            ),
            (
                with(&|v| v["keks"][0]["id"] = key.clone().into()),
                "id is empty",
            ),
            (
                with(&|v| v["keks"][0]["key"] = "AAAA".into()),
                "not 32 bytes",
            ),
            (
                with(&|v| v["keks"][0]["key"] = format!("{key}!").into()),
                "not 32 bytes",
            ),
            (with(&|v| v["index_key"] = "".into()), "index key"),
            (
                with(&|v| {
                    let kek = v["keks"][0].clone();
                    v["keks"].as_array_mut().unwrap().push(kek);
                }),
                "appears twice",
            ),
        ];
        for (json, expected) in cases {
            let err = Keyring::from_json(&json).unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, KeyringError::Malformed { .. }), "{message}");
            assert!(
                message.contains(expected),
                "{message} should say {expected}"
            );
            assert_no_secrets(&message, &k);
        }
    }
}
