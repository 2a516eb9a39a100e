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

use crate::envelope::DataKey;
use crate::{CryptoError, primitives};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use confide_core::clock::Clock;
use confide_core::entropy::{Entropy, random_array};
use secrecy::SecretSlice;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use time::{OffsetDateTime, UtcOffset};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The keyring file format this version reads and writes.
const FORMAT: u32 = 1;
/// The format byte of a wrapped key.
const WRAP_FORMAT: u8 = 0x01;
/// Domain label of a wrapped key's associated data.
const WRAP_LABEL: &[u8] = b"confide-wrap-v1";
/// Domain label of the platform blind index key derivation.
const PLATFORM_INDEX_LABEL: &[u8] = b"confide platform blind index v1";
/// Domain label of the password pepper derivation.
const PEPPER_LABEL: &[u8] = b"confide password pepper v1";
/// A keyring file is a few hundred bytes per key; anything this large is not one.
const MAX_FILE_LEN: u64 = 1 << 20;

/// Why the keyring could not be loaded, saved or changed. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No file at the path.
    #[error("keyring file {path} does not exist; create one with `confide keys init`")]
    NotFound {
        /// The keyring file's path.
        path: PathBuf,
    },
    /// The file's mode lets group or others access it.
    #[error(
        "keyring file {path} has mode {mode:03o}, which lets group or others access it; \
         run `chmod 600 {path}`"
    )]
    InsecurePermissions {
        /// The keyring file's path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file exists but could not be read.
    #[error("cannot read keyring file {path}: {source}")]
    Read {
        /// The keyring file's path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file (or its directory) could not be written.
    #[error("cannot write keyring file {path}: {source}")]
    Write {
        /// The keyring file's path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// [`Keyring::create_new`] found a file already there.
    #[error("keyring file {path} already exists; refusing to overwrite it")]
    AlreadyExists {
        /// The keyring file's path.
        path: PathBuf,
    },
    /// The keyring's content is not a valid keyring.
    #[error("malformed keyring ({origin}): {reason}")]
    Malformed {
        /// The file path, or `inline JSON` for [`Keyring::from_json`].
        origin: String,
        /// What is wrong (never key bytes).
        reason: String,
    },
    /// The keyring could not be encoded (a creation time outside RFC 3339's years 0–9999).
    #[error("cannot encode the keyring: {reason}")]
    Encode {
        /// What failed.
        reason: String,
    },
    /// [`Keyring::remove`] was asked to remove the primary KEK.
    #[error("{0} is the primary key-encryption key; rotate to a new one before removing it")]
    RemovePrimary(String),
    /// No KEK with this id.
    #[error("no key-encryption key {0} in the keyring")]
    UnknownKek(String),
}

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

    /// Reads a keyring file. On unix, refuses a file whose mode grants group or others any access.
    pub fn load(path: &Path) -> Result<Self, KeyringError> {
        let read_error = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => KeyringError::NotFound {
                path: path.to_owned(),
            },
            _ => KeyringError::Read {
                path: path.to_owned(),
                source,
            },
        };
        let malformed = |reason: String| KeyringError::Malformed {
            origin: path.display().to_string(),
            reason,
        };
        let mut file = File::open(path).map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyringError::InsecurePermissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        if meta.len() > MAX_FILE_LEN {
            return Err(malformed(format!(
                "the file is larger than {MAX_FILE_LEN} bytes"
            )));
        }
        // Sized up front so reading does not reallocate and leave unzeroized copies behind.
        let capacity = usize::try_from(meta.len()).unwrap_or(0) + 1;
        let mut text = Zeroizing::new(String::with_capacity(capacity));
        file.read_to_string(&mut text).map_err(read_error)?;
        Self::parse(&text).map_err(malformed)
    }

    /// Writes the keyring to `path` atomically: a `0600` temporary file in the same directory,
    /// then a rename over the old file. Creates a missing directory with mode `0700`.
    pub fn save(&self, path: &Path) -> Result<(), KeyringError> {
        let tmp = self.write_temp(path)?;
        if let Err(source) = fs::rename(&tmp, path) {
            remove_quietly(&tmp);
            return Err(write_error(path, source));
        }
        sync_parent(path)
    }

    /// Like [`save`](Self::save), but fails with [`KeyringError::AlreadyExists`] instead of
    /// replacing an existing file (for `confide keys init`).
    pub fn create_new(&self, path: &Path) -> Result<(), KeyringError> {
        let exists = || KeyringError::AlreadyExists {
            path: path.to_owned(),
        };
        if path.symlink_metadata().is_ok() {
            return Err(exists());
        }
        let tmp = self.write_temp(path)?;
        // A hard link, unlike a rename, never replaces an existing file.
        let linked = fs::hard_link(&tmp, path);
        remove_quietly(&tmp);
        match linked {
            Ok(()) => sync_parent(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists()),
            Err(source) => Err(write_error(path, source)),
        }
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

    fn parse(json: &str) -> Result<Self, String> {
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

    /// Writes the keyring to a fresh `0600` temporary file next to `path` and returns its path.
    fn write_temp(&self, path: &Path) -> Result<PathBuf, KeyringError> {
        let json = self.to_json()?;
        let name = path.file_name().ok_or_else(|| {
            write_error(
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
            )
        })?;
        let dir = parent_dir(path);
        if !dir.exists() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| write_error(path, e))?;
        }
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        // A stale file from a crash would keep its old mode; start from nothing.
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(write_error(path, e)),
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&tmp).and_then(|mut file| {
            file.write_all(json.as_bytes())?;
            file.sync_all()
        });
        match written {
            Ok(()) => Ok(tmp),
            Err(e) => {
                remove_quietly(&tmp);
                Err(write_error(path, e))
            }
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

fn wrap_aad(kek_id: &str, tenant: &str, slot: &str) -> Vec<u8> {
    primitives::encode_aad(&[
        WRAP_LABEL,
        kek_id.as_bytes(),
        tenant.as_bytes(),
        slot.as_bytes(),
    ])
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

fn is_valid_kek_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn write_error(path: &Path, source: io::Error) -> KeyringError {
    KeyringError::Write {
        path: path.to_owned(),
        source,
    }
}

/// Best-effort cleanup of a temporary file; the original error matters more.
fn remove_quietly(path: &Path) {
    let _ = fs::remove_file(path);
}

/// Makes a rename or link into the keyring's directory durable.
fn sync_parent(path: &Path) -> Result<(), KeyringError> {
    #[cfg(unix)]
    File::open(parent_dir(path))
        .and_then(|dir| dir.sync_all())
        .map_err(|e| write_error(path, e))?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::clock::ManualClock;
    use confide_core::entropy::SeededEntropy;
    use time::macros::datetime;

    fn keyring(seed: u64) -> Keyring {
        Keyring::generate(&ManualClock::at_epoch_2026(), &SeededEntropy::new(seed))
    }

    /// Every secret a keyring holds, in the encodings that could leak.
    fn secrets(k: &Keyring) -> Vec<String> {
        let mut keys: Vec<&[u8; 32]> = k.keks.values().map(|kek| &*kek.key).collect();
        keys.push(&k.index_key);
        keys.iter()
            .flat_map(|key| [BASE64.encode(key), hex::encode(key), format!("{key:?}")])
            .collect()
    }

    fn assert_no_secrets(text: &str, k: &Keyring) {
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

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn save_then_load_round_trips_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/nested/keyring.json");
        let k = keyring(13);
        k.save(&path).unwrap();
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            assert_eq!(mode(&dir.path().join("keys")), 0o700);
        }
        let loaded = Keyring::load(&path).unwrap();
        assert_eq!(loaded.status(), k.status());
        assert_eq!(
            loaded.platform_blind_index("p", b"v"),
            k.platform_blind_index("p", b"v")
        );
    }

    #[test]
    fn save_replaces_atomically_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let clock = ManualClock::at_epoch_2026();
        let e = SeededEntropy::new(14);
        let mut k = Keyring::generate(&clock, &e);
        k.save(&path).unwrap();
        let new_id = k.rotate(&clock, &e);
        k.save(&path).unwrap();
        assert_eq!(Keyring::load(&path).unwrap().primary_kek_id(), new_id);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["keyring.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn save_tightens_a_previously_loose_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        keyring(15).save(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn create_new_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let first = keyring(16);
        first.create_new(&path).unwrap();
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let before = fs::read(&path).unwrap();
        let err = keyring(17).create_new(&path).unwrap_err();
        assert!(matches!(&err, KeyringError::AlreadyExists { path: p } if *p == path));
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn load_refuses_group_or_world_access() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let k = keyring(18);
        k.save(&path).unwrap();
        for loose in [0o640, 0o604, 0o644, 0o660, 0o700 | 0o001] {
            fs::set_permissions(&path, fs::Permissions::from_mode(loose)).unwrap();
            let err = Keyring::load(&path).unwrap_err();
            assert!(
                matches!(err, KeyringError::InsecurePermissions { mode, .. } if mode == loose),
                "{loose:o}"
            );
            let message = err.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains(&format!("{loose:03o}")), "{message}");
            assert!(message.contains("chmod 600"), "{message}");
        }
        for tight in [0o600, 0o400] {
            fs::set_permissions(&path, fs::Permissions::from_mode(tight)).unwrap();
            assert!(Keyring::load(&path).is_ok(), "{tight:o}");
        }
    }

    #[test]
    fn load_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.json");
        let err = Keyring::load(&path).unwrap_err();
        assert!(matches!(&err, KeyringError::NotFound { path: p } if *p == path));
        assert!(err.to_string().contains("keys init"));
    }

    #[cfg(unix)]
    #[test]
    fn load_reports_unreadable_files() {
        use std::os::unix::fs::DirBuilderExt as _;
        let dir = tempfile::tempdir().unwrap();
        // A private directory opens but cannot be read as a file.
        let sub = dir.path().join("sub");
        fs::DirBuilder::new().mode(0o700).create(&sub).unwrap();
        let err = Keyring::load(&sub).unwrap_err();
        assert!(matches!(err, KeyringError::Read { .. }), "{err}");
        let path = dir.path().join("keyring.json");
        let mut options = OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.write(true).create_new(true).open(&path).unwrap();
        file.write_all(&[0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            Keyring::load(&path),
            Err(KeyringError::Read { .. })
        ));
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

    #[test]
    fn malformed_file_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let mut options = OpenOptions::new();
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.write(true).create_new(true).open(&path).unwrap();
        file.write_all(b"{}").unwrap();
        let message = Keyring::load(&path).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}
