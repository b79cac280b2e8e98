//! Store keys derived from a passphrase with argon2id.
//!
//! A passphrase is not a key: it is guessable. [`PassphraseKeyProvider`]
//! turns it into a 256-bit store key with argon2id, salted per store, at a
//! cost chosen when the store is made ([`KdfParams`]). The salt and the
//! cost are kept beside the key registry, in the clear (they must be read
//! before any key exists), as the registry's key-derivation header
//! ([`KeyDerivation`], file `KEYDERIVATION`, see docs/file-format.md).
//!
//! ```text
//!   store key = argon2id(passphrase, salt, m, t, p) → 32 bytes (AES-256)
//! ```
//!
//! The header is not secret and needs no MAC: whoever changes the salt or
//! the cost only changes the key derived, which then does not open the
//! registry ([`crate::Error::KeyUnavailable`]). One change could still
//! help an attacker — lowering the cost of a store about to be made, or
//! of the next derivation — so a provider refuses a header weaker than
//! its own parameters.
//!
//! Invariants: the passphrase and the derived keys live only in zeroizing
//! buffers; nothing here prints them.

use argon2::{Algorithm, Argon2, Params, Version};
use parking_lot::Mutex;
use zeroize::Zeroizing;

use super::keys::{fill_random, KeyBytes, KeyId, StoreKey};
use super::provider::{ActiveStoreKey, KeyProvider};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"SEALKDF\n";
const VERSION: u16 = 1;
/// argon2id, version 0x13 (RFC 9106).
const ALGORITHM_ARGON2ID_13: u8 = 1;
const SALT_LEN: usize = 16;
/// Bytes of an encoded [`KeyDerivation`].
pub const KEY_DERIVATION_LEN: usize = 8 + 2 + 1 + 1 + 12 + SALT_LEN + 4;

/// The cost of deriving a store key from a passphrase (argon2id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB (default 65536: 64 MiB, RFC 9106's second option).
    pub memory_kib: u32,
    /// Passes over memory (default 3).
    pub iterations: u32,
    /// Lanes (default 1: one thread, the same cost on every machine).
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// The cheapest cost argon2 allows: for tests only. A store made with
    /// it falls to a dictionary attack at once.
    pub fn dangerous_minimal() -> Self {
        KdfParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn at_least(&self, floor: &KdfParams) -> bool {
        self.memory_kib >= floor.memory_kib && self.iterations >= floor.iterations
    }

    fn argon2(&self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| Error::InvalidArgument {
                what: format!("key derivation parameters: {e}"),
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl std::fmt::Display for KdfParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "argon2id m={} KiB, t={}, p={}",
            self.memory_kib, self.iterations, self.parallelism
        )
    }
}

/// A store's key-derivation header: the salt and the cost its passphrase
/// is stretched with. Not secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDerivation {
    /// The cost.
    pub params: KdfParams,
    salt: [u8; SALT_LEN],
}

impl KeyDerivation {
    /// A header with a fresh random salt.
    pub fn new(params: KdfParams) -> Result<KeyDerivation> {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        Ok(KeyDerivation { params, salt })
    }

    /// The header's bytes (little-endian):
    ///
    /// ```text
    ///   "SEALKDF\n" | u16 version = 1 | u8 algorithm = 1 (argon2id v0x13)
    ///   | u8 salt length = 16 | u32 memory KiB | u32 iterations
    ///   | u32 parallelism | [16] salt | u32 CRC32 of everything before
    /// ```
    pub fn encode(&self) -> [u8; KEY_DERIVATION_LEN] {
        let mut b = [0u8; KEY_DERIVATION_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(&VERSION.to_le_bytes());
        b[10] = ALGORITHM_ARGON2ID_13;
        b[11] = SALT_LEN as u8;
        b[12..16].copy_from_slice(&self.params.memory_kib.to_le_bytes());
        b[16..20].copy_from_slice(&self.params.iterations.to_le_bytes());
        b[20..24].copy_from_slice(&self.params.parallelism.to_le_bytes());
        b[24..40].copy_from_slice(&self.salt);
        let crc = crc32fast::hash(&b[..40]);
        b[40..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses [`Self::encode`]'s output; the error says what is wrong.
    pub fn decode(b: &[u8]) -> std::result::Result<KeyDerivation, String> {
        if b.len() != KEY_DERIVATION_LEN {
            return Err(format!("{} bytes, expected {KEY_DERIVATION_LEN}", b.len()));
        }
        if &b[..8] != MAGIC {
            return Err("not a key-derivation header (bad magic number)".into());
        }
        let crc = u32::from_le_bytes([b[40], b[41], b[42], b[43]]);
        if crc != crc32fast::hash(&b[..40]) {
            return Err("checksum mismatch".into());
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if version != VERSION || b[10] != ALGORITHM_ARGON2ID_13 || b[11] as usize != SALT_LEN {
            return Err(format!(
                "unsupported version {version}, algorithm {} or salt length {}",
                b[10], b[11]
            ));
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&b[24..40]);
        Ok(KeyDerivation {
            params: KdfParams {
                memory_kib: u32_at(12),
                iterations: u32_at(16),
                parallelism: u32_at(20),
            },
            salt,
        })
    }

    /// Stretches `passphrase` into a store key.
    pub(crate) fn derive(&self, passphrase: &[u8]) -> Result<StoreKey> {
        let mut out = Zeroizing::new(vec![0u8; 32]);
        self.params
            .argon2()?
            .hash_password_into(passphrase, &self.salt, &mut out)
            .map_err(|e| Error::InvalidArgument {
                what: format!("key derivation ({}): {e}", self.params),
            })?;
        StoreKey::new(KeyBytes::new(out))
    }
}

/// An older secret kept to open data written before a change.
enum OldSecret {
    Passphrase(Zeroizing<Vec<u8>>),
    Key(StoreKey),
}

/// The keys derived for one store.
struct Derived {
    header: KeyDerivation,
    current: StoreKey,
    old: Vec<StoreKey>,
}

/// Store keys from a passphrase (see the module docs). The store binds it
/// to its salt when it opens ([`KeyProvider::key_derivation`]); asked for
/// a key before that, it fails.
pub struct PassphraseKeyProvider {
    passphrase: Zeroizing<Vec<u8>>,
    old: Vec<OldSecret>,
    params: KdfParams,
    derived: Mutex<Option<Derived>>,
}

fn check_passphrase(p: &[u8]) -> Result<()> {
    if p.is_empty() {
        return Err(Error::InvalidKey {
            reason: "the passphrase is empty".into(),
        });
    }
    Ok(())
}

impl PassphraseKeyProvider {
    /// A provider for `passphrase` (any non-empty bytes; UTF-8 text is
    /// used as its bytes) with the default cost.
    pub fn new(passphrase: impl AsRef<[u8]>) -> Result<Self> {
        check_passphrase(passphrase.as_ref())?;
        Ok(PassphraseKeyProvider {
            passphrase: Zeroizing::new(passphrase.as_ref().to_vec()),
            old: Vec::new(),
            params: KdfParams::default(),
            derived: Mutex::new(None),
        })
    }

    /// A provider for the passphrase in file `path`: its whole content,
    /// without one final line end.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let raw = Zeroizing::new(
            std::fs::read(path).map_err(|e| Error::io("read passphrase file", path, e))?,
        );
        let text = raw
            .strip_suffix(b"\n")
            .map(|t| t.strip_suffix(b"\r").unwrap_or(t))
            .unwrap_or(&raw);
        PassphraseKeyProvider::new(text).map_err(|_| Error::InvalidKey {
            reason: format!("passphrase file {} is empty", path.display()),
        })
    }

    /// The cost for a new store, and the least this provider accepts from
    /// an existing one (a weaker header is refused).
    pub fn with_params(mut self, params: KdfParams) -> Self {
        self.params = params;
        self
    }

    /// Also offers the previous passphrase, to open a store whose
    /// passphrase is being changed (until the registry is re-encrypted).
    pub fn with_old_passphrase(mut self, old: impl AsRef<[u8]>) -> Result<Self> {
        check_passphrase(old.as_ref())?;
        self.old
            .push(OldSecret::Passphrase(Zeroizing::new(old.as_ref().to_vec())));
        Ok(self)
    }

    /// Also offers a store key, to move a store from a key file (or any
    /// other key) to a passphrase.
    pub fn with_old_key(mut self, old: KeyBytes) -> Result<Self> {
        self.old.push(OldSecret::Key(StoreKey::new(old)?));
        Ok(self)
    }

    fn unbound() -> Error {
        Error::KeyProvider {
            message: "a passphrase key provider has no key before a store gives it its salt (open a store with it)".into(),
        }
    }
}

impl KeyProvider for PassphraseKeyProvider {
    fn active_key(&self) -> Result<ActiveStoreKey> {
        let d = self.derived.lock();
        let d = d.as_ref().ok_or_else(Self::unbound)?;
        Ok(ActiveStoreKey::Key(d.current.clone()))
    }

    fn key_by_id(&self, id: &KeyId) -> Result<Option<StoreKey>> {
        let d = self.derived.lock();
        let d = d.as_ref().ok_or_else(Self::unbound)?;
        Ok(std::iter::once(&d.current)
            .chain(&d.old)
            .find(|k| k.id() == *id)
            .cloned())
    }

    /// A provider is bound to one salt: the first store that gives it one
    /// (or, for a new store, the one it makes). A store made later by the
    /// same provider (a checkpoint, a restore run from an open store) takes
    /// that salt, so the same passphrase gives the same key, as one key
    /// file does for every store made with it; a store with another salt
    /// is refused. Rebinding would change the key the open store uses for
    /// its next registry write, which no passphrase could then open.
    fn key_derivation(&self, stored: Option<&KeyDerivation>) -> Result<Option<KeyDerivation>> {
        let mut slot = self.derived.lock();
        let bound = slot.as_ref().map(|d| &d.header);
        let header = match (stored, bound) {
            (Some(h), _) if !h.params.at_least(&self.params) => {
                return Err(Error::InvalidKey {
                    reason: format!(
                        "the store derives its key with {}, weaker than this provider accepts ({}); if that is intended, make the provider with those parameters",
                        h.params, self.params
                    ),
                })
            }
            (Some(h), Some(b)) if h != b => {
                return Err(Error::KeyProvider {
                    message: "this passphrase key provider is already in use by a store with another salt; make a new provider for each store".into(),
                })
            }
            (Some(h), _) => h.clone(),
            (None, Some(b)) => b.clone(),
            (None, None) => KeyDerivation::new(self.params)?,
        };
        if bound == Some(&header) {
            return Ok(Some(header));
        }
        let current = header.derive(&self.passphrase)?;
        let mut old = Vec::with_capacity(self.old.len());
        for s in &self.old {
            old.push(match s {
                OldSecret::Passphrase(p) => header.derive(p)?,
                OldSecret::Key(k) => k.clone(),
            });
        }
        *slot = Some(Derived {
            header: header.clone(),
            current,
            old,
        });
        Ok(Some(header))
    }

    fn bound_derivation(&self) -> Option<KeyDerivation> {
        self.derived.lock().as_ref().map(|d| d.header.clone())
    }

    /// The keys of the current passphrase and of every old one (an old key
    /// as it is) under `header`. A header weaker than this provider's
    /// parameters is not refused here: nothing is made with the keys, a
    /// wrong header only derives keys that open nothing.
    fn derive_for(&self, header: &KeyDerivation) -> Result<Vec<StoreKey>> {
        let mut keys = vec![header.derive(&self.passphrase)?];
        for s in &self.old {
            keys.push(match s {
                OldSecret::Passphrase(p) => header.derive(p)?,
                OldSecret::Key(k) => k.clone(),
            });
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() -> Result<()> {
        let h = KeyDerivation::new(KdfParams::dangerous_minimal())?;
        let b = h.encode();
        assert_eq!(KeyDerivation::decode(&b), Ok(h.clone()));
        for i in 0..b.len() {
            let mut d = b;
            d[i] ^= 0x01;
            assert!(KeyDerivation::decode(&d).is_err(), "byte {i}");
        }
        assert!(KeyDerivation::decode(&b[..KEY_DERIVATION_LEN - 1]).is_err());
        Ok(())
    }

    #[test]
    fn same_passphrase_other_salt_other_key() -> Result<()> {
        let new = || -> Result<PassphraseKeyProvider> {
            Ok(PassphraseKeyProvider::new("correct horse")?
                .with_params(KdfParams::dangerous_minimal()))
        };
        let key_id = |p: &PassphraseKeyProvider| -> Result<KeyId> {
            match p.active_key()? {
                ActiveStoreKey::Key(k) => Ok(k.id()),
                ActiveStoreKey::DangerousPlaintext => panic!("plaintext"),
            }
        };
        let (p, q) = (new()?, new()?);
        assert!(matches!(p.active_key(), Err(Error::KeyProvider { .. })));
        let a = p.key_derivation(None)?.expect("header");
        let b = q.key_derivation(None)?.expect("header");
        assert_ne!(a, b, "a fresh salt per store");
        let (ka, kb) = (key_id(&p)?, key_id(&q)?);
        assert_ne!(ka, kb);
        // A store the bound provider makes takes its salt: the same key.
        assert_eq!(p.key_derivation(None)?, Some(a.clone()));
        assert_eq!(key_id(&p)?, ka);
        // Same salt, same key, in another provider.
        let r = new()?;
        r.key_derivation(Some(&a))?;
        assert!(r.key_by_id(&ka)?.is_some(), "same salt, same key");
        // A bound provider refuses another salt and keeps its key.
        assert!(matches!(
            p.key_derivation(Some(&b)),
            Err(Error::KeyProvider { .. })
        ));
        assert_eq!(key_id(&p)?, ka);
        Ok(())
    }
}
