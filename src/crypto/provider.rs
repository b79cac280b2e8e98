//! Key providers: where store keys come from.
//!
//! The application hands sealdb a [`KeyProvider`] when it opens a database.
//! The provider answers two questions: which store key should protect the
//! key registry from now on ([`KeyProvider::active_key`]), and, for data
//! written under an older key, "do you have the key with this id?"
//! ([`KeyProvider::key_by_id`]).
//!
//! Built-in providers:
//!
//! | provider                   | for                                             |
//! |----------------------------|-------------------------------------------------|
//! | [`FileKeyProvider`]        | key files on disk, with an optional old key     |
//! | [`MemoryKeyProvider`]      | keys the app fetched from its own vault or KMS  |
//! | [`CallbackKeyProvider`]    | a function (the C and Python bindings use it)   |
//! | [`UnencryptedKeyProvider`] | no encryption at all: loud, explicit, never a default |
//!
//! | [`PassphraseKeyProvider`](super::passphrase::PassphraseKeyProvider) | a passphrase, stretched with argon2id and a per-store salt |
//!
//! Key file format (docs/file-format.md, "Key files"): 32, 48 or 64 hex
//! digits optionally followed by a newline, exactly what
//! [`generate_key_file`] writes (with permissions 0600). Raw binary keys
//! and text that is not hex (a passphrase) are refused: see
//! [`parse_key_file`].

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::keys::{decode_hex, encode_hex_secret, KeyBytes, KeyId, StoreKey};
use super::passphrase::KeyDerivation;
use crate::error::{Error, Result};

/// What a provider wants new data protected with.
pub enum ActiveStoreKey {
    /// Encrypt under this store key.
    Key(StoreKey),
    /// Do not encrypt. Only [`UnencryptedKeyProvider`] answers this among the
    /// built-in providers; custom providers must choose it explicitly.
    DangerousPlaintext,
}

/// The source of store keys. Implementations must be cheap to call more
/// than once (sealdb asks on open and when it re-checks rotation).
pub trait KeyProvider: Send + Sync {
    /// The key that should protect the key registry from now on.
    fn active_key(&self) -> Result<ActiveStoreKey>;

    /// The key with this id, if the provider has it (the active key or an
    /// older one kept for rotation). `Ok(None)` means "not here"; sealdb then
    /// reports [`Error::KeyUnavailable`] naming the id.
    fn key_by_id(&self, id: &KeyId) -> Result<Option<StoreKey>>;

    /// For providers that derive keys from a passphrase: called once when
    /// a store opens, before any other method, with the store's
    /// key-derivation header (`None` if it has none yet). Returns the
    /// header the store must keep (a new one, with a fresh salt, for a
    /// store without), or `None` for providers that hold keys as they are
    /// (the default).
    fn key_derivation(&self, stored: Option<&KeyDerivation>) -> Result<Option<KeyDerivation>> {
        let _ = stored;
        Ok(None)
    }

    /// The key-derivation header the active key was derived with, for a
    /// provider bound to a passphrase-keyed store (`None` otherwise, the
    /// default). A backup records it so that the store's passphrase alone
    /// unlocks the backup's store-key wrap.
    fn bound_derivation(&self) -> Option<KeyDerivation> {
        None
    }

    /// The keys this provider derives for a store with header `header`,
    /// without binding to it (the current passphrase's first): how a
    /// backup's store-passphrase wrap is opened by a provider made for
    /// another store, or for none. Empty for providers that hold keys as
    /// they are (the default).
    fn derive_for(&self, header: &KeyDerivation) -> Result<Vec<StoreKey>> {
        let _ = header;
        Ok(Vec::new())
    }
}

impl<P: KeyProvider + ?Sized> KeyProvider for Arc<P> {
    fn active_key(&self) -> Result<ActiveStoreKey> {
        (**self).active_key()
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Option<StoreKey>> {
        (**self).key_by_id(id)
    }
    fn key_derivation(&self, stored: Option<&KeyDerivation>) -> Result<Option<KeyDerivation>> {
        (**self).key_derivation(stored)
    }
    fn bound_derivation(&self) -> Option<KeyDerivation> {
        (**self).bound_derivation()
    }
    fn derive_for(&self, header: &KeyDerivation) -> Result<Vec<StoreKey>> {
        (**self).derive_for(header)
    }
}

impl<P: KeyProvider + ?Sized> KeyProvider for Box<P> {
    fn active_key(&self) -> Result<ActiveStoreKey> {
        (**self).active_key()
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Option<StoreKey>> {
        (**self).key_by_id(id)
    }
    fn key_derivation(&self, stored: Option<&KeyDerivation>) -> Result<Option<KeyDerivation>> {
        (**self).key_derivation(stored)
    }
    fn bound_derivation(&self) -> Option<KeyDerivation> {
        (**self).bound_derivation()
    }
    fn derive_for(&self, header: &KeyDerivation) -> Result<Vec<StoreKey>> {
        (**self).derive_for(header)
    }
}

fn lookup(keys: &[&StoreKey], id: &KeyId) -> Option<StoreKey> {
    keys.iter().find(|k| k.id() == *id).map(|k| (*k).clone())
}

/// Keys held in memory: a current key and optionally an old one.
pub struct MemoryKeyProvider {
    current: StoreKey,
    old: Option<StoreKey>,
}

impl MemoryKeyProvider {
    /// A provider with `key` (16, 24 or 32 bytes) as the active store key.
    pub fn new(key: KeyBytes) -> Result<Self> {
        Ok(MemoryKeyProvider {
            current: StoreKey::new(key)?,
            old: None,
        })
    }

    /// Also offers `old` for data written before a rotation.
    pub fn with_old_key(mut self, old: KeyBytes) -> Result<Self> {
        self.old = Some(StoreKey::new(old)?);
        Ok(self)
    }

    /// Id of the active key.
    pub fn key_id(&self) -> KeyId {
        self.current.id()
    }
}

impl KeyProvider for MemoryKeyProvider {
    fn active_key(&self) -> Result<ActiveStoreKey> {
        Ok(ActiveStoreKey::Key(self.current.clone()))
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Option<StoreKey>> {
        let mut keys = vec![&self.current];
        keys.extend(self.old.as_ref());
        Ok(lookup(&keys, id))
    }
}

/// Keys read from key files: the current key and, during a rotation, the
/// old one. Files are read once, when the provider is made.
pub struct FileKeyProvider {
    inner: MemoryKeyProvider,
}

impl FileKeyProvider {
    /// Reads the active store key from `path`.
    pub fn new(path: impl AsRef<Path>) -> Result<Self> {
        Ok(FileKeyProvider {
            inner: MemoryKeyProvider::new(read_key_file(path.as_ref())?)?,
        })
    }

    /// Also reads an old key, needed to open data written before the store
    /// key was rotated (until the registry has been re-encrypted).
    pub fn with_old_key_file(self, path: impl AsRef<Path>) -> Result<Self> {
        Ok(FileKeyProvider {
            inner: self.inner.with_old_key(read_key_file(path.as_ref())?)?,
        })
    }

    /// Id of the active key.
    pub fn key_id(&self) -> KeyId {
        self.inner.key_id()
    }
}

impl KeyProvider for FileKeyProvider {
    fn active_key(&self) -> Result<ActiveStoreKey> {
        self.inner.active_key()
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Option<StoreKey>> {
        self.inner.key_by_id(id)
    }
}

/// Reads and checks a key file: 32, 48 or 64 hex digits, as
/// [`generate_key_file`] writes them (see [`parse_key_file`]).
pub fn read_key_file(path: &Path) -> Result<KeyBytes> {
    let raw = Zeroizing::new(std::fs::read(path).map_err(|e| Error::io("read key file", path, e))?);
    parse_key_file(&raw).map_err(|reason| Error::InvalidKey {
        reason: format!("key file {}: {reason}", path.display()),
    })
}

/// The one key-file format: 32, 48 or 64 hex digits (a 128, 192 or
/// 256-bit key), upper or lower case, optionally followed by a line end.
///
/// Nothing else is a key, on purpose. A file of 16, 24 or 32 printable
/// characters used to be taken as raw key bytes — so a passphrase put in
/// a key file silently became the key, and one from a dictionary falls to
/// a search against the public key id in moments. Such a file, and any
/// raw binary key, is refused with a message saying what to do instead.
pub fn parse_key_file(raw: &[u8]) -> std::result::Result<KeyBytes, String> {
    const EXPECTED: &str = "a key file holds 32, 48 or 64 hex digits (a 128, 192 or 256-bit key, as `sealdb keygen` writes)";
    let text = std::str::from_utf8(raw)
        .ok()
        .map(|t| t.trim_end_matches(['\n', '\r', ' ', '\t']));
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            return Err("the file is empty".into());
        }
        return Err(format!(
            "{} bytes of binary data is not a key file: {EXPECTED}; to use a raw key, write it as hex (for example `xxd -p -c 64`)",
            raw.len()
        ));
    };
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let looks_like_passphrase = text.bytes().all(|b| (0x20..0x7f).contains(&b));
        return Err(if looks_like_passphrase {
            format!(
                "{} characters of text is not a key: {EXPECTED}; a passphrase must go through a key derivation (PassphraseKeyProvider, `--passphrase-file`), never be used as a key",
                text.len()
            )
        } else {
            format!(
                "{} bytes that are not hex digits are not a key file: {EXPECTED}",
                raw.len()
            )
        });
    }
    let bytes = decode_hex(text)
        .ok_or_else(|| format!("{} hex digits is an odd number: {EXPECTED}", text.len()))?;
    match bytes.len() {
        16 | 24 | 32 => Ok(KeyBytes::new(bytes)),
        n => Err(format!(
            "{} hex digits make a {n}-byte key: {EXPECTED}",
            text.len()
        )),
    }
}

/// Writes a new random key of `bits` (128, 192 or 256) to `path` as hex,
/// readable only by the owner. Refuses to overwrite an existing file.
/// Returns the new key's id.
pub fn generate_key_file(path: impl AsRef<Path>, bits: u32) -> Result<KeyId> {
    let path = path.as_ref();
    let len = match bits {
        128 | 192 | 256 => bits as usize / 8,
        _ => {
            return Err(Error::InvalidArgument {
                what: format!("key size must be 128, 192 or 256 bits, not {bits}"),
            })
        }
    };
    let key = KeyBytes::random(len)?;
    let mut text = encode_hex_secret(key.expose());
    text.push('\n');
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Error::io("create key file", path, e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("write key file", path, e))?;
    // Make the new name durable too: a key lost in a crash loses the data.
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("fsync directory of key file", parent, e))?;
    }
    Ok(KeyId::of_key(key.expose()))
}

/// No encryption: files are written in plaintext with CRC32 checksums only.
/// Anyone with the disk can read and alter the data. Use it for tests and
/// for data that is public anyway; switching an encrypted store to it marks
/// its old data keys as exposed.
pub struct UnencryptedKeyProvider {
    old: Vec<StoreKey>,
}

impl UnencryptedKeyProvider {
    /// A provider that turns encryption off. The name is the warning.
    pub fn dangerous_new() -> Self {
        UnencryptedKeyProvider { old: Vec::new() }
    }

    /// Offers an old store key, needed once to read the key registry of a
    /// store that was encrypted before (to decrypt its old data keys).
    pub fn with_old_key(mut self, old: KeyBytes) -> Result<Self> {
        self.old.push(StoreKey::new(old)?);
        Ok(self)
    }
}

impl KeyProvider for UnencryptedKeyProvider {
    fn active_key(&self) -> Result<ActiveStoreKey> {
        Ok(ActiveStoreKey::DangerousPlaintext)
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Option<StoreKey>> {
        Ok(lookup(&self.old.iter().collect::<Vec<_>>(), id))
    }
}

/// What a [`CallbackKeyProvider`]'s function is asked for.
#[derive(Clone, Copy, Debug)]
pub enum KeyRequest<'a> {
    /// The active store key.
    Active,
    /// The key with this id.
    ById(&'a KeyId),
}

type KeyCallback =
    dyn Fn(KeyRequest<'_>) -> std::result::Result<Option<KeyBytes>, String> + Send + Sync;

/// Keys from a function: for a KMS client, or for the C and Python
/// bindings. The function returns the key bytes, `Ok(None)` when it does not
/// have the key, or an error message. Returning `None` for the active key
/// is an error, never plaintext.
pub struct CallbackKeyProvider {
    f: Box<KeyCallback>,
}

impl CallbackKeyProvider {
    /// Wraps `f`.
    pub fn new<F>(f: F) -> Self
    where
        F: Fn(KeyRequest<'_>) -> std::result::Result<Option<KeyBytes>, String>
            + Send
            + Sync
            + 'static,
    {
        CallbackKeyProvider { f: Box::new(f) }
    }

    fn call(&self, req: KeyRequest<'_>) -> Result<Option<StoreKey>> {
        match (self.f)(req) {
            Ok(Some(bytes)) => StoreKey::new(bytes).map(Some),
            Ok(None) => Ok(None),
            Err(message) => Err(Error::KeyProvider { message }),
        }
    }
}

impl KeyProvider for CallbackKeyProvider {
    fn active_key(&self) -> Result<ActiveStoreKey> {
        match self.call(KeyRequest::Active)? {
            Some(k) => Ok(ActiveStoreKey::Key(k)),
            None => Err(Error::KeyProvider {
                message: "the key callback returned no active key".into(),
            }),
        }
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Option<StoreKey>> {
        let key = self.call(KeyRequest::ById(id))?;
        // A callback that answers with some other key is treated as "not found".
        Ok(key.filter(|k| k.id() == *id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_forms() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
        assert_eq!(parse_key_file(hex.as_bytes()).map(|k| k.len()), Ok(32));
        assert_eq!(
            parse_key_file(&hex.as_bytes()[..32]).map(|k| k.len()),
            Ok(16)
        );
        assert_eq!(
            parse_key_file(&hex.as_bytes()[..48]).map(|k| k.len()),
            Ok(24)
        );
        // Raw bytes are refused, printable or not.
        assert!(parse_key_file(&[7u8; 16]).is_err());
        assert!(parse_key_file(&[7u8; 32]).is_err());
        let pass = parse_key_file(b"correct horse battery staple!!!!").err();
        assert!(pass.is_some_and(|e| e.contains("passphrase")));
        assert!(parse_key_file(b"").is_err());
        assert!(parse_key_file(&[1u8; 20]).is_err());
        assert!(parse_key_file(b"0011").is_err());
        // 31 hex digits and a newline is 32 bytes, but it is (bad) hex, not a raw key.
        let mut odd = vec![b'a'; 31];
        odd.push(b'\n');
        assert!(parse_key_file(&odd).is_err());
        assert!(parse_key_file(b"\n\n").is_err());
        assert!(parse_key_file(b"not hex at all, not a key").is_err());
    }

    #[test]
    fn callback_none_for_active_is_an_error_not_plaintext() {
        let p = CallbackKeyProvider::new(|_| Ok(None));
        assert!(matches!(p.active_key(), Err(Error::KeyProvider { .. })));
    }
}
