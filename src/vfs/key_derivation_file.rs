//! The `KEYDERIVATION` file: the key registry's plaintext header for
//! stores whose key comes from a passphrase (salt and argon2id cost, see
//! `crypto::passphrase`). Read before the registry (the key must be
//! derived to open it); written once, atomically and durably, when the
//! store starts using a passphrase, and only after the registry was read
//! (or before a new store's first registry is written).

use std::path::Path;

use crate::crypto::passphrase::{KeyDerivation, KEY_DERIVATION_LEN};
use crate::error::{Error, Result};

use super::Vfs;

/// Name of the file.
pub const KEY_DERIVATION_FILE: &str = "KEYDERIVATION";
const TMP: &str = "KEYDERIVATION.tmp";

/// The store's header, `None` if it has none.
pub fn read(vfs: &dyn Vfs, dir: &Path) -> Result<Option<KeyDerivation>> {
    if !vfs.exists(&dir.join(KEY_DERIVATION_FILE))? {
        return Ok(None);
    }
    read_present(vfs, dir)
}

/// [`read`] of a store known to have the file.
pub(crate) fn read_present(vfs: &dyn Vfs, dir: &Path) -> Result<Option<KeyDerivation>> {
    let path = dir.join(KEY_DERIVATION_FILE);
    let f = vfs.open(&path)?;
    let len = f.len().min(KEY_DERIVATION_LEN as u64 + 1) as usize;
    let mut b = vec![0u8; len];
    f.read_exact_at(0, &mut b)?;
    KeyDerivation::decode(&b)
        .map(Some)
        .map_err(|what| Error::corruption(path, 0, format!("key-derivation header: {what}")))
}

/// Stores `h` (temp file, fsync, rename, directory fsync).
pub(crate) fn write(vfs: &dyn Vfs, dir: &Path, h: &KeyDerivation) -> Result<()> {
    let tmp = dir.join(TMP);
    if vfs.exists(&tmp)? {
        vfs.remove(&tmp)?;
    }
    let mut f = vfs.create(&tmp)?;
    f.append(&h.encode())?;
    f.sync()?;
    drop(f);
    vfs.rename(&tmp, &dir.join(KEY_DERIVATION_FILE))?;
    vfs.sync_dir(dir)
}
