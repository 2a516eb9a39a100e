//! Field encryption with a tenant's data keys.
//!
//! An envelope is `[format 0x01][data key version, u32 big-endian][12-byte nonce][ciphertext || tag]`,
//! sealed with AES-256-GCM. Its associated data binds the envelope to one field of one row
//! (tenant, table, column, row id) and to the key version, so a ciphertext copied to another row,
//! column or tenant fails to decrypt.

use crate::error::CryptoError;
use crate::primitives;
use confide_core::entropy::Entropy;
use std::collections::BTreeMap;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The only envelope format so far.
const FORMAT_V1: u8 = 0x01;
/// Format byte plus key version.
const HEADER_LEN: usize = 1 + 4;
/// Domain label at the start of every envelope's associated data.
const AAD_LABEL: &[u8] = b"confide-field-v1";
/// Domain label of the per-tenant blind index key derivation.
const INDEX_LABEL: &[u8] = b"confide blind index v1";

/// A tenant's 256-bit data (or index) key. Zeroized on drop; `Debug` shows nothing of it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A fresh random key.
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut key = Self([0; 32]);
        entropy.fill(&mut key.0);
        key
    }

    /// The key with these bytes (as unwrapped by the keyring).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes, for wrapping under a key-encryption key. Do not log or store them.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// Names the one field an envelope belongs to: a column of a row in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef<'a> {
    /// Table name, e.g. `"messages"`.
    pub table: &'a str,
    /// Column name, e.g. `"body"`.
    pub column: &'a str,
    /// The row's id as text (its primary key within the tenant).
    pub row: &'a str,
}

impl<'a> FieldRef<'a> {
    /// The field `table.column` of row `row`.
    pub const fn new(table: &'a str, column: &'a str, row: &'a str) -> Self {
        Self { table, column, row }
    }
}

/// A tenant's unwrapped keys: versioned data keys (one current) and the blind index key.
///
/// The store unwraps these with the [`Keyring`](crate::Keyring) and caches them.
pub struct TenantKeys {
    tenant: String,
    data: BTreeMap<u32, DataKey>,
    current: u32,
    index: DataKey,
}

impl TenantKeys {
    /// The keys of `tenant`. Fails with [`CryptoError::UnknownKeyVersion`] unless `data` holds the
    /// `current` version, which encrypts new values; older versions only decrypt.
    pub fn new(
        tenant: impl Into<String>,
        data: BTreeMap<u32, DataKey>,
        current: u32,
        index: DataKey,
    ) -> Result<Self, CryptoError> {
        if !data.contains_key(&current) {
            return Err(CryptoError::UnknownKeyVersion(current));
        }
        Ok(Self {
            tenant: tenant.into(),
            data,
            current,
            index,
        })
    }

    /// The tenant these keys belong to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The data key version new envelopes use; envelopes with another version need re-encryption
    /// before their key can retire.
    pub fn current_version(&self) -> u32 {
        self.current
    }

    /// Encrypts `plaintext` for `field` with the current data key. Fails only for a plaintext
    /// over 64 GiB ([`CryptoError::TooLong`]).
    pub fn encrypt(
        &self,
        field: FieldRef<'_>,
        plaintext: &[u8],
        entropy: &dyn Entropy,
    ) -> Result<Vec<u8>, CryptoError> {
        let key = self.key(self.current)?;
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + primitives::SEAL_OVERHEAD);
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.current.to_be_bytes());
        let aad = self.aad(field, self.current);
        primitives::seal(key.expose(), &aad, plaintext, entropy, &mut out)?;
        Ok(out)
    }

    /// [`encrypt`](Self::encrypt) for text.
    pub fn encrypt_str(
        &self,
        field: FieldRef<'_>,
        plaintext: &str,
        entropy: &dyn Entropy,
    ) -> Result<Vec<u8>, CryptoError> {
        self.encrypt(field, plaintext.as_bytes(), entropy)
    }

    /// Decrypts an envelope written for `field` by this tenant, with whichever data key version
    /// it names.
    pub fn decrypt(
        &self,
        field: FieldRef<'_>,
        envelope: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (version, sealed) = split_envelope(envelope)?;
        let key = self.key(version)?;
        primitives::open(key.expose(), &self.aad(field, version), sealed)
    }

    /// [`decrypt`](Self::decrypt) for text written with [`encrypt_str`](Self::encrypt_str).
    pub fn decrypt_string(
        &self,
        field: FieldRef<'_>,
        envelope: &[u8],
    ) -> Result<Zeroizing<String>, CryptoError> {
        let mut bytes = self.decrypt(field, envelope)?;
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(CryptoError::NotUtf8)
            }
        }
    }

    /// A keyed blind index of an already normalized value (e.g. an E.164 phone number), for
    /// equality lookups: HMAC-SHA256 keyed by HKDF(index key, `"confide blind index v1"` ||
    /// `purpose`). Different purposes and different tenants give unrelated indexes.
    pub fn blind_index(&self, purpose: &str, normalized: &[u8]) -> [u8; 32] {
        primitives::blind_index(self.index.expose(), INDEX_LABEL, purpose, normalized)
    }

    /// The data key with this version, for key derivations inside this crate (media objects).
    pub(crate) fn data_key(&self, version: u32) -> Result<&DataKey, CryptoError> {
        self.key(version)
    }

    fn key(&self, version: u32) -> Result<&DataKey, CryptoError> {
        self.data
            .get(&version)
            .ok_or(CryptoError::UnknownKeyVersion(version))
    }

    fn aad(&self, field: FieldRef<'_>, version: u32) -> Vec<u8> {
        primitives::encode_aad(&[
            AAD_LABEL,
            self.tenant.as_bytes(),
            field.table.as_bytes(),
            field.column.as_bytes(),
            field.row.as_bytes(),
            &version.to_be_bytes(),
        ])
    }
}

impl fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantKeys")
            .field("tenant", &self.tenant)
            .field("versions", &self.data.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

/// The data key version an envelope was written with, or `None` if it is not a well-formed
/// envelope. Lets a re-encryption job find ciphertexts under old versions.
pub fn envelope_key_version(envelope: &[u8]) -> Option<u32> {
    split_envelope(envelope).ok().map(|(version, _)| version)
}

/// Splits an envelope into its key version and the sealed `nonce || ciphertext || tag`.
fn split_envelope(envelope: &[u8]) -> Result<(u32, &[u8]), CryptoError> {
    let (&format, rest) = envelope.split_first().ok_or(CryptoError::Malformed)?;
    if format != FORMAT_V1 {
        return Err(CryptoError::UnknownFormat(format));
    }
    let (version, sealed) = rest
        .split_first_chunk::<4>()
        .ok_or(CryptoError::Malformed)?;
    if sealed.len() < primitives::SEAL_OVERHEAD {
        return Err(CryptoError::Malformed);
    }
    Ok((u32::from_be_bytes(*version), sealed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::entropy::SeededEntropy;

    const BODY: FieldRef<'static> = FieldRef::new("messages", "body", "row-1");

    fn keys(tenant: &str, seed: u64) -> TenantKeys {
        let e = SeededEntropy::new(seed);
        let data = BTreeMap::from([(1, DataKey::generate(&e))]);
        TenantKeys::new(tenant, data, 1, DataKey::generate(&e)).unwrap()
    }

    #[test]
    fn round_trip_bytes_and_text() {
        let k = keys("t1", 1);
        let e = SeededEntropy::new(9);
        let env = k.encrypt(BODY, b"\x00\xffbinary", &e).unwrap();
        assert_eq!(k.decrypt(BODY, &env).unwrap().as_slice(), b"\x00\xffbinary");
        let env = k.encrypt_str(BODY, "héllo", &e).unwrap();
        assert_eq!(k.decrypt_string(BODY, &env).unwrap().as_str(), "héllo");
        let empty = k.encrypt(BODY, b"", &e).unwrap();
        assert!(k.decrypt(BODY, &empty).unwrap().is_empty());
    }

    #[test]
    fn envelope_layout_is_format_version_nonce_ciphertext_tag() {
        let k = keys("t1", 1);
        let env = k.encrypt(BODY, b"12345", &SeededEntropy::new(2)).unwrap();
        assert_eq!(env[0], 0x01);
        assert_eq!(&env[1..5], &1u32.to_be_bytes());
        assert_eq!(env.len(), 1 + 4 + 12 + 5 + 16);
        assert!(!env.windows(5).any(|w| w == b"12345"));
        assert_eq!(envelope_key_version(&env), Some(1));
    }

    #[test]
    fn same_plaintext_twice_gives_different_envelopes() {
        let k = keys("t1", 1);
        let e = SeededEntropy::new(3);
        assert_ne!(
            k.encrypt(BODY, b"same", &e).unwrap(),
            k.encrypt(BODY, b"same", &e).unwrap()
        );
    }

    #[test]
    fn swapping_ciphertexts_between_rows_fails() {
        let k = keys("t1", 1);
        let e = SeededEntropy::new(4);
        let row2 = FieldRef::new("messages", "body", "row-2");
        let a = k.encrypt(BODY, b"for row 1", &e).unwrap();
        let b = k.encrypt(row2, b"for row 2", &e).unwrap();
        assert_eq!(k.decrypt(row2, &a), Err(CryptoError::Authentication));
        assert_eq!(k.decrypt(BODY, &b), Err(CryptoError::Authentication));
    }

    #[test]
    fn other_column_or_table_fails() {
        let k = keys("t1", 1);
        let env = k.encrypt(BODY, b"x", &SeededEntropy::new(5)).unwrap();
        let column = FieldRef::new("messages", "caption", "row-1");
        let table = FieldRef::new("notes", "body", "row-1");
        assert_eq!(k.decrypt(column, &env), Err(CryptoError::Authentication));
        assert_eq!(k.decrypt(table, &env), Err(CryptoError::Authentication));
    }

    #[test]
    fn field_parts_cannot_be_shifted_between_each_other() {
        let k = keys("t1", 1);
        let env = k
            .encrypt(FieldRef::new("ab", "c", "r"), b"x", &SeededEntropy::new(5))
            .unwrap();
        let shifted = FieldRef::new("a", "bc", "r");
        assert_eq!(k.decrypt(shifted, &env), Err(CryptoError::Authentication));
    }

    #[test]
    fn other_tenant_fails_even_with_the_same_key_bytes() {
        let a = keys("tenant-a", 1);
        let same_keys_other_name = keys("tenant-b", 1);
        let other_keys = keys("tenant-b", 2);
        let env = a.encrypt(BODY, b"secret", &SeededEntropy::new(6)).unwrap();
        assert_eq!(
            same_keys_other_name.decrypt(BODY, &env),
            Err(CryptoError::Authentication)
        );
        assert_eq!(
            other_keys.decrypt(BODY, &env),
            Err(CryptoError::Authentication)
        );
    }

    #[test]
    fn any_flipped_bit_fails() {
        let k = keys("t1", 1);
        let env = k
            .encrypt(BODY, b"tamper me", &SeededEntropy::new(7))
            .unwrap();
        for byte in 0..env.len() {
            for bit in 0..8 {
                let mut bad = env.clone();
                bad[byte] ^= 1 << bit;
                assert!(k.decrypt(BODY, &bad).is_err(), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn truncated_and_garbage_inputs_error_without_panicking() {
        let k = keys("t1", 1);
        let env = k.encrypt(BODY, b"abc", &SeededEntropy::new(8)).unwrap();
        for len in 0..env.len() {
            assert!(
                k.decrypt(BODY, &env[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
        assert_eq!(k.decrypt(BODY, &[]), Err(CryptoError::Malformed));
        assert_eq!(k.decrypt(BODY, &[0x01, 0, 0]), Err(CryptoError::Malformed));
        assert_eq!(
            k.decrypt(BODY, &[0x02; 40]),
            Err(CryptoError::UnknownFormat(2))
        );
        let mut extended = env.clone();
        extended.push(0);
        assert!(k.decrypt(BODY, &extended).is_err());
        let e = SeededEntropy::new(10);
        for len in 0..64 {
            let mut junk = vec![0u8; len];
            e.fill(&mut junk);
            if let Some(first) = junk.first_mut() {
                *first = FORMAT_V1;
            }
            assert!(k.decrypt(BODY, &junk).is_err());
            if len < HEADER_LEN + primitives::SEAL_OVERHEAD {
                assert_eq!(envelope_key_version(&junk), None, "{len} bytes");
            }
        }
    }

    #[test]
    fn old_key_version_still_decrypts_after_rotation() {
        let e = SeededEntropy::new(11);
        let v1 = DataKey::generate(&e);
        let index = DataKey::generate(&e);
        let before =
            TenantKeys::new("t1", BTreeMap::from([(1, v1.clone())]), 1, index.clone()).unwrap();
        let old = before.encrypt(BODY, b"written under v1", &e).unwrap();

        let data = BTreeMap::from([(1, v1), (2, DataKey::generate(&e))]);
        let after = TenantKeys::new("t1", data, 2, index).unwrap();
        assert_eq!(after.current_version(), 2);
        assert_eq!(
            after.decrypt(BODY, &old).unwrap().as_slice(),
            b"written under v1"
        );
        let new = after.encrypt(BODY, b"written under v2", &e).unwrap();
        assert_eq!(envelope_key_version(&old), Some(1));
        assert_eq!(envelope_key_version(&new), Some(2));
        assert_eq!(
            before.decrypt(BODY, &new),
            Err(CryptoError::UnknownKeyVersion(2))
        );
    }

    #[test]
    fn constructor_requires_the_current_version() {
        let e = SeededEntropy::new(12);
        let data = BTreeMap::from([(1, DataKey::generate(&e))]);
        let err = TenantKeys::new("t1", data, 2, DataKey::generate(&e)).unwrap_err();
        assert_eq!(err, CryptoError::UnknownKeyVersion(2));
    }

    #[test]
    fn decrypt_string_rejects_non_utf8() {
        let k = keys("t1", 1);
        let env = k
            .encrypt(BODY, &[0xff, 0xfe], &SeededEntropy::new(13))
            .unwrap();
        assert_eq!(k.decrypt_string(BODY, &env), Err(CryptoError::NotUtf8));
    }

    #[test]
    fn blind_index_is_deterministic_per_tenant_and_purpose() {
        let a = keys("t1", 1);
        let b = keys("t2", 2);
        let phone = b"+4915112345678";
        assert_eq!(a.blind_index("phone", phone), a.blind_index("phone", phone));
        assert_ne!(a.blind_index("phone", phone), b.blind_index("phone", phone));
        assert_ne!(a.blind_index("phone", phone), a.blind_index("email", phone));
        assert_ne!(
            a.blind_index("phone", phone),
            a.blind_index("phone", b"+4915112345679")
        );
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let k = keys("t1", 1);
        let key = DataKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "DataKey(..)");
        let shown = format!("{k:?}");
        assert!(shown.contains("t1"));
        let raw = k.data[&1].expose();
        assert!(!shown.contains(&hex::encode(raw)));
        assert!(!shown.contains(&format!("{raw:?}")));
    }
}
