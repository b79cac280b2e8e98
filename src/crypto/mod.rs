//! `crypto`: keys, key providers, the data-key registry, and the two
//! primitives every file is sealed with (AES-CTR and the POLYVAL record MAC).
//!
//! This is the lowest layer: it knows nothing about files or paths beyond
//! what appears in error messages. `vfs` builds sealed files on top of it.
//!
//! ```text
//!   KeyProvider ──► StoreKey ──(encrypts)──► key registry ──► DataKey
//!                                                               │ HKDF-SHA256
//!                                              ┌────────────────┼───────────────┐
//!                                           CTR key          POLYVAL H       MAC mask key
//! ```
//!
//! Invariant: every key the database ever uses for file contents is a
//! [`FileKeys`] derived here; the raw key bytes never leave [`keys::KeyBytes`].

pub mod ctr;
pub mod keys;
pub mod mac;
pub mod passphrase;
pub mod provider;
pub mod registry;

pub use keys::{Cipher, KeyBytes, KeyId, StoreKey};
pub use passphrase::{KdfParams, KeyDerivation, PassphraseKeyProvider};
pub use provider::{
    ActiveStoreKey, CallbackKeyProvider, FileKeyProvider, KeyProvider, KeyRequest,
    MemoryKeyProvider, UnencryptedKeyProvider,
};
pub use registry::{DataKeyInfo, DataKeyRegistry};

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use self::ctr::AesKey;
use self::mac::{FileMac, RecordMac};
use crate::error::{Error, Result};

/// The working keys derived from one data key (or, for the key registry
/// itself, from the store key): the CTR key and the two MAC keys.
#[derive(Clone)]
pub(crate) struct FileKeys {
    id: KeyId,
    cipher: Cipher,
    ctr: AesKey,
    mac: RecordMac,
}

impl FileKeys {
    /// Derives the working keys from key bytes with HKDF-SHA256, one label
    /// per purpose, so the CTR key and the MAC keys are independent.
    pub(crate) fn derive(cipher: Cipher, id: KeyId, bytes: &KeyBytes) -> Result<FileKeys> {
        if bytes.len() != cipher.key_len() || !cipher.is_encrypted() {
            return Err(Error::InvalidKey {
                reason: format!(
                    "{cipher} needs a {}-byte key, got {} bytes",
                    cipher.key_len(),
                    bytes.len()
                ),
            });
        }
        let hk = Hkdf::<Sha256>::new(Some(b"sealdb file keys v1"), bytes.expose());
        let mut ctr_key = Zeroizing::new(vec![0u8; cipher.key_len()]);
        let mut mask_key = Zeroizing::new(vec![0u8; cipher.key_len()]);
        let mut h = Zeroizing::new([0u8; 16]);
        let expand = |info: &[u8], out: &mut [u8]| {
            hk.expand(info, out).map_err(|_| Error::InvalidKey {
                reason: "key derivation failed".into(),
            })
        };
        expand(b"ctr", &mut ctr_key)?;
        expand(b"mac-mask", &mut mask_key)?;
        expand(b"mac-hash", &mut h[..])?;
        let bad = || Error::InvalidKey {
            reason: format!("{cipher} key derivation produced a key of the wrong size"),
        };
        let ctr = AesKey::new(cipher, &ctr_key).ok_or_else(bad)?;
        let mask = AesKey::new(cipher, &mask_key).ok_or_else(bad)?;
        Ok(FileKeys {
            id,
            cipher,
            ctr,
            mac: RecordMac::new(&h, mask),
        })
    }

    pub(crate) fn id(&self) -> KeyId {
        self.id
    }

    pub(crate) fn cipher(&self) -> Cipher {
        self.cipher
    }

    pub(crate) fn apply_keystream(&self, iv: u128, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.ctr.apply_keystream(iv, offset, buf)
    }

    pub(crate) fn file_mac(&self, aad: &[u8; 48]) -> FileMac {
        self.mac.for_file(aad)
    }

    pub(crate) fn tag(
        &self,
        file: &FileMac,
        iv: u128,
        offset: u64,
        ct: &[u8],
    ) -> [u8; mac::TAG_LEN] {
        self.mac.tag(file, iv, offset, ct)
    }

    /// See [`RecordMac::stream`].
    pub(crate) fn mac_stream(&self, file: &FileMac, offset: u64, len: u64) -> mac::MacStream {
        self.mac.stream(file, offset, len)
    }

    /// See [`RecordMac::finish`].
    pub(crate) fn mac_finish(
        &self,
        s: mac::MacStream,
        iv: u128,
        offset: u64,
    ) -> Option<[u8; mac::TAG_LEN]> {
        self.mac.finish(s, iv, offset)
    }

    pub(crate) fn verify(
        &self,
        file: &FileMac,
        iv: u128,
        offset: u64,
        ct: &[u8],
        tag: &[u8],
    ) -> bool {
        self.mac.verify(file, iv, offset, ct, tag)
    }

    /// [`Self::verify`] of the ciphertext `a ‖ b`.
    pub(crate) fn verify_parts(
        &self,
        file: &FileMac,
        iv: u128,
        offset: u64,
        a: &[u8],
        b: &[u8],
        tag: &[u8],
    ) -> bool {
        self.mac.verify_parts(file, iv, offset, a, b, tag)
    }
}
