//! Password hashing with argon2id, stored as PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! Verification uses the parameters in the stored string and reports when they differ from the
//! current ones, so login can rewrite the hash as costs rise. An optional pepper (argon2's secret
//! input) comes from the keyring; hashes made with a pepper verify only with the same pepper.

use crate::error::CryptoError;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{self, PasswordHasher as _, PasswordVerifier as _};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, Version};
use confide_core::entropy::{Entropy, random_array};
use secrecy::{ExposeSecret as _, SecretSlice};
use std::fmt;

/// Length of the random salt in bytes.
const SALT_LEN: usize = 16;
/// Limits on stored parameters, so a tampered hash cannot make a login allocate or spin forever.
const MAX_STORED_M_COST_KIB: u32 = 1 << 20; // 1 GiB
const MAX_STORED_T_COST: u32 = 64;
const MAX_STORED_P_COST: u32 = 64;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl PasswordParams {
    /// The OWASP recommendation: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: Self = Self {
        m_cost_kib: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    /// Almost free to compute. For tests only: never for real passwords.
    pub const TEST_CHEAP: Self = Self {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches. `needs_rehash` is true when the stored hash was made with other
    /// parameters than the hasher's current ones: store a fresh [`PasswordHasher::hash`].
    Valid {
        /// Whether to rewrite the stored hash.
        needs_rehash: bool,
    },
    /// The password does not match.
    Invalid,
}

/// Hashes and verifies passwords with fixed parameters and an optional pepper.
pub struct PasswordHasher {
    params: Params,
    pepper: Option<SecretSlice<u8>>,
}

impl PasswordHasher {
    /// A hasher with `params` (fails with [`CryptoError::InvalidParams`] if argon2 rejects them,
    /// e.g. less than 8 KiB per lane) and an optional pepper.
    pub fn new(
        params: PasswordParams,
        pepper: Option<SecretSlice<u8>>,
    ) -> Result<Self, CryptoError> {
        let params = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None)
            .map_err(|_| CryptoError::InvalidParams)?;
        Ok(Self { params, pepper })
    }

    /// Hashes `password` (all of it, no truncation) with a 16-byte salt from `entropy`, as a PHC
    /// string.
    pub fn hash(&self, password: &str, entropy: &dyn Entropy) -> Result<String, CryptoError> {
        let salt: [u8; SALT_LEN] = random_array(entropy);
        self.argon2()?
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| CryptoError::Hashing)
    }

    /// Checks `password` against a stored PHC string. Errors (rather than `Invalid`) when the
    /// string is not an argon2id hash with parameters within sane limits.
    pub fn verify(&self, password: &str, phc: &str) -> Result<Verification, CryptoError> {
        let hash = PasswordHash::new(phc).map_err(|_| CryptoError::MalformedHash)?;
        if hash.algorithm != ARGON2ID_IDENT || hash.salt.is_none() {
            return Err(CryptoError::MalformedHash);
        }
        let Some(output) = &hash.hash else {
            return Err(CryptoError::MalformedHash);
        };
        let stored = Params::try_from(&hash).map_err(|_| CryptoError::MalformedHash)?;
        if stored.m_cost() > MAX_STORED_M_COST_KIB
            || stored.t_cost() > MAX_STORED_T_COST
            || stored.p_cost() > MAX_STORED_P_COST
        {
            return Err(CryptoError::MalformedHash);
        }
        let needs_rehash = hash.version != Some(Version::V0x13.into())
            || stored.m_cost() != self.params.m_cost()
            || stored.t_cost() != self.params.t_cost()
            || stored.p_cost() != self.params.p_cost()
            || output.len() != Params::DEFAULT_OUTPUT_LEN;
        match self.argon2()?.verify_password(password.as_bytes(), &hash) {
            Ok(()) => Ok(Verification::Valid { needs_rehash }),
            Err(password_hash::Error::PasswordInvalid) => Ok(Verification::Invalid),
            Err(password_hash::Error::Algorithm | password_hash::Error::Version) => {
                Err(CryptoError::MalformedHash)
            }
            Err(_) => Err(CryptoError::Hashing),
        }
    }

    /// Does the work of a [`verify`](Self::verify) at the current parameters and returns
    /// [`Verification::Invalid`]: call it for unknown users so that timing does not tell them
    /// apart from known ones.
    pub fn dummy_verify(&self, password: &str) -> Verification {
        if let Ok(argon2) = self.argon2() {
            let hashed = argon2.hash_password_with_salt(password.as_bytes(), &[0u8; SALT_LEN]);
            std::hint::black_box(hashed.is_ok());
        }
        Verification::Invalid
    }

    fn argon2(&self) -> Result<Argon2<'_>, CryptoError> {
        let params = self.params.clone();
        match &self.pepper {
            None => Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
            Some(pepper) => Argon2::new_with_secret(
                pepper.expose_secret(),
                Algorithm::Argon2id,
                Version::V0x13,
                params,
            )
            .map_err(|_| CryptoError::InvalidParams),
        }
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("m_cost_kib", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .field("peppered", &self.pepper.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confide_core::entropy::SeededEntropy;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(PasswordParams::TEST_CHEAP, None).unwrap()
    }

    fn pepper(byte: u8) -> Option<SecretSlice<u8>> {
        Some(SecretSlice::from(vec![byte; 32]))
    }

    #[test]
    fn owasp_hash_is_an_argon2id_phc_string_with_owasp_parameters() {
        let h = PasswordHasher::new(PasswordParams::OWASP, None).unwrap();
        let phc = h
            .hash("correct horse battery staple", &SeededEntropy::new(1))
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(parsed.salt.unwrap().as_ref().len(), 16);
        assert_eq!(parsed.hash.unwrap().len(), 32);
        assert_eq!(
            h.verify("correct horse battery staple", &phc).unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn wrong_password_is_invalid() {
        let h = cheap();
        let phc = h.hash("right password", &SeededEntropy::new(2)).unwrap();
        assert_eq!(
            h.verify("wrong password", &phc).unwrap(),
            Verification::Invalid
        );
        assert_eq!(h.verify("", &phc).unwrap(), Verification::Invalid);
    }

    #[test]
    fn salt_comes_from_the_entropy_source() {
        let h = cheap();
        let a = h.hash("pw", &SeededEntropy::new(3)).unwrap();
        assert_eq!(a, h.hash("pw", &SeededEntropy::new(3)).unwrap());
        assert_ne!(a, h.hash("pw", &SeededEntropy::new(4)).unwrap());
    }

    #[test]
    fn other_parameters_need_a_rehash() {
        let old = cheap();
        let phc = old.hash("pw", &SeededEntropy::new(5)).unwrap();
        let stronger = PasswordParams {
            m_cost_kib: 128,
            ..PasswordParams::TEST_CHEAP
        };
        let current = PasswordHasher::new(stronger, None).unwrap();
        assert_eq!(
            current.verify("pw", &phc).unwrap(),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(current.verify("nope", &phc).unwrap(), Verification::Invalid);
        let rehashed = current.hash("pw", &SeededEntropy::new(6)).unwrap();
        assert!(rehashed.contains("$m=128,t=1,p=1$"), "{rehashed}");
        assert_eq!(
            current.verify("pw", &rehashed).unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );
        for other in [
            PasswordParams {
                t_cost: 2,
                ..PasswordParams::TEST_CHEAP
            },
            PasswordParams {
                p_cost: 2,
                ..PasswordParams::TEST_CHEAP
            },
        ] {
            let h = PasswordHasher::new(other, None).unwrap();
            assert_eq!(
                h.verify("pw", &phc).unwrap(),
                Verification::Valid { needs_rehash: true }
            );
        }
    }

    #[test]
    fn long_passwords_are_not_truncated() {
        let h = cheap();
        let a = format!("{}a", "x".repeat(199));
        let b = format!("{}b", "x".repeat(199));
        assert_eq!(a.chars().count(), 200);
        let phc = h.hash(&a, &SeededEntropy::new(7)).unwrap();
        assert_eq!(
            h.verify(&a, &phc).unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(h.verify(&b, &phc).unwrap(), Verification::Invalid);
    }

    #[test]
    fn pepper_is_required_to_verify() {
        let peppered = PasswordHasher::new(PasswordParams::TEST_CHEAP, pepper(1)).unwrap();
        let phc = peppered.hash("pw", &SeededEntropy::new(8)).unwrap();
        assert_eq!(
            peppered.verify("pw", &phc).unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );
        let other = PasswordHasher::new(PasswordParams::TEST_CHEAP, pepper(2)).unwrap();
        assert_eq!(other.verify("pw", &phc).unwrap(), Verification::Invalid);
        assert_eq!(cheap().verify("pw", &phc).unwrap(), Verification::Invalid);
        assert_ne!(phc, cheap().hash("pw", &SeededEntropy::new(8)).unwrap());
    }

    #[test]
    fn malformed_or_foreign_hashes_are_errors() {
        let h = cheap();
        let good = h.hash("pw", &SeededEntropy::new(9)).unwrap();
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"pw", &[7u8; 16])
        .unwrap()
        .to_string();
        let without_hash = good.rsplit_once('$').unwrap().0.to_owned();
        let cases = [
            String::new(),
            "garbage".to_owned(),
            "$argon2id$".to_owned(),
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(),
            argon2i,
            without_hash,
            good.replace("m=64", "m=4294967295"),
            good.replace("t=1", "t=1000000"),
            good.replace("m=64", "m=1"),
            good.replace("m=64", "m=x"),
            good.replace("v=19", "v=99"),
            format!("{good}$extra"),
            good.replace('$', "\u{0}"),
        ];
        for phc in cases {
            assert_eq!(
                h.verify("pw", &phc),
                Err(CryptoError::MalformedHash),
                "{phc:?}"
            );
        }
    }

    #[test]
    fn dummy_verify_is_always_invalid() {
        let h = cheap();
        assert_eq!(h.dummy_verify("anything"), Verification::Invalid);
        assert_eq!(h.dummy_verify(""), Verification::Invalid);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        for params in [
            PasswordParams {
                m_cost_kib: 0,
                ..PasswordParams::TEST_CHEAP
            },
            PasswordParams {
                t_cost: 0,
                ..PasswordParams::TEST_CHEAP
            },
            PasswordParams {
                p_cost: 0,
                ..PasswordParams::TEST_CHEAP
            },
        ] {
            assert_eq!(
                PasswordHasher::new(params, None).unwrap_err(),
                CryptoError::InvalidParams
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_pepper() {
        let h = PasswordHasher::new(PasswordParams::TEST_CHEAP, pepper(0xab)).unwrap();
        let shown = format!("{h:?}");
        assert!(shown.contains("peppered: true"));
        assert!(
            !shown.contains("171") && !shown.contains("ab, ab"),
            "{shown}"
        );
    }
}
