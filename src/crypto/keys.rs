//! Key material and key identities.
//!
//! Two kinds of keys exist (see DESIGN.md, "Keys"):
//!
//! ```text
//!   store key  (from the application, via KeyProvider)
//!      │ encrypts the key registry, which holds
//!      ▼
//!   data keys  (random, made by sealdb)  ── encrypt every other file
//! ```
//!
//! Invariants:
//! - key bytes live only in [`KeyBytes`] (zeroized on drop, no `Debug`, no
//!   `Display`); nothing here can print or serialize them except the key
//!   registry codec, which only ever writes them into an encrypted file;
//! - a [`KeyId`] is a function of the key bytes (SHA-256 based), so ids need
//!   no bookkeeping and the same key always has the same id. Ids are not
//!   secret: they name a key in headers and error messages.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
pub use crate::key_id::KeyId;

/// Secret key bytes: zeroized on drop, never printed.
pub struct KeyBytes(Zeroizing<Vec<u8>>);

impl KeyBytes {
    /// Wraps bytes that are already in a zeroizing buffer.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        KeyBytes(bytes)
    }

    /// Copies `bytes` into a zeroizing buffer. The caller remains responsible
    /// for wiping its own copy.
    pub fn from_slice(bytes: &[u8]) -> Self {
        KeyBytes(Zeroizing::new(bytes.to_vec()))
    }

    /// Fresh random bytes from the operating system.
    pub(crate) fn random(len: usize) -> Result<Self> {
        let mut v = Zeroizing::new(vec![0u8; len]);
        fill_random(&mut v)?;
        Ok(KeyBytes(v))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of key bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no key bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Clone for KeyBytes {
    fn clone(&self) -> Self {
        KeyBytes(Zeroizing::new(self.0.to_vec()))
    }
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Io {
        op: "read randomness from",
        path: "the operating system".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// The cipher of a file or key. The numbers are the on-disk encoding
/// (frozen, see docs/file-format.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cipher {
    /// No encryption, CRC32 only. Never the default.
    Plaintext = 0,
    /// AES-128 in CTR mode with a POLYVAL-based MAC.
    Aes128Ctr = 1,
    /// AES-192 in CTR mode with a POLYVAL-based MAC.
    Aes192Ctr = 2,
    /// AES-256 in CTR mode with a POLYVAL-based MAC.
    Aes256Ctr = 3,
}

impl Cipher {
    /// The cipher selected by a key of `len` bytes (16, 24 or 32).
    pub fn for_key_len(len: usize) -> Result<Cipher> {
        match len {
            16 => Ok(Cipher::Aes128Ctr),
            24 => Ok(Cipher::Aes192Ctr),
            32 => Ok(Cipher::Aes256Ctr),
            n => Err(Error::InvalidKey {
                reason: format!("a key must be 16, 24 or 32 bytes (AES-128/192/256), not {n}"),
            }),
        }
    }

    /// Decodes the on-disk byte.
    pub fn from_u8(b: u8) -> Option<Cipher> {
        match b {
            0 => Some(Cipher::Plaintext),
            1 => Some(Cipher::Aes128Ctr),
            2 => Some(Cipher::Aes192Ctr),
            3 => Some(Cipher::Aes256Ctr),
            _ => None,
        }
    }

    /// Key length in bytes (0 for plaintext).
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Plaintext => 0,
            Cipher::Aes128Ctr => 16,
            Cipher::Aes192Ctr => 24,
            Cipher::Aes256Ctr => 32,
        }
    }

    /// Whether this cipher encrypts at all.
    pub fn is_encrypted(self) -> bool {
        self != Cipher::Plaintext
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cipher::Plaintext => "plaintext",
            Cipher::Aes128Ctr => "AES-128-CTR",
            Cipher::Aes192Ctr => "AES-192-CTR",
            Cipher::Aes256Ctr => "AES-256-CTR",
        })
    }
}

/// A store key: supplied by the application, it encrypts the key registry.
/// Its size selects the cipher of new data keys.
#[derive(Clone)]
pub struct StoreKey {
    bytes: KeyBytes,
    id: KeyId,
    cipher: Cipher,
}

impl StoreKey {
    /// Checks and wraps key bytes (16, 24 or 32 bytes).
    pub fn new(bytes: KeyBytes) -> Result<StoreKey> {
        let cipher = Cipher::for_key_len(bytes.len())?;
        let id = KeyId::of_key(bytes.expose());
        Ok(StoreKey { bytes, id, cipher })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The cipher this key selects.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    pub(crate) fn bytes(&self) -> &KeyBytes {
        &self.bytes
    }
}

/// Decodes lowercase or uppercase hex; `None` on any other character or an
/// odd length. The output is zeroizing (it may be key material) and
/// allocated once at its final size, so no outgrown copy is left behind.
pub(crate) fn decode_hex(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() / 2));
    for p in s.chunks(2) {
        out.push(nib(p[0])? << 4 | nib(p[1])?);
    }
    Some(out)
}

/// Encodes bytes as lowercase hex into a zeroizing string (used for keys).
pub(crate) fn encode_hex_secret(bytes: &[u8]) -> Zeroizing<String> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = Zeroizing::new(String::with_capacity(bytes.len() * 2));
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_is_stable_and_distinct() {
        let a = KeyId::of_key(&[1u8; 16]);
        assert_eq!(a, KeyId::of_key(&[1u8; 16]));
        assert_ne!(a, KeyId::of_key(&[2u8; 16]));
        assert!(!a.is_plaintext());
        assert_eq!(KeyId::parse_hex(&a.to_string()), Some(a));
    }

    #[test]
    fn key_sizes_select_ciphers() {
        assert_eq!(Cipher::for_key_len(16).ok(), Some(Cipher::Aes128Ctr));
        assert_eq!(Cipher::for_key_len(24).ok(), Some(Cipher::Aes192Ctr));
        assert_eq!(Cipher::for_key_len(32).ok(), Some(Cipher::Aes256Ctr));
        assert!(matches!(
            Cipher::for_key_len(20),
            Err(Error::InvalidKey { .. })
        ));
    }

    #[test]
    fn hex_round_trip() {
        let bytes = [0u8, 1, 0xab, 0xff];
        let s = encode_hex_secret(&bytes);
        assert_eq!(&*s, "0001abff");
        assert_eq!(decode_hex(&s).map(|v| v.to_vec()), Some(bytes.to_vec()));
        assert!(decode_hex("0g").is_none());
        assert!(decode_hex("abc").is_none());
    }
}
