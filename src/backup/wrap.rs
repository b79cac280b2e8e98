//! A backup's own data key and the wraps that unlock it.
//!
//! Every backup is encrypted under a fresh random 256-bit data key, never
//! under the store's keys: giving someone a backup and its passphrase
//! gives them that backup, not the store. The data key is stored only
//! wrapped, in `BACKUP-KEYS`, once per way to unlock it:
//!
//! ```text
//!   store-key wrap    sealed under the store key the provider has now
//!                     (the same provider, or one holding that key, unlocks it)
//!   store-passphrase  the same, for a store whose key is derived from a
//!   wrap              passphrase: it also records the store's salt and
//!                     argon2id cost, so the store's passphrase alone
//!                     unlocks it, away from the store
//!   passphrase wrap   sealed under argon2id(passphrase, salt, m, t, p)
//! ```
//!
//! A wrap is a sealed file image (the ordinary 64-byte header and one
//! record, kind `Backup`) whose header names the wrapping key by id and
//! whose record holds `"SEALBDK1" | backup id [16] | data key [32]`
//! (a store-passphrase wrap adds the store's key-derivation header [44],
//! so an edited salt or cost is refused even by a key found by its id);
//! the record's MAC makes a wrap under a wrong key or an edited wrap fail
//! to open. Several wraps may coexist, so a backup survives the loss of
//! one key. `BACKUP-KEYS` itself is not secret and has no MAC of its own
//! (it must be read before any key is known): a changed salt or cost only
//! derives a key that opens nothing, and a wrap taken from another backup
//! unlocks a key whose id is not the one the backup manifest is sealed
//! under.
//!
//! ```text
//!   BACKUP-KEYS = "SEALBKEY" | u16 version = 1 | u16 count
//!                 | count × ( u8 kind
//!                             | kind 2: u32 memory KiB | u32 iterations
//!                               | u32 parallelism | salt [16]
//!                             | kind 3: the store's key-derivation
//!                               header [44] (as in its KEYDERIVATION)
//!                             | u32 blob length | blob )
//!                 | u32 crc32 of everything before
//!   kind 1 = store key, 2 = passphrase (argon2id v0x13),
//!   3 = store key derived from the store's passphrase (added after the
//!       first backups: older readers refuse it as an unknown kind, and
//!       backups made before it have kind 1 for every store)
//! ```
//!
//! The id of a passphrase-derived key is in the wrap's header: testing a
//! guessed passphrase against it costs one argon2id run, the same as
//! testing it against the MAC, which is the point of argon2id.

use std::path::Path;
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use parking_lot::Mutex;
use zeroize::Zeroizing;

use crate::crypto::keys::fill_random;
use crate::crypto::passphrase::KEY_DERIVATION_LEN;
use crate::crypto::{
    ActiveStoreKey, Cipher, FileKeys, KeyBytes, KeyDerivation, KeyId, KeyProvider, StoreKey,
};
use crate::error::{Error, Result};
use crate::vfs::{FileKind, ReadFile, SealedReader, SealedWriter, WriteFile};

use super::BackupKeys;

/// Name of the key-wrap file in a backup directory.
pub const KEYS_FILE: &str = "BACKUP-KEYS";

const MAGIC: &[u8; 8] = b"SEALBKEY";
const VERSION: u16 = 1;
const WRAPPED_MAGIC: &[u8; 8] = b"SEALBDK1";
const KIND_STORE_KEY: u8 = 1;
const KIND_PASSPHRASE: u8 = 2;
const KIND_STORE_PASSPHRASE: u8 = 3;
const SALT_LEN: usize = 16;
/// Bytes of a backup data key (AES-256).
const DATA_KEY_LEN: usize = 32;
/// A blob is one header and one record of 8 + 16 + 32 payload bytes; a
/// few times that is room for any later framing, and nothing more.
const MAX_BLOB: usize = 1024;
/// Largest cost accepted from a file: 4 GiB of memory, 64 passes, 64 lanes
/// (a tampered file must not make an unlock run for hours).
const MAX_MEMORY_KIB: u32 = 4 << 20;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 64;

/// The cost of the argon2id derivation of a passphrase wrap's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB (default 65536: 64 MiB, RFC 9106's second option).
    pub memory_kib: u32,
    /// Passes over memory (default 3).
    pub iterations: u32,
    /// Lanes (default 1).
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
    /// The cheapest cost argon2 allows: for tests only. A backup wrapped
    /// with it falls to a dictionary attack at once.
    pub fn dangerous_minimal() -> Self {
        KdfParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn derive(&self, passphrase: &[u8], salt: &[u8]) -> Result<KeyBytes> {
        if self.memory_kib > MAX_MEMORY_KIB
            || self.iterations > MAX_ITERATIONS
            || self.parallelism > MAX_PARALLELISM
        {
            return Err(Error::InvalidArgument {
                what: format!("passphrase wrap cost out of range: {self}"),
            });
        }
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(DATA_KEY_LEN),
        )
        .map_err(|e| Error::InvalidArgument {
            what: format!("passphrase wrap cost: {e}"),
        })?;
        let mut out = Zeroizing::new(vec![0u8; DATA_KEY_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, &mut out)
            .map_err(|e| Error::InvalidArgument {
                what: format!("passphrase wrap derivation: {e}"),
            })?;
        Ok(KeyBytes::new(out))
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

/// A backup's data key: secret, no `Debug`.
pub(crate) struct DataKey {
    id: KeyId,
    bytes: KeyBytes,
    keys: Arc<FileKeys>,
}

impl DataKey {
    pub(crate) fn random() -> Result<DataKey> {
        DataKey::from_bytes(KeyBytes::random(DATA_KEY_LEN)?)
    }

    fn from_bytes(bytes: KeyBytes) -> Result<DataKey> {
        let id = KeyId::of_key(bytes.expose());
        let keys = Arc::new(FileKeys::derive(Cipher::Aes256Ctr, id, &bytes)?);
        Ok(DataKey { id, bytes, keys })
    }

    pub(crate) fn id(&self) -> KeyId {
        self.id
    }

    pub(crate) fn keys(&self) -> Arc<FileKeys> {
        self.keys.clone()
    }
}

/// How one wrap is unlocked (public facts only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WrapKind {
    /// Sealed under the store key with this id.
    StoreKey {
        /// The store key's id.
        key_id: KeyId,
    },
    /// Sealed under a key derived from a passphrase.
    Passphrase {
        /// The argon2id cost.
        params: KdfParams,
    },
    /// Sealed under the store key with this id, which the store derives
    /// from its passphrase with the salt and cost recorded beside the wrap.
    StorePassphrase {
        /// The store key's id.
        key_id: KeyId,
        /// The store's argon2id cost.
        params: crate::crypto::KdfParams,
    },
}

impl std::fmt::Display for WrapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WrapKind::StoreKey { key_id } => write!(f, "store key {key_id}"),
            WrapKind::Passphrase { params } => write!(f, "passphrase ({params})"),
            WrapKind::StorePassphrase { key_id, params } => {
                write!(f, "store passphrase (store key {key_id}, {params})")
            }
        }
    }
}

/// One wrap as stored.
pub(crate) struct Wrap {
    pub(crate) kind: WrapKind,
    salt: [u8; SALT_LEN],
    /// The store's key-derivation header, for a store-passphrase wrap.
    derivation: Option<KeyDerivation>,
    blob: Vec<u8>,
}

/// Seals the wrapped payload under `keys` into an in-memory sealed file;
/// `derivation` (a store-passphrase wrap's header) is sealed with it.
fn seal_blob(
    keys: Arc<FileKeys>,
    backup_id: &[u8; 16],
    dk: &DataKey,
    derivation: Option<&KeyDerivation>,
) -> Result<Vec<u8>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let file = Box::new(VecFile(buf.clone()));
    let mut w = SealedWriter::create(file, KEYS_FILE.into(), FileKind::Backup, Some(keys))?;
    let mut payload = Zeroizing::new(Vec::with_capacity(8 + 16 + DATA_KEY_LEN));
    payload.extend_from_slice(WRAPPED_MAGIC);
    payload.extend_from_slice(backup_id);
    payload.extend_from_slice(dk.bytes.expose());
    if let Some(h) = derivation {
        payload.extend_from_slice(&h.encode());
    }
    w.append_record(&payload)?;
    w.flush()?;
    drop(w);
    let blob = std::mem::take(&mut *buf.lock());
    Ok(blob)
}

impl Wrap {
    /// Wraps `dk` under the provider's active store key; for a key derived
    /// from a passphrase, a store-passphrase wrap recording the store's
    /// key-derivation header.
    pub(crate) fn with_store_key(
        dk: &DataKey,
        backup_id: &[u8; 16],
        provider: &dyn KeyProvider,
    ) -> Result<Wrap> {
        let ActiveStoreKey::Key(sk) = provider.active_key()? else {
            return Err(Error::InvalidArgument {
                what: "the store is unencrypted, so it has no store key to wrap the backup key with; give a passphrase".into(),
            });
        };
        let keys = Arc::new(FileKeys::derive(sk.cipher(), sk.id(), sk.bytes())?);
        let derivation = provider.bound_derivation();
        let kind = match &derivation {
            Some(h) => WrapKind::StorePassphrase {
                key_id: sk.id(),
                params: h.params,
            },
            None => WrapKind::StoreKey { key_id: sk.id() },
        };
        Ok(Wrap {
            kind,
            salt: [0; SALT_LEN],
            blob: seal_blob(keys, backup_id, dk, derivation.as_ref())?,
            derivation,
        })
    }

    /// Wraps `dk` under a key derived from `passphrase`.
    pub(crate) fn with_passphrase(
        dk: &DataKey,
        backup_id: &[u8; 16],
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<Wrap> {
        if passphrase.is_empty() {
            return Err(Error::InvalidArgument {
                what: "the backup passphrase is empty".into(),
            });
        }
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        let kek = params.derive(passphrase, &salt)?;
        let id = KeyId::of_key(kek.expose());
        let keys = Arc::new(FileKeys::derive(Cipher::Aes256Ctr, id, &kek)?);
        Ok(Wrap {
            kind: WrapKind::Passphrase { params },
            salt,
            derivation: None,
            blob: seal_blob(keys, backup_id, dk, None)?,
        })
    }

    /// Opens this wrap with `keys`: the data key and the backup id it was
    /// made for, or why it does not open (for the error listing every wrap).
    fn open(
        &self,
        keys: &BackupKeys,
        path: &Path,
    ) -> std::result::Result<(DataKey, [u8; 16]), String> {
        let file: Arc<dyn ReadFile> = Arc::new(VecRead(self.blob.clone()));
        let kek: Arc<FileKeys> = match &self.kind {
            WrapKind::StoreKey { key_id } => {
                let Some(provider) = &keys.provider else {
                    return Err("no key provider given".into());
                };
                let found = match provider.active_key() {
                    Ok(ActiveStoreKey::Key(k)) if k.id() == *key_id => Some(k),
                    _ => provider.key_by_id(key_id).map_err(|e| e.to_string())?,
                };
                let Some(sk) = found else {
                    return Err("the key provider does not have this key".into());
                };
                Arc::new(
                    FileKeys::derive(sk.cipher(), sk.id(), sk.bytes())
                        .map_err(|e| e.to_string())?,
                )
            }
            WrapKind::Passphrase { params } => {
                let Some(pass) = &keys.passphrase else {
                    return Err("no passphrase given".into());
                };
                let kek = params.derive(pass, &self.salt).map_err(|e| e.to_string())?;
                let id = KeyId::of_key(kek.expose());
                Arc::new(FileKeys::derive(Cipher::Aes256Ctr, id, &kek).map_err(|e| e.to_string())?)
            }
            WrapKind::StorePassphrase { key_id, .. } => {
                let sk = self.store_passphrase_key(keys, key_id)?;
                Arc::new(
                    FileKeys::derive(sk.cipher(), sk.id(), sk.bytes())
                        .map_err(|e| e.to_string())?,
                )
            }
        };
        let damaged = || "the wrap is damaged or was altered".to_string();
        let reader = SealedReader::open(file, path.to_path_buf(), FileKind::Backup, |h| {
            if h.key_id != kek.id() {
                return Err(Error::KeyUnavailable { key_id: h.key_id });
            }
            Ok(Some(kek.clone()))
        })
        .map_err(|e| match (&self.kind, e) {
            (WrapKind::Passphrase { .. }, Error::KeyUnavailable { .. }) => {
                "wrong passphrase".to_string()
            }
            (_, Error::KeyUnavailable { .. }) => "the wrap names another key".to_string(),
            _ => damaged(),
        })?;
        let (payload, next) = reader.read_record(0).ok().flatten().ok_or_else(damaged)?;
        let payload = Zeroizing::new(payload);
        let bound = self.derivation.as_ref().map(|h| h.encode());
        let end = 8 + 16 + DATA_KEY_LEN;
        if next != reader.body_len()
            || payload.len() != end + bound.map_or(0, |b| b.len())
            || &payload[..8] != WRAPPED_MAGIC
            || bound.is_some_and(|b| payload[end..] != b[..])
        {
            return Err(damaged());
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&payload[8..24]);
        let dk = DataKey::from_bytes(KeyBytes::from_slice(&payload[24..end]))
            .map_err(|e| e.to_string())?;
        Ok((dk, id))
    }

    /// The store key `key_id` of a store-passphrase wrap: held by the
    /// provider (the open store's), derived by it from the recorded header
    /// (a passphrase provider made for another store, or for none), or
    /// derived from the given passphrase.
    fn store_passphrase_key(
        &self,
        keys: &BackupKeys,
        key_id: &KeyId,
    ) -> std::result::Result<StoreKey, String> {
        let Some(h) = &self.derivation else {
            return Err("the wrap has no key-derivation header".into());
        };
        if keys.provider.is_none() && keys.passphrase.is_none() {
            return Err("no store passphrase or key provider given".into());
        }
        if let Some(provider) = &keys.provider {
            if let Ok(Some(k)) = provider.key_by_id(key_id) {
                return Ok(k);
            }
            let derived = provider.derive_for(h).map_err(|e| e.to_string())?;
            if let Some(k) = derived.into_iter().find(|k| k.id() == *key_id) {
                return Ok(k);
            }
        }
        if let Some(pass) = &keys.passphrase {
            let k = h.derive(pass).map_err(|e| e.to_string())?;
            if k.id() == *key_id {
                return Ok(k);
            }
        }
        Err("wrong store passphrase (the key provider and the passphrase given do not derive this store key)".into())
    }
}

/// Encodes the wraps as the `BACKUP-KEYS` file.
pub(crate) fn encode(wraps: &[Wrap]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(wraps.len() as u16).to_le_bytes());
    for w in wraps {
        match &w.kind {
            WrapKind::StoreKey { .. } => out.push(KIND_STORE_KEY),
            WrapKind::Passphrase { params } => {
                out.push(KIND_PASSPHRASE);
                out.extend_from_slice(&params.memory_kib.to_le_bytes());
                out.extend_from_slice(&params.iterations.to_le_bytes());
                out.extend_from_slice(&params.parallelism.to_le_bytes());
                out.extend_from_slice(&w.salt);
            }
            WrapKind::StorePassphrase { .. } => {
                out.push(KIND_STORE_PASSPHRASE);
                if let Some(h) = &w.derivation {
                    out.extend_from_slice(&h.encode());
                }
            }
        }
        out.extend_from_slice(&(w.blob.len() as u32).to_le_bytes());
        out.extend_from_slice(&w.blob);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Parses a `BACKUP-KEYS` file (`path` names it in errors).
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Vec<Wrap>> {
    let bad = |at: usize, what: &str| Error::corruption(path, at as u64, what);
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(bad(0, "not a backup key-wrap file"));
    }
    let body = &bytes[..bytes.len() - 4];
    let crc = u32::from_le_bytes([
        bytes[bytes.len() - 4],
        bytes[bytes.len() - 3],
        bytes[bytes.len() - 2],
        bytes[bytes.len() - 1],
    ]);
    if crc32fast::hash(body) != crc {
        return Err(bad(bytes.len() - 4, "key-wrap file checksum mismatch"));
    }
    let mut pos = 8;
    let take = |pos: &mut usize, n: usize| -> Result<&[u8]> {
        let s = body
            .get(*pos..*pos + n)
            .ok_or_else(|| bad(*pos, "key-wrap file ends early"))?;
        *pos += n;
        Ok(s)
    };
    let u32_at = |pos: &mut usize| -> Result<u32> {
        let b = take(pos, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let version = u16::from_le_bytes([body[8], body[9]]);
    if version != VERSION {
        return Err(bad(8, &format!("unsupported key-wrap version {version}")));
    }
    let count = u16::from_le_bytes([body[10], body[11]]) as usize;
    pos += 4;
    let mut wraps = Vec::with_capacity(count);
    for _ in 0..count {
        let at = pos;
        let kind = take(&mut pos, 1)?[0];
        let mut derivation = None;
        let (kind, salt) = match kind {
            KIND_STORE_KEY => (
                WrapKind::StoreKey {
                    key_id: KeyId::PLAINTEXT,
                },
                [0; SALT_LEN],
            ),
            KIND_STORE_PASSPHRASE => {
                let h = KeyDerivation::decode(take(&mut pos, KEY_DERIVATION_LEN)?)
                    .map_err(|e| bad(at + 1, &format!("store key-derivation header: {e}")))?;
                let p = h.params;
                if p.memory_kib > MAX_MEMORY_KIB
                    || p.iterations > MAX_ITERATIONS
                    || p.parallelism > MAX_PARALLELISM
                {
                    return Err(bad(
                        at + 1,
                        &format!("store key derivation cost out of range: {p}"),
                    ));
                }
                let kind = WrapKind::StorePassphrase {
                    key_id: KeyId::PLAINTEXT,
                    params: p,
                };
                derivation = Some(h);
                (kind, [0; SALT_LEN])
            }
            KIND_PASSPHRASE => {
                let params = KdfParams {
                    memory_kib: u32_at(&mut pos)?,
                    iterations: u32_at(&mut pos)?,
                    parallelism: u32_at(&mut pos)?,
                };
                let mut salt = [0u8; SALT_LEN];
                salt.copy_from_slice(take(&mut pos, SALT_LEN)?);
                (WrapKind::Passphrase { params }, salt)
            }
            _ => return Err(bad(at, "unknown key-wrap kind")),
        };
        let len = u32_at(&mut pos)? as usize;
        if len > MAX_BLOB {
            return Err(bad(pos, "key wrap too long"));
        }
        let blob = take(&mut pos, len)?.to_vec();
        let header = crate::vfs::FileHeader::decode(&blob, path)?;
        if header.kind != FileKind::Backup || !header.cipher.is_encrypted() {
            return Err(bad(at, "a key wrap is not an encrypted backup record"));
        }
        let kind = match kind {
            WrapKind::StoreKey { .. } => WrapKind::StoreKey {
                key_id: header.key_id,
            },
            WrapKind::StorePassphrase { params, .. } => WrapKind::StorePassphrase {
                key_id: header.key_id,
                params,
            },
            k => k,
        };
        wraps.push(Wrap {
            kind,
            salt,
            derivation,
            blob,
        });
    }
    if pos != body.len() {
        return Err(bad(pos, "unexpected bytes after the key wraps"));
    }
    if wraps.is_empty() {
        return Err(bad(10, "the backup has no key wraps"));
    }
    Ok(wraps)
}

/// Opens the first wrap that `keys` unlocks; the error names every wrap
/// and why it did not open. Returns the data key and the backup id the
/// wrap was made for.
pub(crate) fn unlock(wraps: &[Wrap], keys: &BackupKeys, dir: &Path) -> Result<(DataKey, [u8; 16])> {
    let path = dir.join(KEYS_FILE);
    let mut tried = Vec::new();
    for (i, w) in wraps.iter().enumerate() {
        match w.open(keys, &path) {
            Ok(found) => return Ok(found),
            Err(why) => tried.push(format!("wrap {} ({}): {why}", i + 1, w.kind)),
        }
    }
    Err(Error::BackupKey {
        path: dir.to_path_buf(),
        tried: tried.join("; "),
    })
}

/// A sealed file being written into memory.
struct VecFile(Arc<Mutex<Vec<u8>>>);

impl WriteFile for VecFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.0.lock().extend_from_slice(data);
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
    fn len(&self) -> u64 {
        self.0.lock().len() as u64
    }
}

/// A sealed file read from memory.
struct VecRead(Vec<u8>);

impl ReadFile for VecRead {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|e| self.0.get(start..e))
        {
            Some(s) => {
                buf.copy_from_slice(s);
                Ok(())
            }
            None => Err(Error::Truncated {
                file: KEYS_FILE.into(),
                offset,
                needed: buf.len() as u64,
                len: self.0.len() as u64,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MemoryKeyProvider;

    fn keys() -> (DataKey, Vec<Wrap>, Arc<dyn KeyProvider>) {
        let provider: Arc<dyn KeyProvider> =
            Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[9u8; 32])).expect("key"));
        let dk = DataKey::random().expect("random");
        let wraps = vec![
            Wrap::with_store_key(&dk, &[1; 16], &*provider).expect("wrap"),
            Wrap::with_passphrase(&dk, &[1; 16], b"pass", KdfParams::dangerous_minimal())
                .expect("wrap"),
        ];
        (dk, wraps, provider)
    }

    #[test]
    fn wraps_round_trip_and_every_damage_is_refused() {
        let (dk, wraps, provider) = keys();
        let bytes = encode(&wraps);
        let path = Path::new("BACKUP-KEYS");
        let back = decode(&bytes, path).expect("decode");
        assert_eq!(back.len(), 2);
        let by_pass = BackupKeys {
            passphrase: Some(Zeroizing::new(b"pass".to_vec())),
            provider: None,
        };
        let by_key = BackupKeys {
            passphrase: None,
            provider: Some(provider),
        };
        for k in [&by_pass, &by_key] {
            let (got, id) = unlock(&back, k, Path::new("b")).expect("unlock");
            assert_eq!(got.id(), dk.id());
            assert_eq!(id, [1; 16]);
        }
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], path).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            // Caught by the CRC, or (with the CRC fixed) by the wrap's MAC.
            assert!(decode(&b, path).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn a_store_passphrase_wrap_opens_by_the_passphrase_alone_and_refuses_edits() {
        use crate::crypto::PassphraseKeyProvider;
        let cheap = crate::crypto::KdfParams::dangerous_minimal();
        let bound = PassphraseKeyProvider::new("store pass")
            .expect("provider")
            .with_params(cheap);
        bound.key_derivation(None).expect("bind");
        let dk = DataKey::random().expect("random");
        let w = Wrap::with_store_key(&dk, &[2; 16], &bound).expect("wrap");
        assert!(
            matches!(w.kind, WrapKind::StorePassphrase { .. }),
            "{}",
            w.kind
        );
        let bytes = encode(&[w]);
        let path = Path::new("BACKUP-KEYS");
        let back = decode(&bytes, path).expect("decode");
        let shown = back[0].kind.to_string();
        assert!(
            shown.starts_with("store passphrase (store key ") && shown.contains("m=8 KiB"),
            "{shown}"
        );
        let fresh = || -> Arc<dyn KeyProvider> {
            Arc::new(
                PassphraseKeyProvider::new("store pass")
                    .expect("p")
                    .with_params(cheap),
            )
        };
        let ways = [
            BackupKeys::passphrase("store pass"),
            BackupKeys::provider(fresh()),
            BackupKeys::provider(Arc::new(bound)),
        ];
        for k in &ways {
            let (got, id) = unlock(&back, k, Path::new("b")).expect("unlock");
            assert_eq!((got.id(), id), (dk.id(), [2; 16]));
        }
        let err = match unlock(&back, &BackupKeys::passphrase("wrong"), Path::new("b")) {
            Err(Error::BackupKey { tried, .. }) => tried,
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a wrong passphrase unlocked the wrap"),
        };
        assert!(
            err.contains("wrap 1 (store passphrase") && err.contains("wrong store passphrase"),
            "{err}"
        );
        // The salt, cost and CRCs edited together (what no CRC catches):
        // the passphrase derives another key, and a key found by its id
        // sees the header differ from the one sealed with the data key.
        let salt_at = 8 + 2 + 2 + 1 + 24;
        for at in [salt_at, 8 + 2 + 2 + 1 + 16] {
            let mut b = bytes.clone();
            b[at] ^= 0x02;
            let hdr = 8 + 2 + 2 + 1;
            let crc = crc32fast::hash(&b[hdr..hdr + 40]);
            b[hdr + 40..hdr + 44].copy_from_slice(&crc.to_le_bytes());
            let n = b.len() - 4;
            let crc = crc32fast::hash(&b[..n]);
            b[n..].copy_from_slice(&crc.to_le_bytes());
            let edited = decode(&b, path).expect("both CRCs fixed");
            for k in &ways[..2] {
                assert!(
                    matches!(
                        unlock(&edited, k, Path::new("b")),
                        Err(Error::BackupKey { .. })
                    ),
                    "edit at {at}"
                );
            }
            let by_id = BackupKeys::provider(ways[2].provider.clone().expect("p"));
            match unlock(&edited, &by_id, Path::new("b")) {
                Err(Error::BackupKey { tried, .. }) => {
                    assert!(tried.contains("damaged or was altered"), "{tried}")
                }
                Err(e) => panic!("{e}"),
                Ok(_) => panic!("an edited header was accepted (edit at {at})"),
            }
        }
        // An absurd cost in the header is refused before any derivation.
        let mut b = bytes.clone();
        let hdr = 8 + 2 + 2 + 1;
        b[hdr + 12..hdr + 16].copy_from_slice(&u32::MAX.to_le_bytes());
        let crc = crc32fast::hash(&b[hdr..hdr + 40]);
        b[hdr + 40..hdr + 44].copy_from_slice(&crc.to_le_bytes());
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
        assert!(decode(&b, path).is_err());
    }

    #[test]
    fn an_absurd_cost_is_refused_before_any_work() {
        let p = KdfParams {
            memory_kib: u32::MAX,
            iterations: 1,
            parallelism: 1,
        };
        assert!(matches!(
            p.derive(b"x", &[0; 16]),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
